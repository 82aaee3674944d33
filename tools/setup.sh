#!/bin/sh
# Installs what the course needs to build, test and grade, from Debian's packages.
# Run by the Makefile before anything else; does nothing when all is already here.
#   tools/setup.sh          check, and install what is missing (as root, or through sudo)
#   tools/setup.sh --check  only report what is missing; exit 1 if anything is
#   tools/setup.sh fuzz     the same, with what `make fuzz` needs as well (clang, libFuzzer)
#   tools/setup.sh pictures the same, with Graphviz for `make pictures`
#   tools/setup.sh browser  the same, with Chromium for `make screenshots`
set -u

check_only=false fuzz=false pictures=false browser=false
for arg in "$@"; do
	case "$arg" in
	--check) check_only=true ;;
	fuzz) fuzz=true ;;
	pictures) pictures=true ;;
	browser) browser=true ;;
	*) echo "usage: tools/setup.sh [--check] [fuzz] [pictures] [browser]" >&2; exit 2 ;;
	esac
done

# One line per need: the command or pkg-config module that proves it is here, then the package.
# rt:NAME is one of clang's runtime libraries, which come with neither (tools/fuzz.sh needs libFuzzer's).
needs='
cc:gcc
make:make
pkg-config:pkg-config
pc:criterion:libcriterion-dev
pc:libcrypto:libssl-dev
valgrind:valgrind
doxygen:doxygen
'
# Only for the fuzzers: a learner who never runs `make fuzz` need not install clang.
if $fuzz; then
	needs="$needs
clang:clang
rt:fuzzer:libclang-rt-dev
"
fi

# Only for the authors' commands that redraw the pictures or look at the site.
if $pictures; then
	needs="$needs
dot:graphviz
"
fi
if $browser; then
	needs="$needs
chromium:chromium
"
fi

missing=""
for need in $needs; do
	case "$need" in
	pc:*)	module=${need#pc:}; module=${module%%:*}
		pkg-config --exists "$module" 2>/dev/null || missing="$missing ${need##*:}" ;;
	rt:*)	lib=${need#rt:}; lib=${lib%%:*}
		# clang names the full path of a runtime library it has, and only the bare name of one it lacks.
		case $(clang -print-file-name="libclang_rt.$lib-$(uname -m).a" 2>/dev/null) in
		/*) ;;
		*) missing="$missing ${need##*:}" ;;
		esac ;;
	*)	cmd=${need%%:*}
		command -v "$cmd" >/dev/null 2>&1 || missing="$missing ${need##*:}" ;;
	esac
done
# pkg-config itself may be missing, in which case the Criterion check above failed for that reason:
# installing both is right either way.

[ -z "$missing" ] && exit 0

echo "setup: missing Debian packages:$missing" >&2
$check_only && exit 1

if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	sudo="sudo -n"
else
	echo "setup: cannot install them without root. Run this once, then try again:" >&2
	echo "    sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi

echo "setup: installing them with apt-get (one time only)" >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists of a fresh machine may be empty or stale: refresh them first.
$sudo apt-get update -qq >&2 &&
$sudo apt-get install -y -qq --no-install-recommends $missing >&2 || {
	echo "setup: apt-get failed; the command to run by hand is:" >&2
	echo "    sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
}
