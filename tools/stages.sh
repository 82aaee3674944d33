# stages.sh: which stages a command works on; sourced by grade.sh and memcheck.sh, from the repository root.
#
# select_stages NAME ARG: sets $stages to the stage directories under tests/ that ARG names
# ("01", "1" or "01-process"; all of them when ARG is empty), or exits 2 naming NAME.
select_stages() {
	_want=$2
	case $_want in
	[0-9])	_want=0$_want ;; # "1" means "01": stage directories are numbered with two digits
	esac
	stages=""
	for _dir in tests/[0-9]*-*/; do
		[ -d "$_dir" ] || continue # the pattern itself, when nothing matched
		_stage=${_dir#tests/}
		_stage=${_stage%/}
		case $_want in
		""|"$_stage"|"${_stage%%-*}") stages="$stages $_stage" ;;
		esac
	done
	if [ -z "$stages" ]; then
		echo "$1: no stage matches '${_want:-*}' under tests/" >&2
		exit 2
	fi
}

# stage_fingerprint TREE STAGE: a digest of the code that stage's tests run on (the tree's files for
# it and every earlier stage, the headers and the tests), so that a result kept from an earlier run
# can tell whether it still speaks of the code as it is now.
stage_fingerprint() {
	for _dir in "$1"/[0-9]*-*/ tests/"$2"/ tests/common/ include/; do
		_s=${_dir#"$1"/}
		_s=${_s%/}
		case $_dir in
		"$1"/*) [ "$_s" \< "$2" ] || [ "$_s" = "$2" ] || continue ;;
		esac
		find "$_dir" -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort
	done | xargs cat 2>/dev/null | cksum | cut -d ' ' -f 1
}
