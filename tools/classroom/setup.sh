#!/bin/sh
# Gradescope's setup.sh: runs once, as root, when the autograder image is built.
# It installs what grading needs (the course's own set-up step) and builds the grader.
set -eu
cd /autograder/source
apt-get update -q
tools/setup.sh
make --no-print-directory build/tools/reaper
