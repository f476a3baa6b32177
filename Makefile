# cnnc: `make` builds build/cnnc and build/libcnnrt.a; `make test` runs every test (also under
# AddressSanitizer and UndefinedBehaviorSanitizer); `make demo` runs the main job;
# `make mutate` applies the deliberate bugs of tests/mutants/ and checks that the tests catch them.
CC      ?= clang
ifeq ($(origin CC),default)
CC      := clang
endif
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
ALLCFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) $(EXTRA_CFLAGS)
B       ?= build
BISON   ?= bison
FLEX    ?= flex

COMPILER_SRC := $(filter-out compiler/main.c compiler/ops/TEMPLATE.c,$(wildcard compiler/*.c compiler/ops/*.c))
RUNTIME_SRC  := $(filter-out runtime/mpi.c,$(wildcard runtime/*.c))
UNIT_SRC     := $(wildcard tests/unit/*.c)

GEN_OBJ      := $(B)/gen/parser.o $(B)/gen/lexer.o
COMPILER_OBJ := $(COMPILER_SRC:%.c=$(B)/%.o) $(GEN_OBJ)
RUNTIME_OBJ  := $(RUNTIME_SRC:%.c=$(B)/%.o)
UNIT_OBJ     := $(UNIT_SRC:%.c=$(B)/%.o)

INC := -Icompiler -I$(B)/gen -Iruntime

# The MPI runtime (cnnc --mpi): libcnnrt_mpi.a is libcnnrt.a with runtime/mpi.c in place of
# runtime/dist.c. Built by `all` only where mpicc exists, so nothing else depends on MPI.
MPICC   ?= mpicc
HAVE_MPI := $(shell command -v $(MPICC) >/dev/null 2>&1 && echo yes)
MPI_LIB := $(if $(HAVE_MPI),$(B)/libcnnrt_mpi.a)

.PHONY: all deps test unit-test demo bench clean sanitize mutate install uninstall docs fuzz fuzz-build fuzz-models mpi
all: $(B)/cnnc $(B)/libcnnrt.a $(B)/template.ok $(MPI_LIB)
mpi: $(B)/libcnnrt_mpi.a

deps:   # the test set: everything `make test` uses
	@sh .ci/install-deps test

$(B)/gen/parser.c $(B)/gen/parser.h: grammar/parser.y
	@mkdir -p $(B)/gen
	$(BISON) -Wall -Werror --defines=$(B)/gen/parser.h -o $(B)/gen/parser.c $<

$(B)/gen/lexer.c $(B)/gen/lexer.h: grammar/lexer.l
	@mkdir -p $(B)/gen
	$(FLEX) --header-file=$(B)/gen/lexer.h -o $(B)/gen/lexer.c $<

# Generated scanner and parser: our warnings stay on, minus the ones their skeletons trip.
$(B)/gen/parser.o: $(B)/gen/parser.c $(B)/gen/lexer.h
	$(CC) $(ALLCFLAGS) -Wno-unused-function -Wno-sign-compare $(INC) -c $< -o $@
$(B)/gen/lexer.o: $(B)/gen/lexer.c $(B)/gen/parser.h
	$(CC) $(ALLCFLAGS) -Wno-unused-function -Wno-sign-compare -Wno-misleading-indentation $(INC) -c $< -o $@

$(B)/%.o: %.c $(B)/gen/parser.h $(B)/gen/lexer.h
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(INC) -MMD -MP -c $< -o $@

# The compiler reads checkpoints (--embed-weights) with the runtime's reader.
CNNC_RT_OBJ := $(B)/runtime/ckpt.o $(B)/runtime/rt_util.o
$(B)/cnnc: $(B)/compiler/main.o $(COMPILER_OBJ) $(CNNC_RT_OBJ)
	$(CC) $(ALLCFLAGS) $^ -o $@ -lm

# The runtime's training types as a C string for emit_c.c, from the guard line on.
$(B)/gen/train_types.inc: runtime/cnn_train_types.h
	@mkdir -p $(B)/gen
	sed -n '/^#ifndef CNN_TRAIN_TYPES/,$$p' $< | sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&\\n"/' >$@
$(B)/compiler/emit_c.o: $(B)/gen/train_types.inc

# compiler/ops/TEMPLATE.c, the model of a new op file, is not linked; it must still compile.
$(B)/template.ok: compiler/ops/TEMPLATE.c compiler/ops.h compiler/emit_c.h compiler/emit_torch.h $(B)/gen/parser.h
	$(CC) $(ALLCFLAGS) $(INC) -fsyntax-only $<
	@touch $@

$(B)/libcnnrt.a: $(RUNTIME_OBJ)
	@rm -f $@
	ar rcs $@ $^

# mpicc wraps $(CC) when OMPI_CC is unset there, so the flags and warnings are the same.
$(B)/mpi/mpi.o: runtime/mpi.c runtime/dist.h runtime/cli.h
	@mkdir -p $(dir $@)
	OMPI_CC=$(CC) $(MPICC) $(ALLCFLAGS) $(INC) -c $< -o $@

$(B)/libcnnrt_mpi.a: $(filter-out $(B)/runtime/dist.o,$(RUNTIME_OBJ)) $(B)/mpi/mpi.o
	@rm -f $@
	ar rcs $@ $^

$(B)/test_unit: $(UNIT_OBJ) $(COMPILER_OBJ) $(B)/libcnnrt.a
	$(CC) $(ALLCFLAGS) $(UNIT_OBJ) $(COMPILER_OBJ) $(B)/libcnnrt.a -o $@ -lcunit -lz -lm

unit-test: $(B)/test_unit $(B)/cnnc $(B)/libcnnrt.a
	cd tests && ../$(B)/test_unit

# The whole suite: unit tests and command-line tests with the normal build, and again with the
# sanitizers (build-san/), the two halves at the same time (tests/run_halves.sh). The sanitizer
# build is made on the second core while the normal half starts (RUN_HALVES_SAN_BUILD: its
# half runs when it is done; a failed build fails that half). The command names make itself,
# not $$(MAKE): a recipe line with that is run even by `make -n`.
SAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
test: deps
	$(MAKE) -j2 --no-print-directory all $(B)/test_unit
	RUN_HALVES_SAN_BUILD='make --no-print-directory B=build-san CFLAGS="$(SAN_CFLAGS)" all build-san/test_unit' \
	    sh tests/run_halves.sh $(B) build-san

# Mutation testing: every mutant of tests/mutants/mutants.txt applied to a scratch copy, which
# the tests that should catch it must fail (docs/testing.md). Long: not part of `make test`
# (which runs a smoke of three). MUTANTS="name ..." runs only those.
mutate: deps all $(B)/test_unit
	nice /usr/bin/python3 tests/mutants/mutate.py --build $(B) $(if $(MUTANTS),--only $(MUTANTS))

# The demo needs no PyTorch: only the demo set of .ci/install-deps.
demo:
	@sh .ci/install-deps demo
	@$(MAKE) --no-print-directory all
	sh examples/demo.sh $(B)

bench: deps all
	sh bench/run.sh $(B)

# make docs: every model's graph (models/*.cnn and the examples in docs/img/) as docs/img/NAME.svg,
# drawn by Graphviz from cnnc --emit=dot, and LeNet-5's batch-1 memory plan. The README shows
# lenet5.svg, basic_block.svg and lenet5_plan.svg, which are committed; the others are not.
DOC_MODELS := $(wildcard models/*.cnn docs/img/*.cnn)
docs:
	@sh .ci/install-deps docs
	@$(MAKE) --no-print-directory all
	@for f in $(DOC_MODELS); do n=$$(basename $$f .cnn); \
	    $(B)/cnnc --emit=dot $$f -o docs/img/$$n.dot && dot -Tsvg docs/img/$$n.dot -o docs/img/$$n.svg && \
	    rm -f docs/img/$$n.dot && echo "docs/img/$$n.svg" || exit 1; done
	$(B)/cnnc --emit=plan --batch 1 --svg docs/img/lenet5_plan.svg models/lenet5.cnn >/dev/null

# Fuzzing (docs/testing.md, Fuzzing): libFuzzer harnesses in tests/fuzz/, built with clang
# under ASan and UBSan in build-fuzz/; `make fuzz FUZZ_SECONDS=N` runs each for N seconds on
# one core, growing its corpus in build-fuzz/corpus/NAME from the seeds in tests/fuzz/corpus/.
# Crashes are left in build-fuzz/ (copy them to tests/fuzz/crashers/NAME/ once fixed: `make
# test` replays every seed and crasher).
FUZZ_SECONDS ?= 60
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS  := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
fuzz-build:
	$(MAKE) --no-print-directory B=build-fuzz CC=clang CFLAGS="$(FUZZ_CFLAGS)" all
	@set -e; for n in $(FUZZ_NAMES); do \
	    clang $(ALLCFLAGS) -fsanitize=fuzzer,address,undefined -Icompiler -Ibuild-fuzz/gen -Iruntime \
	        tests/fuzz/fuzz_$$n.c $(filter-out build-fuzz/compiler/main.o,$(COMPILER_OBJ:$(B)/%=build-fuzz/%)) \
	        build-fuzz/libcnnrt.a -o build-fuzz/fuzz_$$n -lz -lm; done
fuzz: deps fuzz-build
	@set -e; for n in $(FUZZ_NAMES); do \
	    mkdir -p build-fuzz/corpus/$$n build-fuzz/artifacts/$$n; \
	    echo "== fuzz $$n ($(FUZZ_SECONDS) s)"; \
	    ASAN_OPTIONS=detect_leaks=0 nice -n 19 build-fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
	        -rss_limit_mb=2048 -max_len=8192 -close_fd_mask=1 $$(test -f tests/fuzz/$$n.dict && echo -dict=tests/fuzz/$$n.dict) \
	        -artifact_prefix=build-fuzz/artifacts/$$n/ build-fuzz/corpus/$$n tests/fuzz/corpus/$$n 2>&1 | \
	        grep -E "^#[0-9]+ +(DONE|INITED)|ERROR|SUMMARY|Test unit written|Done [0-9]+ runs" || true; \
	    if ls build-fuzz/artifacts/$$n/* >/dev/null 2>&1; then echo "fuzz $$n: findings in build-fuzz/artifacts/$$n"; fi; \
	done

# Random models (docs/testing.md, Random models): `make fuzz-models [MODEL_SEEDS=1-40]` draws ten
# random conv networks per seed (tests/torch/random_models.py) and checks each one's forward
# and training step against PyTorch (parity.py, grad_parity.py). `make test` runs one seed.
MODEL_SEEDS ?= 1-40
fuzz-models: deps all
	nice /usr/bin/python3 tests/torch/random_models.py --build $(B) --seeds $(MODEL_SEEDS)

clean:
	rm -rf build build-san build-fuzz

# make install [PREFIX=/usr/local] [DESTDIR=]: the compiler, the runtime library and headers,
# pkg-config file, man pages, bash completion and documentation. The installed cnnc finds
# the runtime relative to itself (PREFIX/bin/../lib, PREFIX/bin/../include/cnnc), so a tree
# staged with DESTDIR or moved elsewhere works as is. make uninstall removes exactly the files
# in INSTALLED (and the directories of its own that are left empty).
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     := $(PREFIX)/bin
LIBDIR     := $(PREFIX)/lib
INCDIR     := $(PREFIX)/include/cnnc
PCDIR      := $(LIBDIR)/pkgconfig
MANDIR     := $(PREFIX)/share/man/man1
DOCDIR     := $(PREFIX)/share/doc/cnnc
COMPDIR    := $(PREFIX)/share/bash-completion/completions
RT_HEADERS := runtime/cnnrt.h runtime/cnn_train_types.h runtime/cnntrain.h
DOC_FILES  := README.md $(wildcard docs/*.md)
DOC_IMG    := $(wildcard docs/img/lenet5.svg docs/img/basic_block.svg docs/img/lenet5_plan.svg)
EMBED_FILES := examples/embed/Makefile examples/embed/main.c
INSTALLED  := $(BINDIR)/cnnc $(LIBDIR)/libcnnrt.a $(if $(MPI_LIB),$(LIBDIR)/libcnnrt_mpi.a) $(addprefix $(INCDIR)/,$(notdir $(RT_HEADERS))) \
              $(PCDIR)/cnnrt.pc $(MANDIR)/cnnc.1 $(MANDIR)/cnnc-program.1 $(COMPDIR)/cnnc \
              $(addprefix $(DOCDIR)/,$(notdir $(DOC_FILES))) $(addprefix $(DOCDIR)/img/,$(notdir $(DOC_IMG))) \
              $(addprefix $(DOCDIR)/examples/embed/,$(notdir $(EMBED_FILES)))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(PCDIR) \
	    $(DESTDIR)$(MANDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DOCDIR)/examples/embed $(DESTDIR)$(COMPDIR)
	install -m 755 $(B)/cnnc $(DESTDIR)$(BINDIR)/cnnc
	install -m 644 $(B)/libcnnrt.a $(DESTDIR)$(LIBDIR)/libcnnrt.a
	$(if $(MPI_LIB),install -m 644 $(MPI_LIB) $(DESTDIR)$(LIBDIR)/libcnnrt_mpi.a)
	install -m 644 $(RT_HEADERS) $(DESTDIR)$(INCDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCDIR@|$(INCDIR)|g' \
	    dist/cnnrt.pc.in > $(DESTDIR)$(PCDIR)/cnnrt.pc
	chmod 644 $(DESTDIR)$(PCDIR)/cnnrt.pc
	install -m 644 dist/cnnc.1 dist/cnnc-program.1 $(DESTDIR)$(MANDIR)/
	install -m 644 dist/cnnc.bash $(DESTDIR)$(COMPDIR)/cnnc
	install -m 644 $(filter-out README.md,$(DOC_FILES)) $(DESTDIR)$(DOCDIR)/
	sed -e 's|docs/img/|img/|g' -e 's|](docs/|](|g' README.md > $(DESTDIR)$(DOCDIR)/README.md  # links as installed
	chmod 644 $(DESTDIR)$(DOCDIR)/README.md
	$(if $(DOC_IMG),install -d $(DESTDIR)$(DOCDIR)/img && install -m 644 $(DOC_IMG) $(DESTDIR)$(DOCDIR)/img/)
	install -m 644 $(EMBED_FILES) $(DESTDIR)$(DOCDIR)/examples/embed/

# Directories cnnc shares with other software: removed when left empty, except under the
# system prefixes (/usr, /usr/local), whose standard directories stay.
SHARED_DIRS := $(PCDIR) $(LIBDIR) $(BINDIR) $(PREFIX)/include $(MANDIR) $(PREFIX)/share/man $(COMPDIR) \
               $(PREFIX)/share/bash-completion $(PREFIX)/share/doc $(PREFIX)/share
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	for d in $(DOCDIR)/examples/embed $(DOCDIR)/examples $(DOCDIR)/img $(DOCDIR) $(INCDIR); do \
	    [ ! -d "$(DESTDIR)$$d" ] || rmdir "$(DESTDIR)$$d" 2>/dev/null || true; done
	case "$(PREFIX)" in /usr|/usr/|/usr/local|/usr/local/) ;; *) \
	    for d in $(SHARED_DIRS); do [ ! -d "$(DESTDIR)$$d" ] || rmdir "$(DESTDIR)$$d" 2>/dev/null || true; done ;; esac

-include $(shell find $(B) -name '*.d' 2>/dev/null)
