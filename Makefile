# cnnc: `make` builds build/cnnc and build/libcnnrt.a; `make test` runs every test (also under
# AddressSanitizer and UndefinedBehaviorSanitizer); `make demo` runs the main job.
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

COMPILER_SRC := $(filter-out compiler/main.c,$(wildcard compiler/*.c compiler/ops/*.c))
RUNTIME_SRC  := $(wildcard runtime/*.c)
UNIT_SRC     := $(wildcard tests/unit/*.c)

GEN_OBJ      := $(B)/gen/parser.o $(B)/gen/lexer.o
COMPILER_OBJ := $(COMPILER_SRC:%.c=$(B)/%.o) $(GEN_OBJ)
RUNTIME_OBJ  := $(RUNTIME_SRC:%.c=$(B)/%.o)
UNIT_OBJ     := $(UNIT_SRC:%.c=$(B)/%.o)

INC := -Icompiler -I$(B)/gen -Iruntime

.PHONY: all deps test unit-test demo bench clean sanitize fuzz fuzz-build
all: $(B)/cnnc $(B)/libcnnrt.a

deps:
	@sh .ci/install-deps

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

$(B)/libcnnrt.a: $(RUNTIME_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/test_unit: $(UNIT_OBJ) $(COMPILER_OBJ) $(B)/libcnnrt.a
	$(CC) $(ALLCFLAGS) $(UNIT_OBJ) $(COMPILER_OBJ) $(B)/libcnnrt.a -o $@ -lcunit -lz -lm

unit-test: $(B)/test_unit $(B)/cnnc $(B)/libcnnrt.a
	cd tests && ../$(B)/test_unit

# The whole suite: unit tests and command-line tests with the normal build, then again with
# the sanitizers (build-san/).
test: deps
	$(MAKE) --no-print-directory all $(B)/test_unit
	sh tests/run_all.sh $(B)
	$(MAKE) --no-print-directory B=build-san CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all build-san/test_unit
	SANITIZE=1 sh tests/run_all.sh build-san

demo: deps all
	sh examples/demo.sh $(B)

bench: deps all
	sh bench/run.sh $(B)

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

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(B) -name '*.d' 2>/dev/null)
