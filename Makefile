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

.PHONY: all deps test unit-test demo bench clean sanitize mpi
all: $(B)/cnnc $(B)/libcnnrt.a $(MPI_LIB)
mpi: $(B)/libcnnrt_mpi.a

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

clean:
	rm -rf build build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)
