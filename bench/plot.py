#!/usr/bin/env python3
"""plot.py RATIOS.tsv OUT.svg: the benchmark ratios that have a goal, as one bar chart.

Each line of RATIOS.tsv (written by bench/run.sh) is "stage, figure, ratio, goal", where goal
is ">=X" (higher is better) or "<=X" (lower is better). Each figure is drawn as a bar on a
log scale, with its goal as a tick: green where the goal is met, red where it is missed.
Plain SVG from the standard library, so that `make bench` needs nothing more than Python.
"""
import math
import sys
from xml.sax.saxutils import escape

ROW, LABEL_W, BAR_W, LEFT_PAD = 26, 430, 520, 10
LO, HI = 0.1, 1000.0  # the log scale's ends: every figure so far falls between


def x_of(value):
    value = min(max(value, LO), HI)
    return LABEL_W + BAR_W * (math.log10(value) - math.log10(LO)) / (math.log10(HI) - math.log10(LO))


def main():
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            stage, label, ratio, goal = line.rstrip("\n").split("\t")
            rows.append((stage, label, float(ratio), goal))
    height = ROW * (len(rows) + 3)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_W + BAR_W + 80}" height="{height}" '
           'font-family="Helvetica, sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{LEFT_PAD}" y="18" font-size="14">Benchmark ratios and their goals (log scale; '
           'one run on this machine)</text>']
    for tick in (0.1, 1, 10, 100, 1000):
        x = x_of(tick)
        out.append(f'<line x1="{x:.1f}" y1="28" x2="{x:.1f}" y2="{height - ROW}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="#555">{tick:g}x</text>')
    for i, (stage, label, ratio, goal) in enumerate(rows):
        y = 34 + i * ROW
        want = float(goal[2:])
        met = ratio >= want if goal.startswith(">=") else ratio <= want
        colour = "#4a9d5b" if met else "#c94a4a"
        out.append(f'<text x="{LEFT_PAD}" y="{y + 15}">{escape(stage)}: {escape(label)}</text>')
        out.append(f'<rect x="{LABEL_W}" y="{y + 3}" width="{x_of(ratio) - LABEL_W:.1f}" height="16" '
                   f'fill="{colour}"/>')
        out.append(f'<line x1="{x_of(want):.1f}" y1="{y}" x2="{x_of(want):.1f}" y2="{y + 22}" '
                   'stroke="black" stroke-width="2"/>')
        out.append(f'<text x="{x_of(ratio) + 4:.1f}" y="{y + 15}">{ratio:.2f}x (goal {escape(goal)})</text>')
    out.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
