/* train.c: `train`, the training driver of a standalone program. It reads the model's train
 * section (cnntrain.h) with every setting overridable by a flag, loads the data, and runs
 * epochs of: shuffle, batch, augment, NAME_train_step (gradients added into grads), gradient
 * clipping, NAME_update with the scheduled learning rate; then evaluation, the schedule's
 * epoch step, checkpoints (last and best, with optimizer state and everything a resumed run
 * needs), log.csv, curves.svg and report.html (report.c).
 *
 * Determinism: every random draw comes from a stream derived from (seed, what, index): the
 * shuffle of epoch e from (seed, e), the augmentation and dropout of the k-th batch from
 * (seed, k). Nothing depends on the history of the process, so a run resumed from
 * last.safetensors ends with exactly the weights of an uninterrupted run.
 *
 * Data pipeline: while the step runs on one batch, a second thread gathers, converts and
 * augments the next one into the other of two buffers. Each batch's content depends only on
 * (seed, epoch, its index), never on which thread made it or when, so results do not change
 * with the thread count. Training accuracy comes from the training forward's own logits
 * (cnn_step_opts.correct), with no extra pass. */
#include "ckpt.h"
#include "cli.h"
#include "dist.h"
#include "rt.h"
#include "train.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
    "train --data DIR [OPTIONS]\n"
    "\n"
    "Trains the model on DIR (IDX files as MNIST ships them, CIFAR-10 binary batches, or train/ and\n"
    "test/ folders of class folders of images), evaluating after every epoch, and writes into the\n"
    "save directory last.safetensors and best.safetensors (all tensors with PyTorch's names, the\n"
    "optimizer state as optim.m.NAME / optim.v.NAME, and what --resume needs), log.csv,\n"
    "curves.svg (loss, accuracy, learning rate and seconds per epoch) and report.html (settings,\n"
    "curves and the test split's confusion matrix; a static page that opens offline). The last\n"
    "line printed is 'test accuracy: NN.NN%' on the test split.\n"
    "Defaults come from the model's train section; every flag overrides one setting (cnnc's\n"
    "docs/training.md has the details).\n"
    "\n"
    "Data and output:\n"
    "  --data DIR             the dataset (required)\n"
    "  --val-split F          hold out the fraction F of the training images (a seeded random\n"
    "                         choice) for validation; default 0: validate on the test split\n"
    "  --no-shuffle           keep the file order (default: a fresh seeded shuffle every epoch)\n"
    "  --limit N              train on the first N training images only (quick experiments)\n"
    "  --save DIR             where checkpoints and logs go (default ./NAME-run)\n"
    "  --save-every N         also keep epoch-N.safetensors every N epochs (0: off, the default)\n"
    "  --resume CKPT          continue from a last.safetensors (or best.safetensors); pass the\n"
    "                         same settings, and --epochs for the new total\n"
    "  --init-from W          start from the tensors of W.safetensors whose names and shapes match\n"
    "                         (the others keep their fresh values and are listed); a file that\n"
    "                         initializes no tensor is an error unless --allow-empty\n"
    "  --allow-empty          let --init-from initialize nothing\n"
    "  --init KIND            default, kaiming_normal, kaiming_uniform, xavier_uniform, xavier_normal,\n"
    "                         normal, uniform or constant,\n"
    "                         with torch.nn.init's arguments: 'kaiming_normal(mode=fan_out,\n"
    "                         nonlinearity=relu)', 'normal(std=0.01)', 'uniform(-0.1, 0.1)',\n"
    "                         'constant(0.5)' (weights; biases start at 0 but with default)\n"
    "  --quiet                print only the final line\n"
    "  --threads T            OpenMP threads\n"
    "Recipe:\n"
    "  --epochs N --batch N --seed S\n"
    "                         batch can be at most the compiled batch (cnnc --batch N)\n"
    "  --optimizer sgd|adam|adamw   --lr X --momentum X --nesterov --weight-decay X\n"
    "  --beta1 X --beta2 X --eps X\n"
    "                         a different optimizer than the train section's starts from the\n"
    "                         spec's defaults for it (adamw: weight decay 0.01); lr is kept\n"
    "  --schedule S           constant, 'step(every, gamma=0.1)', 'multistep([3, 6], gamma=0.1)',\n"
    "                         'exponential(gamma)', 'cosine(min_lr=0, t_max=epochs)',\n"
    "                         'onecycle(max_lr, pct_start=0.3, cycle_momentum=false)',\n"
    "                         'plateau(factor=0.5, patience=5, mode=min)' (mode max: on the\n"
    "                         validation accuracy) (as torch.optim.lr_scheduler,\n"
    "                         stepped per epoch; onecycle per optimizer step)\n"
    "  --warmup N             N epochs of linear warm-up before the schedule, from F x lr\n"
    "  --warmup-factor F      (default 1/3), as SequentialLR([LinearLR, schedule], [N])\n"
    "  --loss cross_entropy|focal   --label-smoothing X --focal-gamma X --focal-alpha X\n"
    "  --class-weights W,W,...      cross-entropy weight per class, or none\n"
    "  --clip-grad-norm X     clip the global L2 norm of the gradients (0: off)\n"
    "  --accumulate N         add the gradients of N batches (each scaled 1/N) per update\n"
    "  --augment LIST         'hflip, random_crop(pad=4), rotate(15), translate(0.1), erase',\n"
    "                         'random_crop(32, pad=4)' (the size must be the input's),\n"
    "                         'color_jitter(brightness, contrast, saturation, hue)', 'grayscale(p)',\n"
    "                         'random_resized_crop(scale=[0.08, 1], ratio=[0.75, 1.333])',\n"
    "                         'affine(degrees, translate, scale=[lo, hi], shear)',\n"
    "                         'resize(S), center_crop' (shorter side to S, back to the input's size), or none\n"
    "  --early-stop P         stop after P epochs without a better validation loss (0: off)\n"
    "  --min-delta X          the improvement that counts for --early-stop\n"
    "  --freeze PREFIX        do not update tensors named PREFIX or PREFIX.* (repeatable)\n"
    "  --lr-for PREFIX=X      learning rate X for tensors named PREFIX or PREFIX.* (repeatable; the\n"
    "                         longest matching prefix wins; adds to the train section's lr_for).\n"
    "                         Schedules scale it as they scale --lr: X * lr(t) / lr(0)\n";

/* Random streams: each derived from (seed, stream, index). */
enum { STREAM_VAL_SPLIT = 1, STREAM_SHUFFLE, STREAM_AUGMENT, STREAM_DROPOUT };

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t stream_seed(uint64_t seed, uint64_t stream, uint64_t index) {
    return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL * stream) ^ (index + 0x632be59bd9b4e019ULL));
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

enum { MAX_AUGMENT = 16 };

/* One training batch: images (converted and augmented), labels, and augmentation scratch. */
typedef struct Batch {
    float *x, *scratch;
    int *labels;
} Batch;

/* One training run: settings, data, memory and the state a checkpoint carries. */
typedef struct Run {
    const CnnModel *m;
    CnnTrainDefaults cfg;
    int milestones[CALL_MAX_LIST];
    CnnAugment augment[MAX_AUGMENT];
    float *class_weights;          /* --class-weights */
    const char **freeze;
    int nfreeze;
    const char **lr_for_prefix;    /* --lr-for groups, the train section's first */
    double *lr_for_value;
    int nlr_for;
    double *lr_scale;              /* per tensor: its learning rate over the base one */
    unsigned char *group_frozen;   /* update() mask of one learning-rate group */
    bool allow_empty;
    int save_every;                /* --save-every: epoch-N.safetensors every N epochs; 0: off */
    double val_split;
    int limit;                     /* --limit: the first N training images (0: all) */
    bool shuffle, quiet, tty;
    bool fused;                    /* NAME_train_step_update: no accumulation, no clipping */
    char nonfinite_start[200];     /* the first non-finite weight at the start (--allow-nonfinite), or "" */
    const char *data, *save;
    InitSpec init;
    char init_text[160];

    Dataset train, test;
    int *train_idx, ntrain;        /* the images trained on (file order) */
    int *val_idx, nval;            /* held out, or all of the test split */
    const Dataset *val;
    const char *val_name;          /* "val" or "test" */

    float *params, *grads, *state, *work, *x, *out, *scratch;
    int *labels, *perm;
    Batch next;                    /* the second batch buffer of the pipeline */
    unsigned char *frozen;
    char **optim_names;            /* optim.m.NAME and optim.v.NAME per tensor */

    Schedule sched;
    int epochs_done;
    long long opt_step, batches_done;
    double best_val_acc;
    int best_epoch;
    double early_best;
    int early_bad;
    EpochRow *history;
    int nhistory;
} Run;

/* ---- options ------------------------------------------------------------------------------ */

static bool parse_num(const char *name, const char *text, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v) || v < lo || v > hi) {
        cli_error(EXIT_USAGE, "%s needs a number from %g to %g, not '%s'", name, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_int(const char *name, const char *text, long long lo, long long hi, int *out) {
    long long v;
    if (!cli_int(name, text, lo, hi, &v))
        return false;
    *out = (int)v;
    return true;
}

static bool set_float(const char *name, const char *text, double lo, double hi, float *field) {
    double v;
    if (!text)
        return true;
    if (!parse_num(name, text, lo, hi, &v))
        return false;
    *field = (float)v;
    return true;
}

/* The settings when a model carries no train section (every compiled program has one). */
static const CnnTrainDefaults fallback = {
    .epochs = 10, .batch = 64, .accumulate = 1, .optimizer = CNN_ADAM, .lr = 1e-3f, .beta1 = 0.9f,
    .beta2 = 0.999f, .eps = 1e-8f, .focal_gamma = 2, .focal_alpha = 1, .gamma = 0.1f, .factor = 0.5f,
    .patience = 5,
};

typedef struct Flags {
    const char *data, *epochs, *batch, *lr, *seed, *optimizer, *momentum, *weight_decay, *beta1, *beta2,
        *eps, *schedule, *clip, *accumulate, *loss, *smoothing, *focal_gamma, *focal_alpha, *val_split,
        *augment, *early_stop, *min_delta, *init, *init_from, *resume, *save, *threads, *class_weights, *save_every,
        *warmup, *warmup_factor, *limit;
    bool nesterov, no_shuffle, quiet, allow_empty;
} Flags;

/* Applies the flags to run->cfg; false after printing a usage error. */
static bool apply_flags(Run *run, const Flags *f) {
    CnnTrainDefaults *d = &run->cfg;
    const CnnModel *m = run->m;
    char err[RT_ERR_LEN];
    if ((f->epochs && !parse_int("--epochs", f->epochs, 1, 1000000, &d->epochs)) ||
        (f->batch && !parse_int("--batch", f->batch, 1, 1000000, &d->batch)) ||
        (f->accumulate && !parse_int("--accumulate", f->accumulate, 1, 1000000, &d->accumulate)))
        return false;
    if (f->seed) {
        long long s;
        if (!cli_int("--seed", f->seed, 0, INT64_MAX, &s))
            return false;
        d->seed = s;
    }
    if (f->optimizer) {
        int kind = train_vocab_find("optimizer", f->optimizer);
        char names[64];
        if (kind < 0)
            return cli_error(EXIT_USAGE, "--optimizer takes %s, not '%s'", train_vocab_names("optimizer", names, sizeof names),
                             f->optimizer), false;
        if (kind != d->optimizer) {   /* the new optimizer's defaults (train_vocab.def) */
            d->optimizer = kind;
            d->momentum = (float)train_vocab_optimizer_default(kind, "momentum");
            d->nesterov = (int)train_vocab_optimizer_default(kind, "nesterov");
            d->beta1 = (float)train_vocab_optimizer_default(CNN_ADAM, "beta1");
            d->beta2 = (float)train_vocab_optimizer_default(CNN_ADAM, "beta2");
            d->eps = (float)train_vocab_optimizer_default(CNN_ADAM, "eps");
            d->weight_decay = (float)train_vocab_optimizer_default(kind, "weight_decay");
        }
    }
    if (!set_float("--lr", f->lr, 1e-30, 3e38, &d->lr) || !set_float("--momentum", f->momentum, 0, 0.999999, &d->momentum) ||
        !set_float("--weight-decay", f->weight_decay, 0, 1e30, &d->weight_decay) ||
        !set_float("--beta1", f->beta1, 0, 0.999999, &d->beta1) || !set_float("--beta2", f->beta2, 0, 0.999999999, &d->beta2) ||
        !set_float("--eps", f->eps, 1e-30, 1, &d->eps) || !set_float("--clip-grad-norm", f->clip, 0, 1e30, &d->clip_grad_norm) ||
        !set_float("--label-smoothing", f->smoothing, 0, 0.999999, &d->label_smoothing) ||
        !set_float("--focal-gamma", f->focal_gamma, 0, 1e6, &d->focal_gamma) ||
        !set_float("--focal-alpha", f->focal_alpha, 1e-30, 1e6, &d->focal_alpha) ||
        !set_float("--min-delta", f->min_delta, 0, 1e30, &d->early_min_delta))
        return false;
    if (f->nesterov)
        d->nesterov = 1;
    if (d->nesterov && d->optimizer == CNN_SGD && d->momentum <= 0)
        return cli_error(EXIT_USAGE, "--nesterov needs a momentum above 0 (as torch.optim.SGD)"), false;
    if (f->loss) {
        char names[64];
        d->loss = train_vocab_find("loss", f->loss);
        if (d->loss < 0)
            return cli_error(EXIT_USAGE, "--loss takes %s, not '%s'", train_vocab_names("loss", names, sizeof names),
                             f->loss), false;
    }
    if (f->class_weights && strcmp(f->class_weights, "none") == 0) {
        d->nclass_weight = 0;
        d->class_weight = NULL;
    } else if (f->class_weights) {
        if (!(run->class_weights = calloc(m->out_size, sizeof(float))))
            return cli_error(EXIT_BAD_INPUT, "out of memory"), false;
        const char *p = f->class_weights;
        size_t n = 0;
        for (;;) {
            char *end;
            double v = strtod(p, &end);
            if (end == p || v < 0 || !isfinite(v) || n == m->out_size)
                return cli_error(EXIT_USAGE, "--class-weights needs %zu numbers >= 0 separated by commas, not '%s'",
                                 m->out_size, f->class_weights),
                       false;
            run->class_weights[n++] = (float)v;
            p = end;
            while (*p == ' ')
                p++;
            if (!*p)
                break;
            if (*p++ != ',')
                return cli_error(EXIT_USAGE, "--class-weights needs numbers separated by commas, not '%s'",
                                 f->class_weights),
                       false;
        }
        if (n != m->out_size)
            return cli_error(EXIT_USAGE, "--class-weights has %zu numbers, the model %zu classes", n, m->out_size),
                   false;
        d->nclass_weight = (int)n;
        d->class_weight = run->class_weights;
    }
    if (f->schedule && !schedule_parse(f->schedule, d, run->milestones, err))
        return cli_error(EXIT_USAGE, "%s", err), false;
    if (f->augment) {
        int n;
        if (!augment_parse(f->augment, run->augment, MAX_AUGMENT, &n, err))
            return cli_error(EXIT_USAGE, "%s", err), false;
        d->naugment = n;
        d->augment = run->augment;
    }
    if (f->early_stop) {
        int p;
        if (!parse_int("--early-stop", f->early_stop, 0, 1000000, &p))
            return false;
        d->early_stop = p > 0;
        d->early_patience = p;
    }
    if (f->init) {
        if (!init_spec_parse(f->init, &run->init, err, sizeof err))
            return cli_error(EXIT_USAGE, "%s", err), false;
        init_spec_text(&run->init, run->init_text, sizeof run->init_text);
    }
    if (f->limit && !parse_int("--limit", f->limit, 1, 2000000000, &run->limit))
        return false;
    run->val_split = 0;
    if (f->val_split && !parse_num("--val-split", f->val_split, 0, 0.99, &run->val_split))
        return false;
    if (f->threads) {
        int t;
        if (!parse_int("--threads", f->threads, 1, 4096, &t))
            return false;
        if (m->set_threads)
            m->set_threads(t);
    }
    if (d->batch > m->batch)
        return cli_error(EXIT_USAGE,
                         "batch %d is larger than the compiled batch %d (compile with 'cnnc --batch %d' for larger "
                         "batches)",
                         d->batch, m->batch, d->batch),
               false;
    if (d->loss == CNN_LOSS_CROSS_ENTROPY && d->nclass_weight && (size_t)d->nclass_weight != m->out_size)
        return cli_error(EXIT_USAGE, "the train section's loss has %d class weights, the model %zu classes",
                         d->nclass_weight, m->out_size),
               false;
    if (f->save_every && !parse_int("--save-every", f->save_every, 0, 1000000, &run->save_every))
        return false;
    if ((f->warmup && !parse_int("--warmup", f->warmup, 0, 1000000, &d->warmup)) ||
        !set_float("--warmup-factor", f->warmup_factor, 1e-9, 1, &d->warmup_factor))
        return false;
    if (d->warmup > 0 && d->schedule == CNN_SCHED_ONECYCLE)
        return cli_error(EXIT_USAGE, "--warmup does not combine with onecycle, which has its own warm-up "
                                     "(pct_start)"),
               false;
    if (f->allow_empty && !f->init_from)
        return cli_error(EXIT_USAGE, "--allow-empty goes with --init-from"), false;
    if (f->init_from && f->resume)
        return cli_error(EXIT_USAGE, "--init-from and --resume exclude each other (a checkpoint to resume "
                                     "holds every tensor)"),
               false;
    for (int i = 0; i < d->naugment; i++) {   /* the flag's list or the train section's */
        const CnnAugment *a = &d->augment[i];
        if (a->kind == CNN_AUG_RANDOM_CROP && a->size && m->in_rank == 3 &&
            (a->size != m->in_shape[1] || a->size != m->in_shape[2]))
            return cli_error(EXIT_USAGE, "augment: random_crop's size %d is not the model's input %dx%d (the crop "
                             "keeps the input's size; random_resized_crop crops and resizes)",
                             a->size, m->in_shape[1], m->in_shape[2]),
                   false;
        if (a->kind == CNN_AUG_CENTER_CROP && a->size && m->in_rank == 3 &&
            (a->size != m->in_shape[1] || a->size != m->in_shape[2]))
            return cli_error(EXIT_USAGE, "augment: center_crop's size %d is not the model's input %dx%d (the batch "
                             "keeps the input's size)",
                             a->size, m->in_shape[1], m->in_shape[2]),
                   false;
        if (a->kind == CNN_AUG_RESIZE && m->in_rank == 3) {
            int rh, rw;
            augment_resize_size(m->in_shape[1], m->in_shape[2], a->size, &rh, &rw);
            bool cropped = i + 1 < d->naugment && d->augment[i + 1].kind == CNN_AUG_CENTER_CROP;
            if (!cropped && (rh != m->in_shape[1] || rw != m->in_shape[2]))
                return cli_error(EXIT_USAGE, "augment: resize(%d) makes the %dx%d input %dx%d; follow it with "
                                 "center_crop to keep the model's input size",
                                 a->size, m->in_shape[2], m->in_shape[1], rw, rh),
                       false;
        }
    }
    if (d->schedule == CNN_SCHED_PLATEAU && d->patience < 0)
        d->patience = 0;
    return true;
}

/* ---- data --------------------------------------------------------------------------------- */

static bool check_labels(const Dataset *ds, const char *dir, const char *split, size_t classes, char *err) {
    for (int i = 0; i < ds->n; i++)
        if (ds->labels[i] < 0 || (size_t)ds->labels[i] >= classes)
            return rt_fail(err, "%s: %s label %d (image %d) is out of range: the model has %zu classes", dir, split,
                           ds->labels[i], i, classes);
    return true;
}

static bool load_data(Run *run, char *err) {
    const CnnModel *m = run->m;
    if (m->in_rank != 3)
        return rt_fail(err, "train needs a model that takes images [C, H, W]; %s takes [%d]", m->name, m->in_shape[0]);
    int c = m->in_shape[0], h = m->in_shape[1], w = m->in_shape[2];
    if (!dataset_load(run->data, SPLIT_TRAIN, c, h, w, true, &run->train, err) ||
        !check_labels(&run->train, run->data, "train", m->out_size, err) ||
        !dataset_load(run->data, SPLIT_TEST, c, h, w, true, &run->test, err) ||
        !check_labels(&run->test, run->data, "test", m->out_size, err))
        return false;
    if (!run->quiet) {   /* the one visible step between the files and the model's input */
        char what[64 + 4096];
        snprintf(what, sizeof what, "%s (train)", run->data);
        dataset_report_resize(&run->train, what, stdout);
        snprintf(what, sizeof what, "%s (test)", run->data);
        dataset_report_resize(&run->test, what, stdout);
    }
    if (run->train.n == 0)
        return rt_fail(err, "%s: no training images", run->data);
    if (run->test.n == 0)
        return rt_fail(err, "%s: the test split has no images", run->data);
    int n = run->limit && run->limit < run->train.n ? run->limit : run->train.n;
    int nval = run->val_split > 0 ? (int)llround(run->val_split * n) : 0;
    if (run->val_split > 0 && nval < 1)
        nval = 1;
    if (nval >= n)
        return rt_fail(err, "%s: --val-split %g leaves no training images of %d", run->data, run->val_split, n);
    run->train_idx = rt_alloc_array((size_t)n, sizeof(int), "image indices", err);
    run->perm = rt_alloc_array((size_t)n, sizeof(int), "image indices", err);
    if (!run->train_idx || !run->perm)
        return false;
    if (nval) {
        /* A seeded random choice of nval images; both parts stay in file order. */
        unsigned char *held = rt_alloc((size_t)n, "the validation split", err);
        run->val_idx = rt_alloc_array((size_t)nval, sizeof(int), "image indices", err);
        if (!held || !run->val_idx) {
            free(held);
            return false;
        }
        for (int i = 0; i < n; i++)
            run->perm[i] = i;
        Rng r;
        rng_seed(&r, stream_seed((uint64_t)run->cfg.seed, STREAM_VAL_SPLIT, 0));
        rng_shuffle(&r, run->perm, n);
        for (int i = 0; i < nval; i++)
            held[run->perm[i]] = 1;
        int kt = 0, kv = 0;
        for (int i = 0; i < n; i++) {
            if (held[i])
                run->val_idx[kv++] = i;
            else
                run->train_idx[kt++] = i;
        }
        free(held);
        run->ntrain = kt;
        run->nval = kv;
        run->val = &run->train;
        run->val_name = "val";
    } else {
        for (int i = 0; i < n; i++)
            run->train_idx[i] = i;
        run->ntrain = n;
        run->val_idx = NULL;
        run->nval = run->test.n;
        run->val = &run->test;
        run->val_name = "test";
    }
    return true;
}

/* ---- memory, weights, checkpoints --------------------------------------------------------- */

static bool alloc_memory(Run *run, char *err) {
    const CnnModel *m = run->m;
    size_t image = m->in_size, batch = (size_t)m->batch;
    if (!(run->params = cli_alloc_floats(m->param_floats, "the parameters", err)) ||
        (!run->fused && !(run->grads = cli_alloc_floats(m->param_floats, "the gradients", err))) ||
        !(run->state = cli_alloc_floats(m->state_floats, "the optimizer state", err)) ||
        !(run->work = cli_alloc_floats(m->work_floats, "the workspace", err)) ||
        !(run->x = cli_alloc_floats(batch * image, "a batch", err)) ||
        !(run->out = cli_alloc_floats(batch * m->out_size, "a batch's outputs", err)) ||
        !(run->scratch = cli_alloc_floats(image, "augmentation", err)) ||
        !(run->labels = rt_alloc_array(batch, sizeof(int), "labels", err)) ||
        !(run->next.x = cli_alloc_floats(batch * image, "a batch", err)) ||
        !(run->next.scratch = cli_alloc_floats(image, "augmentation", err)) ||
        !(run->next.labels = rt_alloc_array(batch, sizeof(int), "labels", err)) ||
        !(run->frozen = rt_alloc((size_t)m->ntensors, "frozen flags", err)) ||
        !(run->group_frozen = rt_alloc((size_t)m->ntensors, "frozen flags", err)) ||
        !(run->lr_scale = rt_alloc_array((size_t)m->ntensors, sizeof(double), "learning rates", err)) ||
        !(run->optim_names = rt_alloc_array(2 * (size_t)m->ntensors, sizeof(char *), "names", err)))
        return false;
    for (int i = 0; i < m->ntensors; i++)
        for (int k = 0; k < 2; k++) {
            size_t len = strlen(m->tensors[i].name) + 10;
            char *s = rt_alloc(len, "names", err);
            if (!s)
                return false;
            snprintf(s, len, "optim.%c.%s", k ? 'v' : 'm', m->tensors[i].name);
            run->optim_names[2 * i + k] = s;
        }
    return true;
}

static void free_run(Run *run) {
    free(run->params), free(run->grads), free(run->state), free(run->work), free(run->x), free(run->out);
    free(run->scratch), free(run->labels), free(run->frozen), free(run->perm), free(run->train_idx);
    free(run->next.x), free(run->next.scratch), free(run->next.labels);
    free(run->group_frozen), free(run->lr_scale);
    free(run->val_idx), free(run->history), free(run->class_weights);
    if (run->optim_names)
        for (int i = 0; i < 2 * run->m->ntensors; i++)
            free(run->optim_names[i]);
    free(run->optim_names);
    dataset_free(&run->train);
    dataset_free(&run->test);
}

/* Freeze prefixes: NAME equals the prefix or starts with prefix + '.'. */
static bool set_frozen(Run *run) {
    const CnnModel *m = run->m;
    for (int f = 0; f < run->nfreeze; f++) {
        const char *p = run->freeze[f];
        size_t len = strlen(p);
        int hits = 0;
        for (int i = 0; i < m->ntensors; i++) {
            const char *name = m->tensors[i].name;
            if (strncmp(name, p, len) == 0 && (name[len] == 0 || name[len] == '.')) {
                run->frozen[i] = 1;
                hits++;
            }
        }
        if (!hits)
            return cli_error(EXIT_USAGE, "freeze prefix '%s' matches no tensor of %s (e.g. '%s')", p, m->name,
                             m->ntensors ? m->tensors[0].name : "none"),
                   false;
    }
    return true;
}

/* --lr-for groups: each tensor takes the value of the longest prefix that matches it (a later
 * group of the same prefix replaces an earlier one); every prefix must match a tensor. */
static bool set_lr_groups(Run *run) {
    const CnnModel *m = run->m;
    for (int i = 0; i < m->ntensors; i++) {
        run->lr_scale[i] = 1;
        size_t best = 0;
        const char *name = m->tensors[i].name;
        for (int g = 0; g < run->nlr_for; g++) {
            const char *p = run->lr_for_prefix[g];
            size_t len = strlen(p);
            if (len >= best && strncmp(name, p, len) == 0 && (name[len] == 0 || name[len] == '.')) {
                best = len;
                run->lr_scale[i] = run->lr_for_value[g] / run->cfg.lr;
            }
        }
    }
    for (int g = 0; g < run->nlr_for; g++) {
        const char *p = run->lr_for_prefix[g];
        size_t len = strlen(p);
        int hits = 0;
        for (int i = 0; i < m->ntensors; i++)
            hits += strncmp(m->tensors[i].name, p, len) == 0 &&
                    (m->tensors[i].name[len] == 0 || m->tensors[i].name[len] == '.');
        if (!hits)
            return cli_error(EXIT_USAGE, "--lr-for prefix '%s' matches no tensor of %s (e.g. '%s')", p, m->name,
                             m->ntensors ? m->tensors[0].name : "none"),
                   false;
    }
    return true;
}

/* One optimizer step with per-group learning rates: the generated update once per distinct
 * rate, every tensor outside the group masked as frozen (updates are per tensor, so this is
 * the step torch.optim takes with parameter groups). */
static void update_groups(Run *run, cnn_optim *opt, double lr) {
    const CnnModel *m = run->m;
    if (run->nlr_for == 0) {
        opt->lr = (float)lr;
        m->update(run->params, run->grads, run->state, opt);
        return;
    }
    for (int lead = 0; lead < m->ntensors; lead++) {
        double scale = run->lr_scale[lead];
        bool first = !run->frozen[lead] && m->tensors[lead].trained;
        for (int j = 0; first && j < lead; j++)
            first = run->frozen[j] || !m->tensors[j].trained || run->lr_scale[j] != scale;
        if (!first)
            continue;
        for (int i = 0; i < m->ntensors; i++)
            run->group_frozen[i] = (unsigned char)(run->frozen[i] || run->lr_scale[i] != scale);
        opt->frozen = run->group_frozen;
        opt->lr = (float)(lr * scale);
        m->update(run->params, run->grads, run->state, opt);
    }
    opt->frozen = run->frozen;
}

/* --init-from: every tensor whose name and shape match; the rest are listed. */
static bool init_from(Run *run, const char *path, char *err) {
    const CnnModel *m = run->m;
    Ckpt *c = ckpt_read(path, err);
    if (!c)
        return false;
    int loaded = 0;
    for (int i = 0; i < m->ntensors; i++) {
        const CnnTensorInfo *t = &m->tensors[i];
        const CkptTensor *ct = ckpt_find(c, t->name);
        int64_t shape[4];
        for (int k = 0; k < t->rank; k++)
            shape[k] = t->shape[k];
        char have[96], want[96];
        ckpt_format_shape(shape, t->rank, want, sizeof want);
        if (!ct) {
            if (!run->quiet)
                printf("skipped %s: not in %s\n", t->name, path);
            continue;
        }
        bool same = ct->rank == t->rank;
        for (int k = 0; same && k < t->rank; k++)
            same = ct->shape[k] == t->shape[k];
        if (!same) {
            ckpt_format_shape(ct->shape, ct->rank, have, sizeof have);
            if (!run->quiet)
                printf("skipped %s: shape %s in file, model has %s\n", t->name, have, want);
            continue;
        }
        if (ct->dtype != CKPT_F32 && ct->dtype != CKPT_F64) {
            if (!run->quiet)
                printf("skipped %s: dtype %s in file, model has F32\n", t->name, ckpt_dtype_name(ct->dtype));
            continue;
        }
        if (!ckpt_get_f32(c, t->name, t->shape, t->rank, run->params + t->offset, err)) {
            ckpt_free(c);
            return false;
        }
        loaded++;
    }
    ckpt_free(c);
    if (!run->quiet)
        printf("initialized %d of %d tensors from %s\n", loaded, m->ntensors, path);
    if (loaded == 0 && !run->allow_empty)
        return rt_fail(err, "%s: initializes no tensor of %s (no name with a matching shape; a PyTorch "
                       "checkpoint needs '%s import' first; --allow-empty trains from scratch anyway)",
                       path, m->name, cli_prog);
    return true;
}

static void history_csv(const Run *run, char *buf, size_t size, bool header) {
    size_t k = 0;
    buf[0] = 0;
    if (header)
        k += (size_t)snprintf(buf, size, "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n");
    for (int i = 0; i < run->nhistory && k < size; i++) {
        const EpochRow *r = &run->history[i];
        k += (size_t)snprintf(buf + k, size - k, "%d,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", r->epoch, r->train_loss,
                              r->train_acc, r->val_loss, r->val_acc, r->lr, r->seconds);
    }
}

static size_t history_bytes(const Run *run) {
    return 128 + (size_t)run->nhistory * 200;
}

static bool write_checkpoint(const Run *run, const char *path, char *err) {
    const CnnModel *m = run->m;
    CkptWriter *w = ckpt_writer_new();
    size_t hb = history_bytes(run);
    char *hist = malloc(hb);
    if (!w || !hist) {
        ckpt_writer_free(w);
        free(hist);
        return rt_fail(err, "%s: out of memory", path);
    }
    history_csv(run, hist, hb, false);
    char v[16][48];
    int k = 0;
#define META_NUM(key, fmt, value)                          \
    do {                                                   \
        snprintf(v[k], sizeof v[k], fmt, value);           \
        ckpt_add_meta(w, key, v[k++]);                     \
    } while (0)
    ckpt_add_meta(w, "format", "cnnc-train 1");
    ckpt_add_meta(w, "model", m->name);
    META_NUM("epoch", "%d", run->epochs_done);
    META_NUM("step", "%lld", run->opt_step);
    META_NUM("batches", "%lld", run->batches_done);
    META_NUM("lr", "%.17g", run->sched.lr);
    META_NUM("plateau_best", "%.17g", run->sched.plateau_best);
    META_NUM("plateau_bad", "%d", run->sched.plateau_bad);
    META_NUM("best_val_acc", "%.17g", run->best_val_acc);
    META_NUM("best_epoch", "%d", run->best_epoch);
    META_NUM("early_best", "%.17g", run->early_best);
    META_NUM("early_bad", "%d", run->early_bad);
    META_NUM("seed", "%lld", (long long)run->cfg.seed);
    META_NUM("batch", "%d", run->cfg.batch);
    META_NUM("optimizer", "%d", run->cfg.optimizer);
    META_NUM("train_images", "%d", run->ntrain);
#undef META_NUM
    ckpt_add_meta(w, "history", hist);
    for (int i = 0; i < m->ntensors; i++) {
        const CnnTensorInfo *t = &m->tensors[i];
        ckpt_add_f32(w, t->name, t->shape, t->rank, run->params + t->offset);
    }
    const int64_t batches = run->batches_done;
    cli_add_batch_counters(w, m, &batches);
    for (int i = 0; i < m->ntensors; i++) {
        const CnnTensorInfo *t = &m->tensors[i];
        if (!t->trained)
            continue;
        ckpt_add_f32(w, run->optim_names[2 * i], t->shape, t->rank, run->state + t->offset);
        ckpt_add_f32(w, run->optim_names[2 * i + 1], t->shape, t->rank, run->state + m->param_floats + t->offset);
    }
    bool ok = ckpt_write(w, path, err);
    ckpt_writer_free(w);
    free(hist);
    return ok;
}

static bool meta_number(const Ckpt *c, const char *key, double *out, char *err) {
    const char *s = ckpt_meta(c, key);
    char *end;
    if (!s)
        return rt_fail(err, "%s: no metadata '%s' (not a checkpoint written by train)", c->path, key);
    *out = strtod(s, &end);
    if (end == s || *end)
        return rt_fail(err, "%s: metadata '%s' is '%s', not a number", c->path, key, s);
    return true;
}

static bool parse_history(Run *run, const char *text, const char *path, char *err) {
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    run->history = rt_alloc_array((size_t)lines + (size_t)run->cfg.epochs + 1, sizeof(EpochRow), "the history", err);
    if (!run->history)
        return false;
    const char *p = text;
    while (*p) {
        EpochRow *r = &run->history[run->nhistory];
        int used = 0;
        if (sscanf(p, "%d,%lf,%lf,%lf,%lf,%lf,%lf%n", &r->epoch, &r->train_loss, &r->train_acc, &r->val_loss,
                   &r->val_acc, &r->lr, &r->seconds, &used) != 7)
            return rt_fail(err, "%s: metadata 'history' is malformed", path);
        run->nhistory++;
        p += used;
        while (*p == '\n')
            p++;
    }
    return true;
}

static bool resume(Run *run, const char *path, char *err) {
    const CnnModel *m = run->m;
    Ckpt *c = ckpt_read(path, err);
    if (!c)
        return false;
    bool ok = true;
    const char *model = ckpt_meta(c, "model");
    if (model && strcmp(model, m->name) != 0)
        ok = rt_fail(err, "%s: a checkpoint of model '%s', not '%s'", path, model, m->name);
    for (int i = 0; ok && i < m->ntensors; i++) {
        const CnnTensorInfo *t = &m->tensors[i];
        ok = ckpt_get_f32(c, t->name, t->shape, t->rank, run->params + t->offset, err);
        if (ok && t->trained)
            ok = ckpt_get_f32(c, run->optim_names[2 * i], t->shape, t->rank, run->state + t->offset, err) &&
                 ckpt_get_f32(c, run->optim_names[2 * i + 1], t->shape, t->rank,
                              run->state + m->param_floats + t->offset, err);
    }
    double epoch = 0, step = 0, batches = 0, bad = 0, best_epoch = 0, early_bad = 0, seed = 0, batch = 0, opt = 0;
    ok = ok && meta_number(c, "epoch", &epoch, err) && meta_number(c, "step", &step, err) &&
         meta_number(c, "batches", &batches, err) && meta_number(c, "lr", &run->sched.lr, err) &&
         meta_number(c, "plateau_best", &run->sched.plateau_best, err) && meta_number(c, "plateau_bad", &bad, err) &&
         meta_number(c, "best_val_acc", &run->best_val_acc, err) && meta_number(c, "best_epoch", &best_epoch, err) &&
         meta_number(c, "early_best", &run->early_best, err) && meta_number(c, "early_bad", &early_bad, err) &&
         meta_number(c, "seed", &seed, err) && meta_number(c, "batch", &batch, err) &&
         meta_number(c, "optimizer", &opt, err);
    const char *hist = ckpt_meta(c, "history");
    if (ok && !hist)
        ok = rt_fail(err, "%s: no metadata 'history' (not a checkpoint written by train)", path);
    ok = ok && parse_history(run, hist, path, err);
    if (ok) {
        run->epochs_done = (int)epoch;
        run->opt_step = (long long)step;
        run->batches_done = (long long)batches;
        run->sched.plateau_bad = (int)bad;
        run->best_epoch = (int)best_epoch;
        run->early_bad = (int)early_bad;
        if (!run->quiet && ((long long)seed != run->cfg.seed || (int)batch != run->cfg.batch ||
                            (int)opt != run->cfg.optimizer))
            fprintf(stderr, "%s: note: %s was trained with seed %lld, batch %d; this run uses seed %lld, batch %d%s\n",
                    cli_prog, path, (long long)seed, (int)batch, (long long)run->cfg.seed, run->cfg.batch,
                    (int)opt != run->cfg.optimizer ? " and another optimizer" : "");
    }
    ckpt_free(c);
    return ok;
}

static bool write_logs(const Run *run, char *err) {
    size_t hb = history_bytes(run);
    char *csv = malloc(hb), *path = NULL;
    if (!csv)
        return rt_fail(err, "out of memory (log.csv)");
    history_csv(run, csv, hb, true);
    bool ok = (path = rt_path_join(run->save, "log.csv", err)) && rt_write_file_atomic(path, csv, strlen(csv), err);
    free(path);
    free(csv);
    path = NULL;
    ok = ok && (path = rt_path_join(run->save, "curves.svg", err)) &&
         plot_curves(path, run->history, run->nhistory, run->val_name, err);
    free(path);
    return ok;
}

/* ---- the loop ----------------------------------------------------------------------------- */

static void clip_gradients(const Run *run, double max_norm) {
    const CnnModel *m = run->m;
    double sum = 0;
    for (int i = 0; i < m->ntensors; i++) {
        const CnnTensorInfo *t = &m->tensors[i];
        if (!t->trained || run->frozen[i])
            continue;
        const float *g = run->grads + t->offset;
        for (size_t k = 0; k < t->numel; k++)
            sum += (double)g[k] * g[k];
    }
    double coef = max_norm / (sqrt(sum) + 1e-6);   /* torch.nn.utils.clip_grad_norm_ */
    if (coef >= 1)
        return;
    for (int i = 0; i < m->ntensors; i++) {
        const CnnTensorInfo *t = &m->tensors[i];
        if (!t->trained || run->frozen[i])
            continue;
        float *g = run->grads + t->offset;
        for (size_t k = 0; k < t->numel; k++)
            g[k] = (float)(g[k] * coef);
    }
}

static void format_duration(double s, char *buf, size_t size) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

static void progress(const Run *run, int epoch, int b, int nb, double images, double seconds, double loss,
                     double acc) {
    char eta[32];
    double rate = seconds > 0 ? images / seconds : 0;
    double left = b > 0 ? seconds / b * (nb - b) : 0;
    format_duration(left, eta, sizeof eta);
    char bar[21];
    int filled = nb ? 20 * b / nb : 0;
    for (int i = 0; i < 20; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[20] = 0;
    printf("\r\033[Kepoch %d/%d [%s] %d/%d  %.0f img/s  loss %.4f  acc %.2f%%  ETA %s", epoch + 1, run->cfg.epochs,
           bar, b, nb, rate, loss, acc, eta);
    fflush(stdout);
}

/* Whether floats p[0..n) hold an inf or NaN: the exponent bits all ones, OR-ed over the span
 * (a loop compilers vectorize; the check runs after every step, 2% of LeNet-5's epoch as a
 * scalar loop that stopped at the first non-finite element). */
static bool any_nonfinite(const float *p, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, p + i, sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return bad != 0;
}

/* The first NaN or infinity in a parameter-shaped block (weights or gradients): its tensor
 * and element, written into buf ("conv0.weight element 12 is NaN"); false when all are finite. */
static bool find_nonfinite(const CnnModel *m, const float *block, char *buf, size_t size) {
    if (!any_nonfinite(block, m->param_floats))
        return false;
    for (int t = 0; t < m->ntensors; t++) {
        const CnnTensorInfo *ti = &m->tensors[t];
        for (size_t i = 0; i < ti->numel; i++) {
            float v = block[ti->offset + i];
            if (!isfinite(v)) {
                snprintf(buf, size, "%s element %zu is %s", ti->name, i, isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf");
                return true;
            }
        }
    }
    return false;
}

/* Why the loss stopped being finite, looked at in order: the input batch, the weights the
 * step used, else the activations (the forward pass overflowed with finite weights and input). */
static void diagnose_loss(const Run *run, const float *x, int count, bool weights_known, char *buf, size_t size) {
    const CnnModel *m = run->m;
    size_t per = (size_t)m->in_shape[0] * (size_t)m->in_shape[1] * (size_t)m->in_shape[2];
    for (size_t i = 0; i < per * (size_t)count; i++)
        if (!isfinite(x[i])) {
            snprintf(buf, size, "the input batch is non-finite (image %zu of the batch, element %zu)", i / per, i % per);
            return;
        }
    /* Fused steps have already updated the weights; they were checked after every update,
     * so only the starting weights can be to blame there. */
    char what[200];
    if (weights_known ? find_nonfinite(m, run->params, what, sizeof what)
                      : snprintf(what, sizeof what, "%s", run->nonfinite_start) > 0) {
        snprintf(buf, size, "the weights are non-finite (%s)", what);
        return;
    }
    snprintf(buf, size, "the activations overflowed: the weights and the input are finite");
}

/* Gathers, converts and augments one batch: the images idx[0..count), the k-th batch of the
 * run (its augmentation stream). Reads only the dataset and the settings. */
typedef struct BatchJob {
    const Run *run;
    const int *idx;
    int count;
    uint64_t k;
    Batch *dst;
} BatchJob;

static void prepare_batch(const BatchJob *j) {
    const Run *run = j->run;
    const CnnModel *m = run->m;
    dataset_batch_f32(&run->train, j->idx, j->count, j->dst->x);
    for (int i = 0; i < j->count; i++)
        j->dst->labels[i] = run->train.labels[j->idx[i]];
    if (run->cfg.naugment) {
        Rng r;
        rng_seed(&r, stream_seed((uint64_t)run->cfg.seed, STREAM_AUGMENT, j->k));
        augment_batch(run->cfg.augment, run->cfg.naugment, &r, j->dst->x, j->count, m->in_shape[0], m->in_shape[1],
                      m->in_shape[2], j->dst->scratch);
    }
}

/* The pipeline's helper thread, one per epoch: it prepares the batch posted to it while the
 * step runs (a thread created per batch cost 4% of LeNet-5's epoch in the kernel). Without
 * it (pthread_create failed) batches are prepared on the step's thread. */
typedef struct Loader {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    BatchJob job;
    enum { LOADER_IDLE, LOADER_POSTED, LOADER_QUIT } state;
    bool running;
} Loader;

static void *loader_main(void *arg) {
    Loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (l->state == LOADER_IDLE)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->state == LOADER_QUIT)
            break;
        BatchJob job = l->job;
        pthread_mutex_unlock(&l->mu);
        prepare_batch(&job);
        pthread_mutex_lock(&l->mu);
        l->state = LOADER_IDLE;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void loader_start(Loader *l) {
    l->state = LOADER_IDLE;
    l->running = false;
    if (pthread_mutex_init(&l->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&l->cv, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        return;
    }
    l->running = pthread_create(&l->thread, NULL, loader_main, l) == 0;
    if (!l->running) {
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
    }
}

/* Prepares job on the helper (or here, without one). */
static void loader_post(Loader *l, const BatchJob *job) {
    if (!l->running) {
        prepare_batch(job);
        return;
    }
    pthread_mutex_lock(&l->mu);
    l->job = *job;
    l->state = LOADER_POSTED;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Waits until the posted batch is ready. */
static void loader_wait(Loader *l) {
    if (!l->running)
        return;
    pthread_mutex_lock(&l->mu);
    while (l->state == LOADER_POSTED)
        pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

static void loader_stop(Loader *l) {
    if (!l->running)
        return;
    loader_wait(l);
    pthread_mutex_lock(&l->mu);
    l->state = LOADER_QUIT;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    l->running = false;
}

/* onecycle's momentum cycling: SGD's momentum or Adam's beta1 for step opt->step. */
static void cycle_momentum(const Run *run, cnn_optim *opt) {
    if (!run->sched.cycle_momentum)
        return;
    float m = (float)schedule_momentum(&run->sched, opt->step);
    if (opt->kind == CNN_SGD)
        opt->momentum = m;
    else
        opt->beta1 = m;
}

/* ---- data parallelism (dist.h: MPI with cnnc --mpi, else one rank) ------------------------ */

/* The weight the loss gives images labels[0..n): the mean loss divides by it. */
static double loss_weight(const cnn_step_opts *so, const int *labels, int n) {
    double w = 0;
    for (int i = 0; i < n; i++)
        w += so->loss == CNN_LOSS_CROSS_ENTROPY && so->class_weight ? so->class_weight[labels[i]] : 1.0;
    return w;
}

/* One rank's part of a training step on a batch of count images (labels all the batch's):
 * its slice xs, ls of local images (maybe none). Its gradients are scaled by its share of the
 * batch's loss weight, so the sum over ranks (dist_sum_floats before the update) is the
 * batch's gradient. Returns the batch's loss, the same on every rank. */
static float dist_train_step(Run *run, cnn_step_opts *so, const float *xs, const int *ls, int local,
                             const int *labels, int count) {
    float scale = so->grad_scale;
    double wl = loss_weight(so, ls, local), wb = loss_weight(so, labels, count);
    so->grad_scale = (float)(wb > 0 ? scale * (wl / wb) : 0.0);
    double part = local ? (double)run->m->train_step(run->params, run->grads, run->work, xs, ls, local, so) * wl : 0.0;
    so->grad_scale = scale;
    dist_sum_doubles(&part, 1);
    return (float)(wb > 0 ? part / wb : 0.0);
}

/* The epoch's correct predictions over every rank. */
static void dist_share_train_acc(const Run *run, int *correct) {
    if (dist_size() < 2)
        return;
    double v = *correct;
    dist_sum_doubles(&v, 1);
    *correct = (int)v;
    /* Ranks without images in a short batch skipped batchnorm's running statistics: every
     * rank continues from rank 0's tensors. */
    dist_bcast_floats(run->params, run->m->param_floats);
}

/* Rank 0's evaluation, for every rank's schedule and early stop. */
static void dist_share_eval(EvalResult *r) {
    double v[3] = {r->loss, (double)r->correct, (double)r->n};
    dist_bcast_doubles(v, 3);
    r->loss = v[0], r->correct = (long long)v[1], r->n = (long long)v[2];
}

/* After rank 0 initialized or resumed: every rank starts from its tensors, optimizer state
 * and counters. */
static bool dist_share_start(Run *run, char *err) {
    if (dist_size() < 2)
        return true;
    const CnnModel *m = run->m;
    double v[10] = {run->epochs_done, (double)run->opt_step, (double)run->batches_done, run->sched.lr,
                    run->sched.plateau_best, run->sched.plateau_bad, run->best_val_acc, run->best_epoch,
                    run->early_best, run->early_bad};
    dist_bcast_doubles(v, 10);
    run->epochs_done = (int)v[0], run->opt_step = (long long)v[1], run->batches_done = (long long)v[2];
    run->sched.lr = v[3], run->sched.plateau_best = v[4], run->sched.plateau_bad = (int)v[5];
    run->best_val_acc = v[6], run->best_epoch = (int)v[7], run->early_best = v[8], run->early_bad = (int)v[9];
    dist_bcast_floats(run->params, m->param_floats);
    dist_bcast_floats(run->state, m->state_floats);
    if (!run->history)   /* rank 0 keeps the history; the others need room for the rows */
        run->history = rt_alloc_array((size_t)run->cfg.epochs + 1, sizeof(EpochRow), "the history", err);
    return dist_all(run->history != NULL);
}

/* One epoch of training (train_epoch, below, with its batch loader running); false (and err)
 * when the loss stops being finite. */
static bool train_epoch_on(Run *run, Loader *loader, int epoch, double *loss_out, double *acc_out, char *err) {
    const CnnModel *m = run->m;
    const CnnTrainDefaults *d = &run->cfg;
    int B = d->batch, n = run->ntrain, nb = (n + B - 1) / B, accum = d->accumulate;
    uint64_t seed = (uint64_t)d->seed;
    memcpy(run->perm, run->train_idx, sizeof(int) * (size_t)n);
    if (run->shuffle) {
        Rng r;
        rng_seed(&r, stream_seed(seed, STREAM_SHUFFLE, (uint64_t)epoch));
        rng_shuffle(&r, run->perm, n);
    }
    cnn_step_opts so = {
        .loss = d->loss, .label_smoothing = d->label_smoothing,
        .class_weight = d->loss == CNN_LOSS_CROSS_ENTROPY && d->nclass_weight ? d->class_weight : NULL,
        .focal_gamma = d->focal_gamma, .focal_alpha = d->focal_alpha, .grad_scale = 1.0f / (float)accum,
        .dropout = 1, .update_stats = 1,
    };
    cnn_optim opt = {
        .kind = d->optimizer, .momentum = d->momentum, .weight_decay = d->weight_decay, .beta1 = d->beta1,
        .beta2 = d->beta2, .eps = d->eps, .nesterov = d->nesterov, .frozen = run->frozen,
    };
    double loss_sum = 0, t0 = now_seconds(), last_draw = 0;
    long long seen = 0;
    int correct = 0;
    so.correct = &correct;
    /* Two buffers: the step reads buf[b % 2] while a thread fills buf[(b + 1) % 2]. */
    Batch buf[2] = {{run->x, run->scratch, run->labels}, run->next};
    BatchJob job = {run, run->perm, n < B ? n : B, (uint64_t)run->batches_done, &buf[0]};
    prepare_batch(&job);
    for (int b = 0; b < nb; b++) {
        int start = b * B, count = n - start < B ? n - start : B;
        const Batch *cur = &buf[b % 2];
        uint64_t k = (uint64_t)run->batches_done;
        if (b + 1 < nb) {
            int next = (b + 1) * B;
            job = (BatchJob){run, run->perm + next, n - next < B ? n - next : B, k + 1, &buf[(b + 1) % 2]};
            loader_post(loader, &job);
        }
        int first, local;   /* this rank's images of the batch (all of them in one process) */
        dist_slice(count, &first, &local);
        if (!run->fused && b % accum == 0)
            memset(run->grads, 0, sizeof(float) * m->param_floats);
        so.seed = stream_seed(seed, STREAM_DROPOUT, k);
        bool group_end = (b + 1) % accum == 0 || b == nb - 1;
        float loss;
        if (run->fused) {   /* the same result as train_step on zeroed gradients, then update */
            opt.step = run->opt_step + 1;
            opt.lr = (float)schedule_lr(&run->sched, opt.step);
            cycle_momentum(run, &opt);
            loss = m->train_step_update(run->params, run->state, run->work, cur->x, cur->labels, count, &so, &opt);
            run->opt_step++;
        } else if (dist_size() > 1) {
            loss = dist_train_step(run, &so, cur->x + (size_t)first * m->in_size, cur->labels + first, local,
                                   cur->labels, count);
        } else {
            loss = m->train_step(run->params, run->grads, run->work, cur->x, cur->labels, count, &so);
        }
        loader_wait(loader);
        if (!isfinite(loss)) {
            if (run->tty && !run->quiet)
                printf("\r\033[K");
            char why[300];
            diagnose_loss(run, cur->x, count, !run->fused, why, sizeof why);
            return rt_fail(err, "the loss is %s at epoch %d, step %d of %d: %s (learning rate %g)",
                           isnan(loss) ? "NaN" : "infinite", epoch + 1, b + 1, nb, why,
                           run->fused ? (double)opt.lr : schedule_lr(&run->sched, run->opt_step + 1));
        }
        /* Gradients and updated weights are checked as they are made, so a NaN is reported
         * where it first appears rather than as a NaN loss one step later. */
        char what[200];
        if (run->fused && find_nonfinite(m, run->params, what, sizeof what)) {
            if (run->tty && !run->quiet)
                printf("\r\033[K");
            return rt_fail(err, "the weights became non-finite in the update at epoch %d, step %d of %d (%s; the "
                           "loss was %g): the gradients or the optimizer state overflowed (learning rate %g)",
                           epoch + 1, b + 1, nb, what, (double)loss, (double)opt.lr);
        }
        if (!run->fused && group_end && find_nonfinite(m, run->grads, what, sizeof what)) {
            if (run->tty && !run->quiet)
                printf("\r\033[K");
            return rt_fail(err, "the gradients are non-finite at epoch %d, step %d of %d (gradient of %s; the loss "
                           "was %g): the backward pass overflowed (learning rate %g)",
                           epoch + 1, b + 1, nb, what, (double)loss, schedule_lr(&run->sched, run->opt_step + 1));
        }
        loss_sum += (double)loss * count;
        seen += count;
        run->batches_done++;
        if (!run->fused && group_end) {
            dist_sum_floats(run->grads, m->param_floats);
            if (d->clip_grad_norm > 0)
                clip_gradients(run, d->clip_grad_norm);
            run->opt_step++;
            opt.step = run->opt_step;
            cycle_momentum(run, &opt);
            update_groups(run, &opt, schedule_lr(&run->sched, run->opt_step));
        }
        if (run->tty && !run->quiet) {
            double t = now_seconds() - t0;
            if (t - last_draw >= 0.1 || b == nb - 1) {
                last_draw = t;
                progress(run, epoch, b + 1, nb, (double)seen, t, loss_sum / seen, 100.0 * correct / seen);
            }
        }
    }
    if (run->tty && !run->quiet) {
        printf("\r\033[Kepoch %d/%d  evaluating on %d %s images...", epoch + 1, d->epochs, run->nval, run->val_name);
        fflush(stdout);
    }
    dist_share_train_acc(run, &correct);
    *loss_out = loss_sum / seen;
    *acc_out = 100.0 * correct / seen;
    return true;
}

static bool train_epoch(Run *run, int epoch, double *loss_out, double *acc_out, char *err) {
    Loader loader;
    loader_start(&loader);
    bool ok = train_epoch_on(run, &loader, epoch, loss_out, acc_out, err);
    loader_stop(&loader);
    return ok;
}

/* mkdir -p */
static bool make_dir(const char *path, char *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return rt_fail(err, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && !(errno == EEXIST && rt_is_dir(buf)))
            return rt_fail(err, "%s: cannot make the directory: %s", buf, strerror(errno == EEXIST ? ENOTDIR : errno));
        if (!(*p = c))
            return true;
    }
}

/* Temporary files a killed run left in the save directory ("last.safetensors.tmp.PID", written
 * by rt_atomic_open) are removed, unless process PID still runs (another run writing there). */
static void remove_stale_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t || !t[5])
            continue;
        char *end;
        long pid = strtol(t + 5, &end, 10);
        if (*end || pid <= 0 || (pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH)))
            continue;
        char err[RT_ERR_LEN];
        char *path = rt_path_join(dir, e->d_name, err);
        if (path)
            unlink(path);
        free(path);
    }
    closedir(d);
}

/* Fails now, before any epoch, when the save directory does not take new files. */
static bool check_writable(const char *dir, char *err) {
    char name[64];
    snprintf(name, sizeof name, ".write-test.tmp.%ld", (long)getpid());
    char *path = rt_path_join(dir, name, err);
    if (!path)
        return false;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    bool ok = fd >= 0 && write(fd, "x", 1) == 1;
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(path);
    free(path);
    return ok || rt_fail(err, "%s: cannot write checkpoints there: %s", dir, strerror(e ? e : EIO));
}

/* report.html in the save directory: the run's settings, curves, epochs and the test split's
 * confusion matrix (report.c). */
static bool write_report(const Run *run, const Confusion *cm, double test_acc, double seconds, char *err) {
    const CnnModel *m = run->m;
    const CnnTrainDefaults *d = &run->cfg;
    static const char *const optimizers[] = {"sgd", "adam", "adamw"};
    ReportSetting set[24];
    int k = 0;
#define SET(name, ...) (set[k].key = (name), snprintf(set[k].value, sizeof set[k].value, __VA_ARGS__), k++)
    char count[48];
    SET("model", "%s (%s), %s trained parameters", m->name, m->source, cli_group(m->trained_params, count, sizeof count));
    SET("data", "%s: %d training images, %s %d images", run->data, run->ntrain, run->val_idx ? "validation" : "test", run->nval);
    SET("epochs", "%d of %d", run->epochs_done, d->epochs);
    SET("batch", "%d%s", d->batch, d->accumulate > 1 ? " (gradients accumulated)" : "");
    if (d->accumulate > 1)
        SET("accumulate", "%d batches per update", d->accumulate);
    if (d->optimizer == CNN_SGD)
        SET("optimizer", "sgd: lr %g, momentum %g%s, weight decay %g", d->lr, d->momentum, d->nesterov ? " (nesterov)" : "",
            d->weight_decay);
    else
        SET("optimizer", "%s: lr %g, betas (%g, %g), eps %g, weight decay %g",
            d->optimizer >= 0 && d->optimizer < 3 ? optimizers[d->optimizer] : "?", d->lr, d->beta1, d->beta2, d->eps,
            d->weight_decay);
    SET("schedule", "%s", schedule_name(d->schedule));
    if (d->loss == CNN_LOSS_FOCAL)
        SET("loss", "focal: gamma %g, alpha %g", d->focal_gamma, d->focal_alpha);
    else if (d->label_smoothing > 0)
        SET("loss", "cross_entropy, label smoothing %g%s", d->label_smoothing,
            run->class_weights || d->nclass_weight ? ", class weights" : "");
    else
        SET("loss", "cross_entropy%s", run->class_weights || d->nclass_weight ? ", class weights" : "");
    if (d->clip_grad_norm > 0)
        SET("gradient clipping", "global L2 norm %g", d->clip_grad_norm);
    char aug[256] = "none";
    for (int i = 0, at = 0; i < d->naugment && at >= 0 && (size_t)at < sizeof aug; i++)
        at += snprintf(aug + at, sizeof aug - (size_t)at, "%s%s", i ? ", " : "", augment_name(d->augment[i].kind));
    SET("augment", "%s", aug);
    if (d->early_stop)
        SET("early stop", "patience %d, min delta %g", d->early_patience, d->early_min_delta);
    if (run->nfreeze) {
        char fr[256] = "";
        for (int i = 0, at = 0; i < run->nfreeze && at >= 0 && (size_t)at < sizeof fr; i++)
            at += snprintf(fr + at, sizeof fr - (size_t)at, "%s%s", i ? ", " : "", run->freeze[i]);
        SET("frozen", "%s", fr);
    }
    SET("seed", "%lld", d->seed);
    SET("init", "%s", run->init_text);
    SET("shuffle", "%s", run->shuffle ? "every epoch" : "off");
    if (run->best_epoch)
        SET("best", "%s accuracy %.2f%% at epoch %d", run->val_name, run->best_val_acc, run->best_epoch);
    SET("time", "%.1f s in this run", seconds);
#undef SET
    char title[300];
    snprintf(title, sizeof title, "%s: training report", m->name);
    /* An image folder may have fewer class folders than the model has classes: those are
     * named by number. */
    int nk = cm ? cm->k : 0;
    char **names = nk ? calloc((size_t)nk, sizeof *names) : NULL;
    char *numbers = nk ? calloc((size_t)nk, 16) : NULL;
    bool ok = !nk || (names && numbers) || rt_fail(err, "out of memory");
    for (int i = 0; ok && i < nk; i++) {
        if (run->test.class_names && i < run->test.nclasses) {
            names[i] = run->test.class_names[i];
        } else {
            names[i] = numbers + (size_t)i * 16;
            snprintf(names[i], 16, "%d", i);
        }
    }
    char *path = ok ? rt_path_join(run->save, "report.html", err) : NULL;
    ok = path && report_write(path, title, set, k, run->history, run->nhistory, run->val_name, cm,
                              nk ? names : run->test.class_names, test_acc, err);
    free(path);
    free(names);
    free(numbers);
    return ok;
}

static int run_training(Run *run, const char *init_path, const char *resume_path) {
    const CnnModel *m = run->m;
    const CnnTrainDefaults *d = &run->cfg;
    char err[RT_ERR_LEN];
    if (!dist_start(NULL, NULL, err))
        return cli_error(EXIT_BAD_INPUT, "%s", err);
    if (!dist_is_root())   /* rank 0 prints */
        run->quiet = true, run->tty = false;
    /* Several ranks sum their gradients before the update: train_step, then update. */
    run->fused = m->train_step_update && d->accumulate == 1 && !(d->clip_grad_norm > 0) && run->nlr_for == 0 &&
                 !getenv("CNNC_TRAIN_UNFUSED") && dist_size() == 1;
    bool ok = load_data(run, err) && alloc_memory(run, err);
    if (!dist_all(ok))
        return ok ? EXIT_BAD_INPUT : cli_error(EXIT_BAD_INPUT, "%s", err);
    if (!set_frozen(run) || !set_lr_groups(run))
        return EXIT_USAGE;

    int nb = (run->ntrain + d->batch - 1) / d->batch;
    int steps_per_epoch = (nb + d->accumulate - 1) / d->accumulate;
    run->sched = (Schedule){
        .kind = d->schedule, .base_lr = d->lr, .step_every = d->step_every > 0 ? d->step_every : 1,
        .gamma = d->gamma, .nmilestones = d->nmilestones, .milestones = d->milestones, .min_lr = d->min_lr,
        .max_lr = d->max_lr, .factor = d->factor, .patience = d->patience, .epochs = d->epochs,
        .t_max = d->t_max, .pct_start = d->pct_start, .maximize = d->plateau_max != 0, .warmup = d->warmup,
        .warmup_factor = d->warmup_factor > 0 ? d->warmup_factor : 1.0 / 3.0,
        .cycle_momentum = d->schedule == CNN_SCHED_ONECYCLE && d->cycle_momentum,
        .total_steps = (long long)d->epochs * steps_per_epoch,
    };
    schedule_start(&run->sched);
    run->best_val_acc = -1;
    run->early_best = INFINITY;
    /* Rank 0 reads the checkpoints and makes the save directory; every rank starts from its state. */
    if (resume_path) {
        ok = !dist_is_root() || resume(run, resume_path, err);
    } else {
        run->history = rt_alloc_array((size_t)d->epochs + 1, sizeof(EpochRow), "the history", err);
        ok = run->history != NULL;
        if (ok)
            cli_init_params_spec(m, run->params, &run->init, (unsigned long long)d->seed);
        if (ok && init_path && dist_is_root())
            ok = init_from(run, init_path, err);
    }
    ok = ok && (!dist_is_root() || (make_dir(run->save, err) && check_writable(run->save, err)));
    if (!dist_all(ok))
        return ok ? EXIT_BAD_INPUT : cli_error(EXIT_BAD_INPUT, "%s", err);
    if (!dist_share_start(run, err))
        return cli_error(EXIT_BAD_INPUT, "%s", err);
    if (!find_nonfinite(m, run->params, run->nonfinite_start, sizeof run->nonfinite_start))
        run->nonfinite_start[0] = 0;
    if (dist_is_root())
        remove_stale_temporaries(run->save);
    char *last_path = rt_path_join(run->save, "last.safetensors", err);
    char *best_path = last_path ? rt_path_join(run->save, "best.safetensors", err) : NULL;
    if (!best_path) {
        free(last_path);
        return cli_error(EXIT_BAD_INPUT, "%s", err);
    }

    if (!run->quiet) {
        char count[48];
        printf("training %s (%s parameters) on %s: %d images, %s %d images, batch %d%s, %d epochs\n", m->name,
               cli_group(m->trained_params, count, sizeof count), run->data, run->ntrain,
               run->val_idx ? "validation" : "test", run->nval, d->batch,
               d->accumulate > 1 ? " (accumulated)" : "", d->epochs);
        if (resume_path)
            printf("resuming from %s after epoch %d\n", resume_path, run->epochs_done);
    }
    int rc = 0;
    double t_start = now_seconds();
    EvalResult val = {0};
    bool val_current = false;   /* val holds the final weights' test-split result */
    for (int e = run->epochs_done; e < d->epochs; e++) {
        double t0 = now_seconds(), train_loss = 0, train_acc = 0;
        double lr_epoch = schedule_lr(&run->sched, run->opt_step + 1);
        if (!train_epoch(run, e, &train_loss, &train_acc, err)) {   /* the same on every rank */
            rc = dist_is_root() ? cli_error(EXIT_BAD_INPUT, "%s", err) : EXIT_BAD_INPUT;
            break;
        }
        double train_seconds = now_seconds() - t0;
        if (d->schedule == CNN_SCHED_ONECYCLE)
            lr_epoch = schedule_lr(&run->sched, run->opt_step);   /* the epoch's last */
        if (dist_is_root())
            evaluate(m, run->params, run->work, run->val, run->val_idx, run->nval, run->x, run->out, &val, NULL);
        dist_share_eval(&val);
        val_current = !run->val_idx;
        double val_loss = val.loss, val_acc = val.n ? 100.0 * val.correct / val.n : 0;
        double seconds = now_seconds() - t0;
        schedule_epoch_end(&run->sched, e, run->sched.maximize ? val_acc : val_loss);
        run->history[run->nhistory++] = (EpochRow){e + 1, train_loss, train_acc, val_loss, val_acc, lr_epoch, seconds};
        run->epochs_done = e + 1;
        bool stop = false;
        if (d->early_stop) {
            if (val_loss < run->early_best - d->early_min_delta) {
                run->early_best = val_loss;
                run->early_bad = 0;
            } else if (++run->early_bad >= d->early_patience) {
                stop = true;
            }
        }
        if (!run->quiet)
            printf("%sepoch %d/%d  train loss %.4f acc %.2f%%  %s loss %.4f acc %.2f%%  lr %.3g  %.0f img/s  %.1f s\n",
                   run->tty ? "\r\033[K" : "", e + 1, d->epochs, train_loss, train_acc, run->val_name, val_loss, val_acc, lr_epoch,
                   train_seconds > 0 ? run->ntrain / train_seconds : 0, seconds);
        bool better = val_acc > run->best_val_acc;
        if (better) {
            run->best_val_acc = val_acc;
            run->best_epoch = e + 1;
        }
        dist_protect(true);   /* a stop request waits for complete files */
        ok = !dist_is_root() || (!(better && !write_checkpoint(run, best_path, err)) &&
                                 write_checkpoint(run, last_path, err) && write_logs(run, err));
        if (ok && dist_is_root() && run->save_every && (e + 1) % run->save_every == 0) {
            char name[48];
            snprintf(name, sizeof name, "epoch-%d.safetensors", e + 1);
            char *path = rt_path_join(run->save, name, err);
            ok = path && write_checkpoint(run, path, err);
            free(path);
        }
        if (ok) {
            char note[4200];
            snprintf(note, sizeof note, "the last complete checkpoint is %s (epoch %d); --resume %s continues", last_path,
                     e + 1, last_path);
            dist_set_stop_note(note);
        }
        dist_protect(false);
        if (!dist_all(ok)) {
            rc = ok ? EXIT_BAD_INPUT : cli_error(EXIT_BAD_INPUT, "%s", err);
            break;
        }
        fflush(stdout);
        if (stop) {
            if (!run->quiet)
                printf("early stop: %s loss has not improved by more than %g for %d epochs\n", run->val_name,
                       d->early_min_delta, d->early_patience);
            break;
        }
    }
    if (rc == 0 && dist_is_root()) {
        /* The final weights on the test split, with the confusion matrix for report.html. */
        Confusion cm = {0};
        bool have_cm = confusion_init(&cm, (int)m->out_size, err);
        if (!val_current || have_cm)
            evaluate(m, run->params, run->work, &run->test, NULL, run->test.n, run->x, run->out, &val,
                     have_cm ? &cm : NULL);
        if (!write_report(run, have_cm ? &cm : NULL, val.n ? 100.0 * val.correct / val.n : 0.0, now_seconds() - t_start, err))
            rc = cli_error(EXIT_BAD_INPUT, "%s", err);
        confusion_free(&cm);
    }
    if (rc == 0) {
        if (!run->quiet && run->best_epoch)
            printf("best %s accuracy %.2f%% at epoch %d; checkpoints in %s\n", run->val_name, run->best_val_acc,
                   run->best_epoch, run->save);
        printf("test accuracy: %.2f%%\n", val.n ? 100.0 * val.correct / val.n : 0.0);
    }
    free(last_path);
    free(best_path);
    return rc;
}

int cmd_train(const CnnModel *m, int argc, char **argv) {
    if (!m->train_step || !m->update)
        return cli_error(EXIT_USAGE, "%s was compiled without training code (cnnc --no-train)", m->name);
    /* --freeze repeats: collect every occurrence, hand the rest to cli_parse. */
    int section_freeze = m->defaults ? m->defaults->nfreeze : 0;
    int section_lr = m->defaults ? m->defaults->nlr_for : 0;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    const char **freeze = calloc((size_t)argc + 1 + (size_t)section_freeze, sizeof *freeze);
    const char **lr_for = calloc((size_t)argc + 1 + (size_t)section_lr, sizeof *lr_for);
    double *lr_value = calloc((size_t)argc + 1 + (size_t)section_lr, sizeof *lr_value);
    char **lr_text = calloc((size_t)argc + 1, sizeof *lr_text);
    if (!rest || !freeze || !lr_for || !lr_value || !lr_text) {
        free(rest), free(freeze), free(lr_for), free(lr_value), free(lr_text);
        return cli_error(EXIT_BAD_INPUT, "out of memory");
    }
    int nrest = 0, nfreeze = 0, nlr_text = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                rest[nrest++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--freeze") == 0 && i + 1 < argc && argv[i + 1][0])
            freeze[nfreeze++] = argv[++i];
        else if (strncmp(argv[i], "--freeze=", 9) == 0 && argv[i][9])
            freeze[nfreeze++] = argv[i] + 9;
        else if (strcmp(argv[i], "--lr-for") == 0 && i + 1 < argc && argv[i + 1][0])
            lr_text[nlr_text++] = argv[++i];
        else if (strncmp(argv[i], "--lr-for=", 9) == 0 && argv[i][9])
            lr_text[nlr_text++] = argv[i] + 9;
        else
            rest[nrest++] = argv[i];
    }
    Flags f = {0};
    const char *freeze_missing = NULL;   /* "--freeze" without a value reaches cli_parse */
    const char *lr_for_missing = NULL;
    const CliOption opts[] = {
        {"--data", &f.data, NULL}, {"--epochs", &f.epochs, NULL}, {"--batch", &f.batch, NULL},
        {"--lr", &f.lr, NULL}, {"--seed", &f.seed, NULL}, {"--optimizer", &f.optimizer, NULL},
        {"--momentum", &f.momentum, NULL}, {"--nesterov", NULL, &f.nesterov},
        {"--weight-decay", &f.weight_decay, NULL}, {"--beta1", &f.beta1, NULL}, {"--beta2", &f.beta2, NULL},
        {"--eps", &f.eps, NULL}, {"--schedule", &f.schedule, NULL}, {"--clip-grad-norm", &f.clip, NULL},
        {"--accumulate", &f.accumulate, NULL}, {"--loss", &f.loss, NULL},
        {"--label-smoothing", &f.smoothing, NULL}, {"--focal-gamma", &f.focal_gamma, NULL},
        {"--focal-alpha", &f.focal_alpha, NULL}, {"--val-split", &f.val_split, NULL},
        {"--no-shuffle", NULL, &f.no_shuffle}, {"--augment", &f.augment, NULL},
        {"--early-stop", &f.early_stop, NULL}, {"--min-delta", &f.min_delta, NULL}, {"--init", &f.init, NULL},
        {"--init-from", &f.init_from, NULL}, {"--resume", &f.resume, NULL}, {"--save", &f.save, NULL},
        {"--threads", &f.threads, NULL}, {"--quiet", NULL, &f.quiet},
        {"--class-weights", &f.class_weights, NULL}, {"--freeze", &freeze_missing, NULL},
        {"--lr-for", &lr_for_missing, NULL}, {"--allow-empty", NULL, &f.allow_empty},
        {"--save-every", &f.save_every, NULL}, {"--limit", &f.limit, NULL}, {"--warmup", &f.warmup, NULL},
        {"--warmup-factor", &f.warmup_factor, NULL}, {0}};
    int rc = cli_parse("train", help, opts, nrest, rest, NULL, NULL);
    if (rc >= 0 || !cli_require("train", "--data DIR", f.data)) {
        free(rest), free(freeze), free(lr_for), free(lr_value), free(lr_text);
        return rc >= 0 ? rc : EXIT_USAGE;
    }
    Run run = {.m = m, .cfg = m->defaults ? *m->defaults : fallback, .data = f.data, .shuffle = !f.no_shuffle,
               .quiet = f.quiet, .tty = isatty(STDOUT_FILENO) != 0};
    init_spec_default((InitKind)run.cfg.init, &run.init);
    if (run.cfg.init_has_args) {
        run.init.fan_out = run.cfg.init_fan_out;
        run.init.nonlinearity = (Nonlinearity)run.cfg.init_nonlinearity;
        run.init.a = run.cfg.init_a, run.init.b = run.cfg.init_b, run.init.mean = run.cfg.init_mean;
        run.init.std = run.cfg.init_std, run.init.val = run.cfg.init_val, run.init.gain = run.cfg.init_gain;
    }
    init_spec_text(&run.init, run.init_text, sizeof run.init_text);
    if (run.cfg.nmilestones > CALL_MAX_LIST)
        run.cfg.nmilestones = CALL_MAX_LIST;
    /* --freeze adds to the train section's list. */
    for (int i = 0; i < run.cfg.nfreeze; i++)
        freeze[nfreeze++] = run.cfg.freeze[i];
    run.freeze = freeze;
    run.nfreeze = nfreeze;
    /* --lr-for after the train section's lr_for, so that a flag replaces the same prefix. */
    int nlr = 0;
    for (int i = 0; i < section_lr; i++) {
        lr_for[nlr] = run.cfg.lr_for_prefix[i];
        lr_value[nlr++] = run.cfg.lr_for_value[i];
    }
    for (int i = 0; i < nlr_text; i++) {
        char *eq = strrchr(lr_text[i], '='), *end = NULL;
        double v = eq ? strtod(eq + 1, &end) : 0;
        if (!eq || eq == lr_text[i] || !end || end == eq + 1 || *end || !(v > 0) || !isfinite(v)) {
            cli_error(EXIT_USAGE, "--lr-for needs PREFIX=LR with a learning rate above 0 (e.g. fc=0.01), not '%s'",
                      lr_text[i]);
            free(rest), free(freeze), free(lr_for), free(lr_value), free(lr_text);
            return EXIT_USAGE;
        }
        *eq = 0;   /* argv's own storage: the prefix ends here */
        lr_for[nlr] = lr_text[i];
        lr_value[nlr++] = v;
    }
    run.lr_for_prefix = lr_for;
    run.lr_for_value = lr_value;
    run.nlr_for = nlr;
    run.allow_empty = f.allow_empty;
    char default_save[300];
    snprintf(default_save, sizeof default_save, "./%s-run", m->name);
    run.save = f.save ? f.save : default_save;
    if (!apply_flags(&run, &f)) {
        free(run.class_weights);
        free(rest), free(freeze), free(lr_for), free(lr_value), free(lr_text);
        return EXIT_USAGE;
    }
    rc = run_training(&run, f.init_from, f.resume);
    free_run(&run);
    dist_stop();
    free(rest), free(freeze), free(lr_for), free(lr_value), free(lr_text);
    return rc;
}
