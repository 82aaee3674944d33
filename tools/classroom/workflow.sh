#!/bin/sh
# workflow.sh: writes GitHub Classroom's autograding workflow for the stages under tests/:
# one step a stage, `make grade STAGE=NN ISOLATE=1`, worth the stage's points (GitHub
# Classroom gives a step all its points or none). Run from the top of the repository.
set -eu
stages=$(cd tests && ls -d [0-9][0-9]-* | tr '\n' ' ')

cat <<'YAML'
# Written by tools/classroom/workflow.sh (make release): GitHub Classroom's autograding.
name: Autograding Tests
'on':
- push
- workflow_dispatch
- repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    steps:
    - name: Checkout code
      uses: actions/checkout@v4
    - name: Install what the course needs
      run: sudo apt-get update -q && sudo tools/setup.sh && make build/tools/reaper
YAML
runners=""
for stage in $stages; do
	n=${stage%%-*}
	points=$(tools/grade.sh --list --stage "$n" | awk 'NR > 1 { sum += $2 } END { print sum + 0 }')
	cat <<YAML
    - name: $stage
      id: stage-$n
      uses: classroom-resources/autograding-command-grader@v1
      with:
        test-name: $stage
        setup-command: ''
        command: make grade STAGE=$n ISOLATE=1
        timeout: 10
        max-score: $points
YAML
	runners="$runners${runners:+,}stage-$n"
done
cat <<YAML
    - name: Autograding Reporter
      uses: classroom-resources/autograding-grading-reporter@v1
      env:
YAML
for stage in $stages; do
	n=${stage%%-*}
	echo "        STAGE-${n}_RESULTS: \"\${{steps.stage-$n.outputs.result}}\""
done
cat <<YAML
      with:
        runners: $runners
YAML
