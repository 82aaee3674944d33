#!/usr/bin/env python3
"""check.py: run the classroom files as Gradescope and GitHub Classroom would, in a scratch folder.

    tools/classroom/check.py build/gradescope.zip     (make check-classroom)

Gradescope: the autograder zip is unpacked as /autograder/source would be, a submission is put
where /autograder/submission would be, and run_autograder must write a results.json that gives
the reference solutions full marks and an untouched submission zero. GitHub Classroom: each step
of the workflow written into the learner's copy is run as its grader would run it, and must pass
with the reference solutions in exercises/ and fail with the exercises as shipped.
"""
import json
import os
import shutil
import subprocess
import sys
import zipfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRATCH = os.path.join(ROOT, "build", "classroom-check")
failures = []


def say(ok, what):
    print(f"check-classroom: {'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        failures.append(what)


def unpack(zip_path, dest):
    shutil.rmtree(dest, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(dest)
    for name in ("run_autograder", "setup.sh"):  # zipfile drops the execute bits
        os.chmod(os.path.join(dest, name), 0o755)
    for dirpath, _, files in os.walk(os.path.join(dest, "tools")):
        for f in files:
            if f.endswith(".sh") or f in ("check.py", "workflow.sh", "mutate.py"):
                os.chmod(os.path.join(dirpath, f), 0o755)


def with_solutions(exercises):
    """Put the reference solutions in place of an exercises/ folder (as a student who finished)."""
    for stage in os.listdir(os.path.join(ROOT, "solutions")):
        for f in os.listdir(os.path.join(ROOT, "solutions", stage)):
            shutil.copy(os.path.join(ROOT, "solutions", stage, f), os.path.join(exercises, stage, f))


def gradescope(zip_path):
    autograder = os.path.join(SCRATCH, "autograder")
    source = os.path.join(autograder, "source")
    for finished in (True, False):
        unpack(zip_path, source)  # afresh for each submission, as each runs in a new container
        submission = os.path.join(autograder, "submission")
        shutil.rmtree(submission, ignore_errors=True)
        shutil.copytree(os.path.join(source, "exercises"), os.path.join(submission, "exercises"))
        if finished:
            with_solutions(os.path.join(submission, "exercises"))
        shutil.rmtree(os.path.join(autograder, "results"), ignore_errors=True)
        env = dict(os.environ, AUTOGRADER=autograder)
        subprocess.run([os.path.join(source, "run_autograder")], cwd=source, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with open(os.path.join(autograder, "results", "results.json")) as f:
                results = json.load(f)
        except (OSError, ValueError) as e:
            say(False, f"gradescope: run_autograder wrote no readable results.json ({e})")
            continue
        possible = sum(t["max_score"] for t in results.get("tests", []))
        want = possible if finished else 0
        held = sum(t.get("visibility") == "after_due_date" for t in results.get("tests", []))
        say(possible > 0 and results["score"] == want,
            f"gradescope: {'the reference' if finished else 'an untouched submission'} scores "
            f"{results['score']} of {possible} (expected {want}; {len(results.get('tests', []))} tests, "
            f"{held} held back)")
    say(subprocess.run(["sh", "-n", os.path.join(source, "setup.sh")]).returncode == 0,
        "gradescope: setup.sh is a valid shell script")
    # The reference's source must not be in the autograder, where a student's code could read it.
    say(not os.path.exists(os.path.join(source, "solutions")), "gradescope: the zip holds no solutions/")


def github(zip_path):
    copy = os.path.join(SCRATCH, "github")
    unpack(zip_path, copy)
    with open(os.path.join(copy, ".github", "workflows", "classroom.yml")) as f:
        steps = yaml.safe_load(f)["jobs"]["run-autograding-tests"]["steps"]
    graders = [s for s in steps if "command" in s.get("with", {})]
    say(len(graders) == len([d for d in os.listdir(os.path.join(ROOT, "tests")) if d[:2].isdigit()]),
        f"github: the workflow has one grading step a stage ({len(graders)})")
    for finished in (False, True):
        if finished:
            with_solutions(os.path.join(copy, "exercises"))
        for step in graders:
            rc = subprocess.run(step["with"]["command"], shell=True, cwd=copy, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=60 * step["with"]["timeout"]).returncode
            say((rc == 0) == finished, f"github: `{step['with']['command']}` exits {rc} with "
                f"{'the reference' if finished else 'the untouched exercises'}")


def main():
    zip_path = sys.argv[1]
    os.makedirs(SCRATCH, exist_ok=True)
    gradescope(zip_path)
    github(zip_path)
    shutil.rmtree(SCRATCH, ignore_errors=True)
    if failures:
        sys.exit(f"check-classroom: {len(failures)} check(s) failed")
    print("check-classroom: the Gradescope and GitHub Classroom files grade as they should")


if __name__ == "__main__":
    main()
