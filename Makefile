# Makefile: build, test and grade the course. `make help` lists what it can do.
#
# The library is built twice from the same public headers (include/): once from
# the reference code in solutions/, once from the learner's code in exercises/.
# The tests in tests/ grade either one. Each stage is its own archive, so a
# stage that does not compile yet cannot stop the earlier ones from grading.

STAGES := $(sort $(notdir $(wildcard tests/[0-9][0-9]-*)))
STAGE  ?=
TEST   ?=
ISOLATE ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
# A function that forgets its return, or calls what was never declared, is a mistake the
# tests may not notice (the value happens to be right): the compiler stops it instead.
MP_CFLAGS = -std=c11 -Wall -Wextra -Werror=return-type -Werror=implicit-function-declaration -Iinclude -MMD -MP
# The learner's files start as stubs: unused helpers and parameters are expected there.
EXERCISE_CFLAGS = -Wno-unused-function -Wno-unused-parameter -Wno-unused-variable
# Evaluated when a recipe runs, after `setup` has installed Criterion if it was missing.
CRITERION_CFLAGS = $(shell pkg-config --cflags criterion)
CRITERION_LIBS   = $(shell pkg-config --libs criterion)
# Stage 03's HMACs come from OpenSSL's libcrypto (the digest is not the lesson).
LIBS = $(shell pkg-config --libs libcrypto) -lm
# Tests under valgrind run ten times slower: their time limits grow with this.
TIMEOUT_SCALE ?= 1

# Stage selection: STAGE=01 or STAGE=01-process.
# "1" means "01"; a STAGE that names no stage is an error, not "every stage" (nor a make that
# calls itself with no target, which would run this whole Makefile again, and again).
stage_prefix = $(if $(filter 1 2 3 4 5 6 7 8 9,$(STAGE)),0$(STAGE),$(STAGE))
selected = $(if $(STAGE),$(or $(filter $(stage_prefix)%,$(STAGES)),$(error STAGE=$(STAGE) names no stage under tests/: try one of $(STAGES))),$(STAGES))
stage_num = $(firstword $(subst -, ,$(1)))

# The stages up to and including $(1), latest first: the order a linker wants.
upto = $(shell echo $(STAGES) | tr ' ' '\n' | awk '$$0 <= "$(1)"' | sort -r)

.PHONY: all help setup lib test grade memcheck sanitize docs bench release exercises \
	check-exercises check-unsolved ci clean hints list-tests progress watch fuzz mutate examples install uninstall check-install gradescope check-classroom pictures screenshots check-grader

all: test

help:
	@echo "Learner:"
	@echo "  make grade               grade your exercises and print the scoreboard"
	@echo "  make grade STAGE=01      grade one stage; add TEST=name to run one test"
	@echo "  make grade ISOLATE=1     grade each stage against the reference for earlier stages"
	@echo "  make hints STAGE=01      list the TODOs left in a stage, with their hints"
	@echo "  make progress            TODOs left and the last grade, stage by stage"
	@echo "  make list-tests STAGE=01 every test, with its points and the lesson section to read"
	@echo "  make watch STAGE=01      grade again whenever an exercise file changes"
	@echo "  make memcheck TREE=exercises   your code under valgrind"
ifneq ($(LEARNER_COPY),)
	@echo "  make test                the same tests on the compiled reference (reference/): all green"
	@echo "  make memcheck            the reference under valgrind"
	@echo "  make examples            tutorials' Python programs beside their C twins (on the reference)"
	@echo "  make docs                the lessons and the API as a site (build/docs/html)"
else
	@echo "Course:"
	@echo "  make test                run every test on the reference solutions (CI)"
	@echo "  make memcheck            the reference solutions under valgrind"
	@echo "  make sanitize            the tests with ASan and UBSan"
	@echo "  make exercises           regenerate exercises/ from solutions/"
	@echo "  make check-exercises     fail if exercises/ differ from what solutions/ produce"
	@echo "  make check-unsolved      fail if an untouched exercise passes any test"
	@echo "  make docs                API and lesson pages with Doxygen (build/docs)"
	@echo "  make bench               benchmarks against CPython"
	@echo "  make install PREFIX=...  headers, libmp.a and mp.pc for pkg-config (make uninstall removes them)"
	@echo "  make examples            the tutorials' Python programs beside their C twins, run and compared"
	@echo "  make fuzz                fuzz the frame decoder, the handshake and the pickle decoder (FUZZ_SECONDS each)"
	@echo "  make release             a learner's copy without solutions (build/release)"
	@echo "  make gradescope          Gradescope's autograder zip (make check-classroom runs it as Gradescope would)"
	@echo "  make mutate STAGE=01     plant small bugs in a stage's solution: do its tests catch them?"
endif

# Installs Criterion, valgrind and Doxygen through apt if they are missing.
setup:
	@tools/setup.sh

# ---------------------------------------------------------------------------
# The library: one archive per stage and tree.

define tree_rules
$(1)_objs_of = $$(patsubst $(1)/%.c,build/$(1)/obj/%.o,$$(wildcard $(1)/$$(1)/*.c))

build/$(1)/obj/%.o: $(1)/%.c build/$(1)/.cflags | setup
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(MP_CFLAGS) $$(if $$(filter exercises,$(1)),$$(EXERCISE_CFLAGS)) -c $$< -o $$@

$$(foreach s,$$(STAGES),$$(eval build/$(1)/lib/libmp-$$(s).a: $$(call $(1)_objs_of,$$(s))))
build/$(1)/lib/libmp-%.a:
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^

build/$(1)/lib/libmp.a: $$(foreach s,$$(STAGES),$$(call $(1)_objs_of,$$(s)))
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(eval $(call tree_rules,exercises))

# The learner's copy (`make release`) has no solutions/: the reference comes compiled
# instead, one archive per stage in reference/, so that `make test` and ISOLATE=1 work
# there too while the source of the reference stays out of the learner's hands.
LEARNER_COPY := $(if $(wildcard solutions/[0-9]*),,yes)
ifeq ($(LEARNER_COPY),)
$(eval $(call tree_rules,solutions))
else
build/solutions/lib/libmp-%.a: reference/libmp-%.a
	@mkdir -p $(@D)
	cp $< $@

build/solutions/lib/libmp.a: $(foreach s,$(STAGES),build/solutions/lib/libmp-$(s).a)
	@mkdir -p $(@D) build/solutions/unpacked
	rm -rf $@ build/solutions/unpacked/* && cd build/solutions/unpacked && \
		for a in $(^:build/solutions/%=../%); do mkdir -p $${a##*/} && (cd $${a##*/} && ar x ../$$a); done && \
		ar rcs ../lib/libmp.a */*.o
endif

# What needs the reference's source says so plainly in the learner's copy.
needs_solutions = $(if $(LEARNER_COPY),@echo "make $@: needs the source of the reference (solutions/) and the learner's copy leaves it out: it is a command for the course's authors"; exit 2)

# Objects depend on the flags they were built with: a change of CFLAGS (as in
# `make sanitize`) rebuilds them instead of mixing two kinds in one archive.
build/%/.cflags: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(CFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS)' > $@

.PHONY: FORCE
FORCE:

# Stamps made by pattern rules: make would delete them as intermediate files.
.PRECIOUS: build/%/.cflags build/%/tests/.link-own-$(TIMEOUT_SCALE) build/%/tests/.link-isolated-$(TIMEOUT_SCALE)

lib: build/solutions/lib/libmp.a

# ---------------------------------------------------------------------------
# Test binaries: build/<tree>/tests/<stage>, one per stage, linked with the
# archives of that stage and every earlier one. ISOLATE=1 takes the earlier
# stages from the reference, so one stuck stage does not sink the next.

TEST_COMMON = $(wildcard tests/common/*.c)

# $(1) tree, $(2) stage: the archives to link, latest stage first.
libs_for = $(foreach s,$(call upto,$(2)),build/$(if $(and $(ISOLATE),$(filter-out $(s),$(2))),solutions,$(1))/lib/libmp-$(s).a)

define test_rules
build/$(1)/tests/$(2): $(wildcard tests/$(2)/*.c) $(TEST_COMMON) $(call libs_for,$(1),$(2)) build/$(1)/tests/.link-$(if $(ISOLATE),isolated,own)-$(TIMEOUT_SCALE) | setup
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) -std=gnu11 -Wall -Wextra -Iinclude -Itests/common $$(CRITERION_CFLAGS) \
		-DMP_TEST_TIMEOUT_SCALE=$$(TIMEOUT_SCALE) \
		$(wildcard tests/$(2)/*.c) $(TEST_COMMON) $(call libs_for,$(1),$(2)) $$(CRITERION_LIBS) $$(LIBS) -o $$@
endef
$(foreach t,solutions exercises,$(foreach s,$(STAGES),$(eval $(call test_rules,$(t),$(s)))))

# A change of link mode or time scale must relink the tests: these stamps record them.
build/%/tests/.link-own-$(TIMEOUT_SCALE) build/%/tests/.link-isolated-$(TIMEOUT_SCALE):
	@mkdir -p $(@D)
	@rm -f $(@D)/.link-*
	@touch $@

test_bins = $(foreach s,$(selected),build/$(1)/tests/$(s))

# Builds the test binaries $(1), with the variables $(2), as far as they go (make -k, so a
# stage that does not compile does not stop the others). A binary that did not build is
# removed: an old one left in place would be graded, and score code that is no longer there.
build_tests = $(MAKE) --no-print-directory -k $(2) $(1) || for b in $(1); do \
	$(MAKE) --no-print-directory $(2) $$b >/dev/null 2>&1 || rm -f $$b; done
GRADE_ARGS = $(if $(STAGE),--stage $(STAGE)) $(if $(TEST),--test $(TEST))

# The tests of the tests (tests/harness/): planted failures, and a test that reads how they failed.
HARNESS_CC = $(CC) $(CFLAGS) -std=gnu11 -Wall -Wextra -Iinclude -Itests/common $(CRITERION_CFLAGS)
build/solutions/tests/harness-planted: tests/harness/planted.c $(TEST_COMMON) build/solutions/lib/libmp-01-process.a | setup
	@mkdir -p $(@D)
	$(HARNESS_CC) $(filter %.c %.a,$^) $(CRITERION_LIBS) $(LIBS) -o $@
build/solutions/tests/harness: tests/harness/test_harness.c $(TEST_COMMON) build/solutions/lib/libmp-01-process.a build/solutions/tests/harness-planted | setup
	@mkdir -p $(@D)
	$(HARNESS_CC) -DPLANTED='"$(CURDIR)/build/solutions/tests/harness-planted"' $(filter %.c %.a,$^) \
		$(CRITERION_LIBS) $(LIBS) -o $@

build/tools/reaper: tools/reaper.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -std=c11 -Wall -Wextra -o $@ $<

# `make test`: the reference solutions must pass every test.
test: setup build/tools/reaper
	@$(MAKE) --no-print-directory build/solutions/tests/harness
	@$(call build_tests,$(call test_bins,solutions))
	@echo "test: the tests' own checks (tests/harness/)"; \
		build/tools/reaper -t 120 -- build/solutions/tests/harness -j2 > build/solutions/tests/harness.log 2>&1; \
		harness=$$?; grep -v '^\[====\]' build/solutions/tests/harness.log | tail -n 20; \
		grep 'Synthesis' build/solutions/tests/harness.log | sed 's/^\[====\] /test: harness: /'; \
		tools/grade.sh --tree solutions $(GRADE_ARGS) && exit $$harness

# `make grade`: the learner's exercises, with a scoreboard. A stage that does
# not compile scores zero; the others are graded all the same (make -k).
grade: setup build/tools/reaper
	@$(call build_tests,$(call test_bins,exercises))
	@tools/grade.sh --tree exercises $(GRADE_ARGS) $(if $(ISOLATE),--isolated)

# `make memcheck`: the tests under valgrind, failing on its own findings.
TREE ?= solutions
memcheck: setup build/tools/reaper
	@case "$(TREE)" in solutions|exercises) ;; \
	*) echo "memcheck: TREE is solutions (the reference) or exercises (your code), not '$(TREE)'"; exit 2 ;; esac
	@$(MAKE) --no-print-directory TIMEOUT_SCALE=10 $(call test_bins,$(TREE))
	@tools/memcheck.sh --tree $(TREE) $(if $(STAGE),--stage $(STAGE))
	@$(MAKE) --no-print-directory $(call test_bins,$(TREE)) >/dev/null

# `make sanitize`: the reference built and tested with AddressSanitizer and UBSan.
# Some tests crash children on purpose: ASan must leave their SIGSEGV and SIGABRT alone.
sanitize: setup build/tools/reaper
	$(needs_solutions)
	@$(MAKE) --no-print-directory clean-solutions
	@$(MAKE) --no-print-directory CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		TIMEOUT_SCALE=3 $(call test_bins,solutions)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:handle_segv=0:handle_abort=0 UBSAN_OPTIONS=print_stacktrace=1 \
		tools/grade.sh --tree solutions $(GRADE_ARGS); status=$$?; \
		$(MAKE) --no-print-directory clean-solutions; exit $$status

.PHONY: clean-solutions
clean-solutions:
	rm -rf build/solutions

# ---------------------------------------------------------------------------
# Exercises are made from the solutions, never edited by hand in this repository.

SOLUTION_FILES = $(shell find solutions -type f 2>/dev/null | sort)

exercises:
	$(needs_solutions)
	@for f in $(SOLUTION_FILES); do \
		out=exercises/$${f#solutions/}; mkdir -p $$(dirname $$out); \
		awk -f tools/mkexercise.awk $$f > $$out.tmp && mv $$out.tmp $$out || exit 1; \
	done
	@echo "exercises/ regenerated from solutions/"

check-exercises:
	$(needs_solutions)
	@rm -rf build/check-exercises && mkdir -p build/check-exercises
	@for f in $(SOLUTION_FILES); do \
		out=build/check-exercises/$${f#solutions/}; mkdir -p $$(dirname $$out); \
		awk -f tools/mkexercise.awk $$f > $$out || exit 1; \
	done
	@diff -r build/check-exercises exercises >/dev/null || { \
		diff -ru exercises build/check-exercises | head -40; \
		echo "check-exercises: exercises/ differ from what solutions/ produce: run 'make exercises'"; exit 1; }
	@echo "check-exercises: exercises/ match solutions/"

# Each stage's untouched exercise, with the reference for earlier stages, must fail every test.
check-unsolved: setup build/tools/reaper
	@$(call build_tests,$(call test_bins,exercises),ISOLATE=1)
	@tools/grade.sh --tree exercises --isolated --expect-fail $(GRADE_ARGS)

progress:
	@tools/progress.sh

watch:
	@STAGE=$(STAGE) tools/watch.sh

# Each TODO with its hint, in the order the lesson's steps take the files.
hints:
	@tools/hints.sh $(selected)

# Every test of the stage (or all), with its points and the lesson section that explains it.
list-tests:
	@tools/grade.sh --list $(GRADE_ARGS)

# ---------------------------------------------------------------------------

docs: setup
	@python3 tools/lesson-nav.py --check
	@rm -rf build/docs/src && mkdir -p build/docs/src && cp README.md build/docs/src/
	@python3 tools/lesson-nav.py --into build/docs/src
	@doxygen docs/Doxyfile > build/docs/doxygen.log 2> build/docs/warnings.log; \
		if [ -s build/docs/warnings.log ]; then cat build/docs/warnings.log; \
		echo "docs: Doxygen warned (see above)"; exit 1; fi
	@mkdir -p build/docs/html/pictures && cp lessons/pictures/*.svg build/docs/html/pictures/
	@python3 tools/check-site.py build/docs/html
	@echo "docs: build/docs/html/index.html"

bench: lib
	@sh bench/run.sh $(STAGE)

# `make install PREFIX=/usr/local DESTDIR=`: the headers, the static library and a pkg-config
# file, so that `cc prog.c $(pkg-config --cflags --libs mp)` works. `make uninstall` (with the
# same PREFIX and DESTDIR) removes exactly those files. (No shared library yet: the objects
# would have to be built a second time, with -fPIC.)
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION  = 0.$(words $(STAGES))
HEADERS  = $(notdir $(wildcard include/mp/*.h))
installed = $(DESTDIR)$(PREFIX)/include/mp.h $(addprefix $(DESTDIR)$(PREFIX)/include/mp/,$(HEADERS)) \
	$(DESTDIR)$(PREFIX)/lib/libmp.a $(DESTDIR)$(PREFIX)/lib/pkgconfig/mp.pc

install: lib
	install -d $(DESTDIR)$(PREFIX)/include/mp $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/mp.h $(DESTDIR)$(PREFIX)/include/mp.h
	install -m 644 $(addprefix include/mp/,$(HEADERS)) $(DESTDIR)$(PREFIX)/include/mp/
	install -m 644 build/solutions/lib/libmp.a $(DESTDIR)$(PREFIX)/lib/libmp.a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/mp.pc.in \
		| grep -v '^#' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mp.pc

uninstall:
	rm -f $(installed)
	-rmdir $(DESTDIR)$(PREFIX)/include/mp 2>/dev/null

# Installs into a scratch prefix, builds an example with pkg-config alone, uninstalls.
check-install:
	@rm -rf build/install-check
	@$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/build/install-check >/dev/null
	@PKG_CONFIG_PATH=$(CURDIR)/build/install-check/lib/pkgconfig; export PKG_CONFIG_PATH; \
		$(CC) -o build/install-check/hello examples/01-process/hello.c $$(pkg-config --cflags --libs mp) \
		&& [ "$$(build/install-check/hello)" = "hello bob" ] \
		|| { echo "check-install: an example does not build and run against the installed library"; exit 1; }
	@rm build/install-check/hello
	@$(MAKE) --no-print-directory uninstall PREFIX=$(CURDIR)/build/install-check >/dev/null
	@left=$$(find build/install-check -type f); [ -z "$$left" ] \
		|| { echo "check-install: uninstall left $$left"; exit 1; }
	@echo "check-install: installed, built hello.c with pkg-config, uninstalled: nothing left"

# The lessons' pictures: lessons/pictures/NAME.svg is drawn from NAME.dot by Graphviz and committed,
# so that the lessons show them on GitHub too. `make pictures` draws them again after a change.
pictures:
	@tools/setup.sh pictures
	@for f in lessons/pictures/*.dot; do dot -Tsvg "$$f" -o "$${f%.dot}.svg" || exit 1; done
	@echo "pictures: lessons/pictures/*.svg drawn again"

# The site as a reader sees it: screenshots by headless Chromium (build/docs/screenshots/).
screenshots: docs
	@tools/setup.sh browser
	@tools/screenshots.sh

# `make examples`: the tutorials' Python programs and their C twins, run and compared.
examples: lib
	@sh examples/run.sh

# `make fuzz`: libFuzzer on stage 03's frame decoder and handshake and stage 06's pickle decoder,
# FUZZ_SECONDS each (needs clang).
FUZZ_SECONDS ?= 30
fuzz:
	$(needs_solutions)
	@tools/setup.sh fuzz
	@tools/fuzz.sh $(FUZZ_SECONDS)

# `make mutate STAGE=01`: the course's own mutation test, a measure for its authors (not part of CI).
SEED    ?= 1
MUTANTS ?= 300
mutate: setup
	$(needs_solutions)
	@test -n "$(STAGE)" || { echo "mutate: name the stage: make mutate STAGE=01"; exit 2; }
	@python3 tools/mutate.py --stage $(STAGE) --seed $(SEED) --max $(MUTANTS)

# A learner's copy: everything but the solutions' source, with the reference compiled
# instead (reference/, one archive a stage). tools/check-release.sh then runs, in the copy,
# every command the README names, and checks that each works or says plainly why not.
release:
	$(needs_solutions)
	@rm -rf build/release && mkdir -p build/release/reference
	@git ls-files | grep -v '^solutions/' | grep -v '^\.ci/' | grep -v '^tests/[^/]*/held_back' \
		| tar -cf - -T - | tar -xf - -C build/release
	@$(MAKE) --no-print-directory $(foreach s,$(STAGES),build/solutions/lib/libmp-$(s).a)
	@for s in $(STAGES); do cp build/solutions/lib/libmp-$$s.a build/release/reference/ && \
		strip --strip-debug build/release/reference/libmp-$$s.a || exit 1; done
	@cp docs/reference-README.md build/release/reference/README.md
	@mkdir -p build/release/.github/workflows && tools/classroom/workflow.sh > build/release/.github/workflows/classroom.yml
	@echo "release: build/release (no solutions/; the reference compiled in reference/)"
	@tools/check-release.sh build/release
	@rm -rf build/release/build

# `make check-grader`: every grading command tells the truth about the code as it is now
# (a stage that does not compile scores 0; progress, hints and the memory column are current).
check-grader: setup
	$(needs_solutions)
	@tools/check-grader.sh

# `make gradescope`: Gradescope's autograder zip: the learner's copy with the held-back tests,
# setup.sh and run_autograder at its top (tools/classroom/). `make check-classroom` runs it, and
# the GitHub Classroom workflow of the learner's copy, as those services would.
gradescope: release
	@rm -rf build/gradescope build/gradescope.zip && mkdir -p build/gradescope
	@cp -r build/release/. build/gradescope/
	@git ls-files 'tests/*/held_back*' | tar -cf - -T - | tar -xf - -C build/gradescope
	@cp tools/classroom/setup.sh tools/classroom/run_autograder build/gradescope/
	@cd build/gradescope && zip -qr ../gradescope.zip .
	@echo "gradescope: build/gradescope.zip (upload it as the autograder)"

check-classroom: gradescope
	@python3 tools/classroom/check.py build/gradescope.zip

ci: check-exercises test check-unsolved memcheck docs release

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
