# mkexercise.awk: turn a solution file into its exercise, by removing what the learner writes.
#
#   awk -f tools/mkexercise.awk solutions/01-process/process.c > exercises/01-process/process.c
#
# In a solution, the code a learner writes sits between two marker comments:
#
#	/* BEGIN SOLUTION stub: return MP_ETODO;
#	 * Hint: what to do, and which lesson section explains it.
#	 */
#	...the reference code...
#	/* END SOLUTION */
#
# The exercise keeps the hint as a TODO comment and puts the stub in place of
# the code: a statement that compiles and fails clearly ("stub:" may be empty
# for a function returning void). Files without markers are copied as they are.

function fail(msg) {
	printf("%s:%d: %s\n", FILENAME, FNR, msg) > "/dev/stderr"
	failed = 1
	exit 1
}

# A BEGIN marker: print the hint as a TODO comment, remember the stub.
state == "code" && /\/\* BEGIN SOLUTION/ {
	indent = $0
	sub(/[^ \t].*$/, "", indent)
	stub = $0
	if (!sub(/.*BEGIN SOLUTION stub:[ \t]*/, "", stub))
		fail("BEGIN SOLUTION needs a stub: \"BEGIN SOLUTION stub: <statement>\"")
	print indent "/* TODO: your code goes here."
	state = "hint"
	next
}

# The rest of the marker comment is the hint, kept for the learner.
state == "hint" {
	print
	if ($0 ~ /\*\//) {
		if (stub != "")
			print indent stub
		state = "solution"
	}
	next
}

state == "solution" && /\/\* END SOLUTION \*\// { state = "code"; next }
state == "solution" && /BEGIN SOLUTION/ { fail("BEGIN SOLUTION inside a solution") }
state == "solution" { next }

state == "code" && /END SOLUTION/ { fail("END SOLUTION without a BEGIN") }
{ print }

BEGIN { state = "code" }
END {
	if (!failed && state != "code")
		fail("BEGIN SOLUTION is never closed by /* END SOLUTION */")
}
