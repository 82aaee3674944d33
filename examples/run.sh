#!/bin/sh
# examples/run.sh: build each example against the library, run it and its Python twin,
# and check that the two say the same. Run by `make examples`.
#
# Each examples/NN-stage/NAME.c has a NAME.py beside it: the Python program a tutorial
# shows, and its C twin. Their outputs are compared after the parts that vary from run to
# run are made uniform (times, process numbers, the result of a race shown on purpose)
# and the lines sorted (processes print in the order the scheduler picks). Without
# python3 the C programs still build and run, and the comparison is skipped, saying so.
#
# A program that needs arguments (a server) has a NAME.sh beside it instead of a twin:
# it is built as build/examples/NAME, a tool of its own, and the script, given its
# path, runs it the way it is meant to be used.
set -u
cd "$(dirname "$0")/.."

CC=${CC:-cc}
PYTHON=${PYTHON:-python3}
LIB=build/solutions/lib/libmp.a
out=build/examples
mkdir -p "$out"
libs="$(pkg-config --libs libcrypto) -lm"

if command -v "$PYTHON" >/dev/null 2>&1; then have_python=1; else have_python=0
	echo "examples: $PYTHON not found: the C programs run, but nothing is compared with Python"
fi

# What varies from run to run, made the same on both sides.
uniform() {
	sed -E -e 's/[0-9]+(\.[0-9]+)?(e-?[0-9]+)? (s|seconds)\b/T \3/g' \
		-e 's/Process-[0-9]+/Process-N/g' \
		-e 's/^without a lock: .*/without a lock: (varies)/' | LC_ALL=C sort
}

failed=0 ran=0
for src in examples/[0-9]*/*.c; do
	name=$(basename "$src" .c)
	stage=$(basename "$(dirname "$src")")
	bin=$out/$stage-$name
	script=${src%.c}.sh
	[ -f "$script" ] && bin=$out/$name
	ran=$((ran + 1))
	# shellcheck disable=SC2086 # $libs is a list of flags
	if ! $CC -O2 -g -std=c11 -Wall -Wextra -Werror -Iinclude -o "$bin" "$src" "$LIB" $libs; then
		echo "examples: FAIL $src does not build"
		failed=$((failed + 1))
		continue
	fi
	if [ -f "$script" ]; then
		if ! PYTHON=$PYTHON timeout 120 sh "$script" "$bin" >"$bin.out" 2>"$bin.err"; then
			echo "examples: FAIL $script exited with an error:"
			sed 's/^/    /' "$bin.out" "$bin.err"
			failed=$((failed + 1))
			continue
		fi
		echo "examples: ok   $script runs $bin"
		sed 's/^/    /' "$bin.out" | head -n 12
		continue
	fi
	if ! timeout 60 "$bin" >"$bin.out" 2>"$bin.err"; then
		echo "examples: FAIL $src exited with an error:"
		sed 's/^/    /' "$bin.err"
		failed=$((failed + 1))
		continue
	fi
	py=${src%.c}.py
	if [ "$have_python" = 1 ] && [ -f "$py" ]; then
		if ! timeout 120 "$PYTHON" "$py" >"$bin.py.out" 2>"$bin.py.err"; then
			echo "examples: FAIL $py exited with an error:"
			sed 's/^/    /' "$bin.py.err"
			failed=$((failed + 1))
			continue
		fi
		uniform <"$bin.py.out" >"$bin.want"
		if ! uniform <"$bin.out" | diff -u "$bin.want" - >"$bin.diff"; then
			echo "examples: FAIL $src does not say what $py says:"
			sed 's/^/    /' "$bin.diff"
			failed=$((failed + 1))
			continue
		fi
		echo "examples: ok   $src says what $py says"
	else
		echo "examples: ok   $src runs (no Python twin compared)"
	fi
	sed 's/^/    /' "$bin.out" | head -n 12
	# Where the program times itself, Python's figures beside ours.
	[ "$have_python" = 1 ] && [ -f "$bin.py.out" ] && grep -E '[0-9] (s|seconds)$' "$bin.py.out" | sed 's/^/    python: /'
done
echo "examples: $((ran - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
