#!/bin/sh
# tools/fuzz.sh [SECONDS]: fuzz stage 03's frame decoder and handshake, and stage 06's pickle decoder, with libFuzzer, SECONDS each (default 30).
# The lists of flags below are split into words on purpose, where they are used.
# shellcheck disable=SC2086
set -eu

seconds=${1:-30}
case "$seconds" in
'' | *[!0-9]*) echo "usage: tools/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
out=build/fuzz
cc=${FUZZ_CC:-clang}

# libFuzzer comes with clang only, and its runtime in a package of its own (tools/setup.sh).
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz: $cc not found: run 'make setup' (or tools/setup.sh) first" >&2
	exit 1
fi

# The same sanitizers everywhere, so that ASan sees the library's buffers as well as
# the harness's; UB aborts at once instead of printing and going on.
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cflags="-O1 -g -std=c11 -Wall -Wextra -Iinclude"

# Our own objects, not the Makefile's: those are built with gcc and without
# coverage. fuzzer-no-link instruments the library for coverage without a main().
mkdir -p "$out/obj"
rm -f "$out"/obj/*.o "$out/libmp-fuzz.a"
for src in solutions/01-process/*.c solutions/03-pipe/*.c solutions/06-manager/*.c; do
	obj=$out/obj/$(basename "$(dirname "$src")")-$(basename "$src" .c).o
	$cc $cflags $san -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
done
# An archive, so the link takes only the objects the harnesses reach.
ar rcs "$out/libmp-fuzz.a" "$out"/obj/*.o

libs="$(pkg-config --libs libcrypto) -lm -pthread"
for name in frame handshake pickle; do
	# fuzz_frame's own malloc() stands in for the library's (see BIG in fuzz_frame.c);
	# fuzz_pickle's checks the size of every allocation the decoder makes (ALLOWED in fuzz_pickle.c).
	wrap=""
	[ "$name" = frame ] && wrap="-Wl,--wrap=malloc"
	[ "$name" = pickle ] && wrap="-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc"
	# -Isolutions/03-pipe: the handshake's functions are internal (auth.h).
	$cc $cflags -Isolutions/03-pipe $san -fsanitize=fuzzer "fuzz/fuzz_$name.c" \
		"$out/libmp-fuzz.a" $libs $wrap -o "$out/fuzz_$name"
done

status=0
for name in frame handshake pickle; do
	corpus=$out/corpus-$name
	findings=$out/findings-$name
	log=$out/fuzz_$name.log
	# The corpus lives on in build/: each run starts where the last one got to.
	mkdir -p "$corpus" "$findings"
	cp fuzz/corpus/$name/* "$corpus/"
	echo "fuzz: fuzz_$name for $seconds s (log: $log)"
	if UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}" \
		"$out/fuzz_$name" -max_total_time="$seconds" -timeout=5 -print_final_stats=1 \
		-artifact_prefix="$findings/" "$corpus" >"$log" 2>&1; then
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" | sed 's/^/  /'
		grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | sed 's/^/  /' || true
	else
		status=1
		# libFuzzer names the input that failed; it is the reproducer.
		unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		grep -E 'fuzz_(frame|handshake|pickle): |ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" \
			| head -n 5 | sed 's/^/  /'
		if [ -n "$unit" ]; then
			echo "fuzz: fuzz_$name found a problem; reproducer: $unit"
			echo "      run it again with: $out/fuzz_$name $unit"
		else
			tail -n 20 "$log" | sed 's/^/  /'
			echo "fuzz: fuzz_$name failed without a reproducer: see $log"
		fi
	fi
done
exit $status
