#!/usr/bin/env python3
"""lesson-nav.py [--check]: the way around each lesson, made from the lessons themselves.

    tools/lesson-nav.py          remake it in every lessons/NN-*.md (make lessons-nav)
    tools/lesson-nav.py --check  fail if a lesson's is missing or out of date (make docs runs this),
                                 or if a test or a hint names a section its lesson does not have

Each lesson gets, under its title, links to the course and to the lessons before and after
it, and a table of contents; at its end, the previous / next links again; and before each
"## " section heading, an anchor named after the section ("## Reaping: wait and zombies" is
#s01-reaping-wait-and-zombies in lesson 01). Plain Markdown and HTML anchors: the same links work on GitHub
and in the Doxygen site, and the grader's "Read: ..., section ..." points at these anchors.
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOP, TOP_END = "<!-- nav: made by tools/lesson-nav.py -->", "<!-- /nav -->"
END, END_END = "<!-- nav-end: made by tools/lesson-nav.py -->", "<!-- /nav-end -->"
ANCHOR = re.compile(r'^<a name="s[0-9][0-9]-[a-z0-9-]+"></a>$')


def slug(stage, title):
    """The anchor of a section: "s", the stage's number, then the title's words (tools/grade.sh
    computes the same). The number keeps it unique in the site: Doxygen's anchors are global."""
    return "s" + stage + "-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def strip_nav(lines):
    """The lesson without what this tool adds."""
    out, skipping = [], None
    for line in lines:
        if skipping:
            if line == skipping:
                skipping = None
            continue
        if line in (TOP, END):
            skipping = TOP_END if line == TOP else END_END
            if out and out[-1] == "":
                out.pop()  # the blank line put before the block
            continue
        if ANCHOR.match(line):
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return out


def headings(lines):
    """The "## " headings outside code fences, as (index, title)."""
    found, fence = [], False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fence = not fence
        elif not fence and line.startswith("## "):
            found.append((i, line[3:].strip()))
    return found


def links(prev, nxt):
    parts = ["[The course](../README.md)"]
    if prev:
        parts.append(f"Previous: [{prev}]({prev}.md)")
    if nxt:
        parts.append(f"Next: [{nxt}]({nxt}.md)")
    return " · ".join(parts)


def with_nav(stage, text, prev, nxt):
    lines = strip_nav(text.split("\n"))
    secs = headings(lines)
    title = next(i for i, line in enumerate(lines) if line.startswith("# "))
    out = []
    for i, line in enumerate(lines):
        if any(i == h for h, _ in secs):
            if out and out[-1] != "":
                out.append("")
            out.append(f'<a name="{slug(stage, line[3:].strip())}"></a>')
        out.append(line)
        if i == title:
            out += ["", TOP, links(prev, nxt), ""]
            out += [f"- [{t}](#{slug(stage, t)})" for _, t in secs]
            out.append(TOP_END)
    out += ["", END, links(prev, nxt), END_END, ""]
    return "\n".join(out)


MP_TEST = re.compile(r'MP_TEST\(\s*\w+\s*,\s*\w+\s*,\s*[0-9.]+\s*,\s*"([^"]+)"')
HINT = re.compile(r'Lesson (\d\d),\s*(?:\*\s*)?"([^"]+)"')


def dangling_references(sections):
    """Sections named by a test (MP_TEST's title) or a hint ('Lesson 01, "Title"') that the
    lesson does not have: the grader and the exercises would send the learner nowhere."""
    bad = []
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "[0-9][0-9]-*", "*.c"))):
        stage = os.path.basename(os.path.dirname(path))[:2]
        with open(path) as f:
            for title in MP_TEST.findall(f.read()):
                if title not in sections.get(stage, ()):
                    bad.append(f"{os.path.relpath(path, ROOT)}: a test names \"{title}\", not a section of lesson {stage}")
    for path in sorted(glob.glob(os.path.join(ROOT, "solutions", "*", "*.[ch]"))):
        with open(path) as f:
            for stage, title in HINT.findall(f.read()):
                title = re.sub(r"\s*\n\s*\*\s*", " ", title)  # a title that wraps in a comment
                if title not in sections.get(stage, ()):
                    bad.append(f"{os.path.relpath(path, ROOT)}: a hint names \"{title}\", not a section of lesson {stage}")
    return bad


def main():
    check = "--check" in sys.argv[1:]
    lessons = sorted(glob.glob(os.path.join(ROOT, "lessons", "[0-9][0-9]-*.md")))
    names = [os.path.basename(p)[:-3] for p in lessons]
    stale, sections = [], {}
    for k, path in enumerate(lessons):
        with open(path) as f:
            text = f.read()
        sections[names[k][:2]] = {t for _, t in headings(text.split("\n"))}
        want = with_nav(names[k][:2], text, names[k - 1] if k else None, names[k + 1] if k + 1 < len(names) else None)
        if want != text:
            stale.append(os.path.relpath(path, ROOT))
            if not check:
                with open(path, "w") as f:
                    f.write(want)
    bad = dangling_references(sections) if check else []
    for b in bad:
        print(f"lesson-nav: {b}")
    if check and stale:
        sys.exit(f"lesson-nav: out of date in {', '.join(stale)}: run make lessons-nav")
    if bad:
        sys.exit(f"lesson-nav: {len(bad)} reference(s) to sections that do not exist")
    print(f"lesson-nav: {len(lessons)} lessons" + (" up to date" if check else f", {len(stale)} remade"))


if __name__ == "__main__":
    main()
