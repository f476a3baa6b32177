/* cli.h: what the standalone program's commands (cmd_*.c) share with the dispatcher in cli.c:
 * option parsing, error reporting, the model's memory and its weights.
 *
 * Exit statuses: 0 success, 1 bad input (a file that is missing, malformed or does not fit the
 * model), 2 bad usage (unknown command or option, missing or malformed option value). Every
 * error is one line on stderr, "PROGRAM: error: MESSAGE". */
#ifndef CNNC_CLI_H
#define CNNC_CLI_H
#include <stdbool.h>
#include <stddef.h>

#include "ckpt.h"
#include "cnnrt.h"
#include "init.h"

enum { EXIT_BAD_INPUT = 1, EXIT_USAGE = 2 };

/* The program name used in messages (basename of argv[0]). */
extern const char *cli_prog;

/* Prints "PROGRAM: error: MESSAGE" on stderr and returns status, so that a failing path reads
 * `return cli_error(EXIT_USAGE, "--top needs a positive integer, not '%s'", v);`. */
int cli_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Options of one command. A value option stores its text in *value (NULL when absent); a flag
 * sets *flag. "--name value" and "--name=value" are both accepted, "--" ends the options. */
typedef struct CliOption {
    const char *name;       /* with the dashes: "--weights" */
    const char **value;     /* for options taking a value */
    bool *flag;             /* for flags */
} CliOption;

/* Parses argv[0..argc) (the words after the command name). Positional arguments go to
 * positional[] (room for argc entries) when it is non-NULL, else they are a usage error.
 * Returns -1 when the command should run, 0 after printing help (--help, -h), or
 * EXIT_USAGE after printing the error. */
int cli_parse(const char *command, const char *help, const CliOption *opts, int argc,
              char **argv, const char **positional, int *npositional);

/* cli_parse for a command with one repeatable option `name` ("--weights"): every value of it,
 * in order, goes to list (room for argc entries), their count to *nlist; *value holds the last. */
int cli_parse_repeated(const char *command, const char *help, const CliOption *opts, int argc, char **argv,
                       const char **positional, int *npositional, const char *name, const char **list, int *nlist);

/* "--name" is required: returns false after printing the usage error. */
bool cli_require(const char *command, const char *name, const char *value);
/* Integer option values in [lo, hi]; false after printing the usage error. */
bool cli_int(const char *name, const char *text, long long lo, long long hi, long long *out);

/* 1234567 -> "1,234,567" into buf. */
const char *cli_group(long long v, char *buf, size_t size);

/* The model's two blocks of floats, 64-byte aligned and zeroed (padding between tensors too). */
typedef struct CliMemory {
    float *params, *work;
} CliMemory;
bool cli_memory_alloc(const CnnModel *m, CliMemory *mem, char *err);
/* The test interfaces (forward, grad) fill the workspace with NaN before the call: a kernel that
 * reads scratch no earlier step of the call wrote (a fresh allocation's zeros would hide it)
 * then yields NaN, which the parity and gradient checks catch (docs/testing.md). */
void cli_poison_work(const CnnModel *m, CliMemory *mem);
/* params' weights packed for m->forward_packed (free() them), or NULL when the model packs
 * nothing or the memory is short: cli_forward then runs m->forward, which packs at each call.
 * Pack again after params change. */
float *cli_pack(const CnnModel *m, const float *params, float *work);
/* m->forward_packed with packs from cli_pack, or m->forward when packs is NULL. */
int cli_forward(const CnnModel *m, const float *params, float *packs, float *work, const float *x, float *y,
                int n);
void cli_memory_free(CliMemory *mem);
/* n floats, 64-byte aligned, zeroed; NULL and err when out of memory. */
float *cli_alloc_floats(size_t n, const char *what, char *err);

/* Fills every tensor of the parameter block as a fresh PyTorch model would (init.h). */
void cli_init_params(const CnnModel *m, float *params, InitKind kind, unsigned long long seed);
void cli_init_params_spec(const CnnModel *m, float *params, const InitSpec *s, unsigned long long seed);
/* Reads every tensor of the model from a safetensors file into params, checking names, dtypes
 * and shapes; tensors of the file the model does not have are ignored. */
bool cli_load_weights(const CnnModel *m, const char *path, float *params, char *err);

/* The commands: each takes the words after its name and returns the exit status. */
int cmd_info(const CnnModel *m, int argc, char **argv);
int cmd_init(const CnnModel *m, int argc, char **argv);
int cmd_predict(const CnnModel *m, int argc, char **argv);
int cmd_bench(const CnnModel *m, int argc, char **argv);
int cmd_forward(const CnnModel *m, int argc, char **argv);
int cmd_train(const CnnModel *m, int argc, char **argv);   /* train.c */
int cmd_eval(const CnnModel *m, int argc, char **argv);
int cmd_grad(const CnnModel *m, int argc, char **argv);
int cmd_import(const CnnModel *m, int argc, char **argv);   /* import.c */
int cmd_visualize(const CnnModel *m, int argc, char **argv);

/* Checks tensor 'input' of c against the model's input shape ([N, C, H, W] or [N, F], N >= 1)
 * and reads N into *n; on failure, one line in err naming the file and the shapes. */
bool cli_check_input(const CnnModel *m, const Ckpt *c, int *n, char *err);

/* PyTorch's batchnorm keeps a step counter, num_batches_tracked (I64, shape []), in its
 * state_dict. Adding one per batchnorm of m, with value *count (read at ckpt_write), lets
 * PyTorch load the file with strict=True. cnnc's own readers ignore these tensors. */
void cli_add_batch_counters(CkptWriter *w, const CnnModel *m, const int64_t *count);

#endif
