#!/usr/bin/env python3
"""mutate.py: the course's mutation test. Do a stage's tests catch wrong code?

    tools/mutate.py --stage 01 [--seed 1] [--max 300] [--file process.c] [--rerun]
    make mutate STAGE=01 [SEED=1] [MUTANTS=300]

It plants one small bug at a time (a mutant) in a stage's solution files, in a
scratch copy of the repository (build/mutate/NN/tree), builds that stage's tests
against it and runs them. A mutant is killed when a test fails, crashes or times
out; it survives when every test still passes. A mutant that does not compile
counts for nothing. The score is killed / (killed + survived).

The mutations are the bugs a learner makes by a slip of the hand:
  cmp     a comparison flipped or moved by one (== !=, < >=, <= >, < <=, ...)
  logic   && and || swapped, a ! removed
  arith   + and -, ++ and --, += and -= swapped
  const   an integer literal changed (n becomes n + 1; 1 becomes 0), but not where no program
          could tell (a declared array size, an index under sizeof, an enumerator's value)
  bool    true and false swapped
  return  a return value changed (0 becomes -1; anything else becomes 0)
  call    a call statement deleted (but not free(), munmap(), a destructor named *_free(),
          *_unref() or *_destroy(), or va_end() (glibc's pthread_mutex_destroy() and gcc's
          va_end() on x86-64 free nothing at all),
          or a VALGRIND_ client request: a leak of memory, or memory valgrind was told about,
          is what `make memcheck` finds, not the tests)

Every mutant is one change on one line, outside comments, strings,
preprocessor lines and _Static_assert (checked when compiling: a mutant there
either fails to compile or changes nothing the program does). A line whose
comment says "speed only" gets no mutants either: it decides how fast the code
goes, never what it does (how long a thread looks for news before it sleeps,
say), so its mutants are `make bench`'s to find, not the tests'. The summary
counts the mutants so left out, and the report names their lines: keep such
lines few, and each one's every mutant truly unobservable but by a clock. With more candidates than --max, a sample of --max is drawn
with --seed, so a run can be repeated exactly. The report, with the diff of
every survivor, is build/mutate/NN/report.txt; --rerun tests again only the
survivors of the last run (after new tests were written, say).

Runs are serialised machine-wide (a lock in /tmp): two at once on two cores
would only make tests time out and count as kills they did not earn.

This is a measure for the course's authors, not part of CI.
"""

import argparse
import difflib
import fcntl
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---- finding the code in a C file ---------------------------------------------------------------


def code_mask(text):
    """A list, one bool a character: True where the character is code, not a comment or literal."""
    mask = [True] * len(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
        elif c in "\"'":
            end = i + 1
            while end < n and text[end] != c:
                end += 2 if text[end] == "\\" else 1
            end += 1
        else:
            i += 1
            continue
        for k in range(i, min(end, n)):
            mask[k] = False
        i = end
    return mask


# Operators and their replacements, longest first so that "<=" is not read as "<".
CMP = {"==": ["!="], "!=": ["=="], "<=": [">", "<"], ">=": ["<", ">"], "<": [">=", "<="], ">": ["<=", ">="]}
LOGIC = {"&&": ["||"], "||": ["&&"]}
ARITH = {"++": ["--"], "--": ["++"], "+=": ["-="], "-=": ["+="]}
TOKEN = re.compile(r"==|!=|<=|>=|&&|\|\||\+\+|--|\+=|-=|->|<<|>>|[<>]|\b\d+\b|\btrue\b|\bfalse\b|!(?!=)|[-+](?=[ \w(])")
KEYWORDS = {"return", "if", "while", "for", "switch", "sizeof", "else", "do", "case", "goto", "break", "continue"}
NOT_DELETED = {"free", "munmap", "va_end"}
NOT_DELETED_PREFIX = "VALGRIND_"
NOT_DELETED_SUFFIXES = ("_free", "_unref", "_destroy")
CALL_STMT = re.compile(r"^\s*(\(void\)\s*)?([A-Za-z_]\w*)\s*\(.*\)\s*;\s*$")
RETURN = re.compile(r"^(\s*return\s+)(.+?)(\s*;\s*)$")


class Mutant:
    def __init__(self, path, line_no, kind, old, new):
        self.path, self.line_no, self.kind, self.old, self.new = path, line_no, kind, old, new

    def key(self):
        """What --rerun finds a survivor by: its file and the line's text before and after, not
        its number, so that an edit elsewhere in the file (which moves it) does not lose it."""
        return f"{self.path}:{self.kind}:{self.old.strip()}:{self.new.strip()}"

    def diff(self):
        return "".join(difflib.unified_diff([self.old], [self.new], f"a/{self.path}", f"b/{self.path}",
                                            lineterm="\n", n=0)).replace("@@ -1 +1 @@", f"@@ line {self.line_no} @@")


DECLARED_SIZE = re.compile(r"(\b([A-Za-z_]\w*)|,)\s+\**[A-Za-z_]\w*\s*\[[^\]=;]*$")
SIZEOF_INDEX = re.compile(r"sizeof\s*\(?\s*[\w.>-]+\s*\[\s*$")
ENUMERATOR = re.compile(r"^\s*(typedef\s+)?(enum\b.*|[A-Z][A-Z0-9_]*\s*=\s*[-\d]+\s*,?\s*(/[*/].*)?)$")


def in_declared_size(line, start):
    """Whether @start lies in the size of an array being declared: "char name[MAX + 1]"."""
    m = DECLARED_SIZE.search(line[:start])
    return bool(m and m.group(2) not in KEYWORDS and line.lstrip()[:1].isalpha())


def is_equivalent_literal(line, start):
    """Literals whose change no test can see, because the program cannot either: the size in
    "int a, fds[2]" or "char name[MAX + 1]" (a parameter's size is not even used; a field's, in
    memory the tests cannot watch), the index in "sizeof fds[0]", and an
    enumerator's value (both sides of every message are built from the same enum)."""
    if in_declared_size(line, start):
        return True
    return bool(SIZEOF_INDEX.search(line[:start]) or ENUMERATOR.match(line))


def mutants_of_line(path, no, line, code):
    """Every mutant of one line; @code tells which characters are code."""
    stripped = line.strip()
    if not stripped or stripped.startswith(("#", "_Static_assert")) or not any(code):
        return []
    out = []

    def replace(start, end, repl, kind):
        out.append(Mutant(path, no, kind, line, line[:start] + repl + line[end:]))

    for m in TOKEN.finditer(line):
        start, end, tok = m.start(), m.end(), m.group()
        if not all(code[start:end]):
            continue
        if tok in CMP:
            # "<" and ">" also open and close #include names and casts: only in an expression.
            if tok in "<>" and (line[end:end + 1] in "<>=" or line[start - 1:start] in "<>-"):
                continue
            for r in CMP[tok]:
                replace(start, end, r, "cmp")
        elif tok in LOGIC:
            for r in LOGIC[tok]:
                replace(start, end, r, "logic")
        elif tok in ARITH:
            for r in ARITH[tok]:
                replace(start, end, r, "arith")
        elif tok in ("+", "-"):
            # A binary + or -: something to its left that ends an operand (not in a declared size).
            left = line[:start].rstrip()
            if left and (left[-1].isalnum() or left[-1] in ")]_") and not in_declared_size(line, start):
                replace(start, end, "-" if tok == "+" else "+", "arith")
        elif tok == "!":
            replace(start, end, "", "logic")
        elif tok in ("true", "false"):
            replace(start, end, "false" if tok == "true" else "true", "bool")
        elif tok.isdigit():
            if is_equivalent_literal(line, start) or line[start - 1:start] == "." or line[end:end + 1] in ".xX":
                continue  # a size, a float, or a hex literal's 0
            if re.search(r"(^|[^-])[<>]=?\s*$", line[:start]):
                continue  # "n < 0" becoming "n < 1" is "n <= 0", which cmp already makes
            value = int(tok)
            replace(start, end, str(0 if value == 1 else value + 1), "const")

    r = RETURN.match(line)
    if r and all(code[r.start(2):r.end(2)]):
        value = r.group(2)
        if value == "0":
            out.append(Mutant(path, no, "return", line, r.group(1) + "-1" + r.group(3)))
        elif value not in ("NULL", "false", "true") and not value.startswith("("):
            out.append(Mutant(path, no, "return", line, r.group(1) + "0" + r.group(3)))

    c = CALL_STMT.match(line)
    if (c and c.group(2) not in KEYWORDS and c.group(2) not in NOT_DELETED
            and not c.group(2).startswith(NOT_DELETED_PREFIX) and not c.group(2).endswith(NOT_DELETED_SUFFIXES)
            and all(code[c.start(2):len(line.rstrip())])):
        depth = 0
        for ch in line:
            depth += (ch == "(") - (ch == ")")
            if depth < 0:
                break
        if depth == 0:
            indent = line[:len(line) - len(line.lstrip())]
            out.append(Mutant(path, no, "call", line, indent + ";\n"))
    unique = {}
    for m in out:
        unique.setdefault(m.new, m)  # two ways to the same line are one mutant
    return list(unique.values())


SPEED_ONLY = re.compile(r"/[*/][^\n]*\bspeed only\b")


def mutants_of_file(path):
    """The file's mutants, and those left out on lines marked "speed only"."""
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    mask = code_mask(text)
    out, speed_only, offset = [], [], 0
    for no, line in enumerate(text.splitlines(keepends=True), 1):
        mutants = mutants_of_line(path, no, line, mask[offset:offset + len(line)])
        (speed_only if SPEED_ONLY.search(line) else out).extend(mutants)
        offset += len(line)
    return out, speed_only


# ---- building and running -----------------------------------------------------------------------


def run(cmd, cwd, timeout=None):
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, errors="replace")


def copy_tree(dest):
    """The repository as it is now (tracked and new files), without build outputs."""
    files = run(["git", "ls-files", "-co", "--exclude-standard"], ROOT).stdout.split("\n")
    shutil.rmtree(dest, ignore_errors=True)
    for rel in filter(None, files):
        src = os.path.join(ROOT, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel))


def build(tree, stage):
    return run(["make", "--no-print-directory", f"build/solutions/tests/{stage}", "build/tools/reaper"], tree)


def tests_pass(tree, stage, limit):
    """True if every test of the stage passes; a failure, crash or time-out is False."""
    cmd = ["build/tools/reaper", "-t", str(int(limit)), "--", f"build/solutions/tests/{stage}", "--fail-fast", "-j2"]
    return run(cmd, tree).returncode == 0


def remove_orphan_blocks():
    """A mutant can stop a test before it unlinks its shared memory: remove blocks whose
    maker (the pid in "mp-PID-...") is gone, so that a long run does not fill /dev/shm."""
    for name in os.listdir("/dev/shm"):
        m = re.match(r"mp-(\d+)-", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            try:
                os.unlink(os.path.join("/dev/shm", name))
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", required=True, help="01, 1 or 01-process")
    ap.add_argument("--seed", type=int, default=1, help="the sample drawn when there are more than --max")
    ap.add_argument("--max", type=int, default=300, help="at most this many mutants (default 300)")
    ap.add_argument("--file", action="append", default=[], help="only this solution file (repeatable)")
    ap.add_argument("--rerun", action="store_true", help="only the survivors of the last run")
    args = ap.parse_args()

    want = args.stage.zfill(2) if args.stage.isdigit() else args.stage
    stages = sorted(d for d in os.listdir(os.path.join(ROOT, "tests")) if re.match(r"\d\d-", d))
    matches = [s for s in stages if s == want or s.startswith(want + "-")]
    if len(matches) != 1:
        sys.exit(f"mutate: --stage {args.stage} names no stage: one of {' '.join(stages)}")
    stage = matches[0]
    work = os.path.join(ROOT, "build", "mutate", stage)
    tree = os.path.join(work, "tree")
    os.makedirs(work, exist_ok=True)

    lock = open("/tmp/mp-mutate.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("mutate: another mutation run holds /tmp/mp-mutate.lock; waiting for it", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)

    sources = sorted(f"solutions/{stage}/{f}" for f in os.listdir(os.path.join(ROOT, "solutions", stage))
                     if f.endswith(".c") and (not args.file or f in args.file))
    candidates, speed_only = [], []
    for path in sources:
        made, left_out = mutants_of_file(path)
        candidates += made
        speed_only += left_out
    survivors_file = os.path.join(work, "survivors.json")
    if args.rerun:
        with open(survivors_file) as f:
            saved = json.load(f)
        # Each survivor once: the same change to the same text may be a candidate on several lines, so
        # take the one nearest the line it survived on (an edit elsewhere may have moved it).
        chosen = []
        for entry in saved:
            key, line = (entry, 0) if isinstance(entry, str) else (entry["key"], entry["line"])
            same = [m for m in candidates if m.key() == key and m not in chosen]
            if same:
                chosen.append(min(same, key=lambda m: abs(m.line_no - line)))
        chosen.sort(key=lambda m: (m.path, m.line_no))
        gone = len(saved) - len(chosen)
        if gone:
            print(f"mutate: {gone} survivors of the last run no longer apply (their lines changed)")
    else:
        chosen = candidates
        if len(candidates) > args.max:
            chosen = random.Random(args.seed).sample(candidates, args.max)
            chosen.sort(key=lambda m: (m.path, m.line_no))

    print(f"mutate: {stage}: copying the repository to {os.path.relpath(tree, ROOT)} and building it", flush=True)
    copy_tree(tree)
    b = build(tree, stage)
    if b.returncode != 0:
        sys.exit("mutate: the unmutated tree does not build:\n" + b.stdout[-3000:])
    began = time.monotonic()
    if not tests_pass(tree, stage, 300):
        sys.exit(f"mutate: the unmutated tests of {stage} fail: fix them first (make test STAGE={stage[:2]})")
    limit = max(60, 4 * (time.monotonic() - began))

    killed, survived, broken = [], [], []
    for i, m in enumerate(chosen, 1):
        target = os.path.join(tree, m.path)
        with open(target) as f:
            original = f.read()
        lines = original.splitlines(keepends=True)
        lines[m.line_no - 1] = m.new
        with open(target, "w") as f:
            f.write("".join(lines))
        try:
            if build(tree, stage).returncode != 0:
                broken.append(m)
                verdict = "does not compile"
            elif tests_pass(tree, stage, limit):
                survived.append(m)
                verdict = "SURVIVED"
            else:
                killed.append(m)
                verdict = "killed"
        finally:
            with open(target, "w") as f:
                f.write(original)
            remove_orphan_blocks()
        print(f"[{i}/{len(chosen)}] {m.path}:{m.line_no} {m.kind}: {verdict}", flush=True)
    build(tree, stage)  # leave the scratch tree as the repository is

    scored = len(killed) + len(survived)
    score = 100.0 * len(killed) / scored if scored else 100.0
    sample = f"{len(chosen)} of {len(candidates)} candidates" + (f", seed {args.seed}" if not args.rerun else ", survivors of the last run")
    summary = (f"{stage}: {len(killed)} killed, {len(survived)} survived, {len(broken)} did not compile "
               f"({sample}): {score:.1f}% of the mutants that compile are killed")
    lines = sorted({(m.path, m.line_no) for m in speed_only})
    left_out = (f"{len(speed_only)} mutants on {len(lines)} lines marked \"speed only\" were not made: "
                + ", ".join(f"{os.path.basename(p)}:{n}" for p, n in lines)) if lines else ""
    report = [summary] + ([left_out] if left_out else []) + [""]
    for m in survived:
        report += [f"survivor: {m.path}:{m.line_no} ({m.kind})", m.diff()]
    with open(os.path.join(work, "report.txt"), "w") as f:
        f.write("\n".join(report) + "\n")
    with open(survivors_file, "w") as f:
        json.dump([{"key": m.key(), "line": m.line_no} for m in survived], f, indent=0)
    print()
    for m in survived:
        print(f"survivor: {m.path}:{m.line_no} ({m.kind})\n{m.diff()}")
    print(summary)
    if left_out:
        print(left_out)
    print(f"report: {os.path.relpath(os.path.join(work, 'report.txt'), ROOT)}")


if __name__ == "__main__":
    main()
