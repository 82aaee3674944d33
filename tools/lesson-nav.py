#!/usr/bin/env python3
"""lesson-nav.py --into DIR | --check: the way around the lessons in the docs site.

    tools/lesson-nav.py --into build/docs/src   copies of the lessons, with their navigation,
                                                for Doxygen to read (make docs)
    tools/lesson-nav.py --check                 fail if a test or a hint names a section
                                                that its lesson does not have (make docs)

In each copy: under the title, links to the course and to the lessons before and after it,
and a table of contents; at the end, the previous / next links again; before each "## "
heading, an anchor named after the section ("## Reaping: wait and zombies" is
#s01-reaping-wait-and-zombies in lesson 01), which the grader's "Read: ..., section ..."
points at. The lessons themselves stay plain Markdown: GitHub makes its own anchors and
contents for them, and nothing here can drift from them, since it is made from them at
every build.
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
    if sys.argv[1:2] == ["--check"]:
        into = None
    elif sys.argv[1:2] == ["--into"] and len(sys.argv) == 3:
        into = sys.argv[2]
    else:
        sys.exit("usage: tools/lesson-nav.py --into DIR | --check")
    lessons = sorted(glob.glob(os.path.join(ROOT, "lessons", "[0-9][0-9]-*.md")))
    names = [os.path.basename(p)[:-3] for p in lessons]
    sections = {}
    for k, path in enumerate(lessons):
        with open(path) as f:
            text = f.read()
        sections[names[k][:2]] = {t for _, t in headings(text.split("\n"))}
        if into:
            os.makedirs(os.path.join(into, "lessons"), exist_ok=True)
            with open(os.path.join(into, "lessons", names[k] + ".md"), "w") as f:
                f.write(with_nav(names[k][:2], text, names[k - 1] if k else None,
                                 names[k + 1] if k + 1 < len(names) else None))
    if into:
        print(f"lesson-nav: {len(lessons)} lessons, with their navigation, in {into}/lessons")
        return
    bad = dangling_references(sections)
    for b in bad:
        print(f"lesson-nav: {b}")
    if bad:
        sys.exit(f"lesson-nav: {len(bad)} reference(s) to sections that do not exist")
    print(f"lesson-nav: every section a test or a hint names is in its lesson")


if __name__ == "__main__":
    main()
