#!/bin/sh
# hints.sh [STAGE...]: the TODOs left in the exercises, each with its hint, file by file in the
# order the lesson's "The exercise, step by step" names the files (the order to write them in);
# files it does not name come last. Run by `make hints`.
set -u
cd "$(dirname "$0")/.."
left=0
for stage in "$@"; do
	lesson=lessons/$stage.md
	# Each file with the line where the steps first name it (9999 if they never do), in that order.
	for f in exercises/"$stage"/*.c; do
		[ -f "$f" ] || continue
		name=$(basename "$f")
		# A numbered step ("**2. ...") that names the file counts before a passing mention.
		at=$(awk -v name="$name" '/^## /{ steps = ($0 == "## The exercise, step by step") }
			steps && /^\*\*[0-9]+\./ && index($0, name) && !step { step = NR }
			steps && index($0, name) && !any { any = NR + 5000 }
			END { print step ? step : any ? any : 9999 }' "$lesson" 2>/dev/null)
		echo "${at:-9999} $f"
	done | sort -n | while read -r _ f; do
		grep -n -A12 'TODO: your code goes here' "$f" | sed -n '/TODO: your code goes here/,/\*\//p' | sed "s|^|$f:|"
	done
done | grep . && exit 0
echo "No TODO left in ${*:-any stage}: every stub is filled in."
