/* train.h: the pieces of the training driver (train.c, the `train` command) and of `eval`
 * (cmd_eval.c), one file each: learning-rate schedules (schedule.c), augmentation of a float
 * batch (augment.c), the small call syntax of --schedule and --augment (train_args.c),
 * evaluation and confusion matrices (metrics.c), SVG plots (plot.c). None of them prints;
 * errors follow rt.h's convention. */
#ifndef CNNC_TRAIN_H
#define CNNC_TRAIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cnnrt.h"
#include "cnntrain.h"
#include "data.h"
#include "rng.h"

/* ---- train_args.c: `name` or `name(arg, key = value, [list])` ------------------------------ */

enum { CALL_MAX_ARGS = 8, CALL_MAX_LIST = 64 };
/* The words min and max, as call_parse_list stores them (only plateau's mode takes them). */
#define CALL_WORD_MIN (-1e300)
#define CALL_WORD_MAX (-2e300)
typedef struct CallArg {
    char key[32];                  /* "" for a positional argument */
    int nvalues;                   /* 1 for a number, the length for a [list] */
    bool is_list;
    double values[CALL_MAX_LIST];
} CallArg;
typedef struct Call {
    char name[32];
    int nargs;
    CallArg args[CALL_MAX_ARGS];
} Call;

/* Parses a comma-separated list of calls from *text ("hflip, random_crop(pad = 2)"); true and
 * *n calls on success. WHAT names the flag in messages. */
bool call_parse_list(const char *what, const char *text, Call *calls, int max, int *n, char *err);

/* --schedule TEXT into the schedule fields of d (the names and defaults of docs/language.md, Training settings):
 * constant, step(every, gamma=0.1), multistep([e, ...], gamma=0.1), exponential(gamma),
 * cosine(min_lr=0), onecycle(max_lr), plateau(factor=0.5, patience=5). milestones receives
 * the multistep list (room for CALL_MAX_LIST). */
bool schedule_parse(const char *text, CnnTrainDefaults *d, int *milestones, char *err);
/* --augment TEXT ("none" or a list of the augmentations of docs/language.md) into out[0..*n). */
bool augment_parse(const char *text, CnnAugment *out, int max, int *n, char *err);
/* From train_vocab.def (shared with the compiler): the index of a loss or optimizer by name
 * (family "loss" or "optimizer"; CNN_LOSS_* / CNN_SGD...), -1 if none; the names as "a, b or c";
 * an optimizer's default for one argument ("weight_decay": adamw 0.01, the others 0). */
int train_vocab_find(const char *family, const char *name);
const char *train_vocab_names(const char *family, char *buf, size_t size);
double train_vocab_optimizer_default(int kind, const char *arg);
const char *schedule_name(int kind);
const char *augment_name(int kind);

/* ---- schedule.c: torch.optim.lr_scheduler ------------------------------------------------- */

/* The learning rate, stepped once per epoch as torch.optim.lr_scheduler does it (the same
 * recursive formulas in double precision), except onecycle, stepped once per optimizer step.
 * Everything that changes is in the checkpointed fields lr, plateau_best and plateau_bad. */
typedef struct Schedule {
    int kind;                      /* CNN_SCHED_* */
    double base_lr;
    int step_every;
    double gamma;
    int nmilestones;
    const int *milestones;
    double min_lr, max_lr, factor;
    int patience;
    int epochs;                    /* the run's epochs: cosine's T_max unless t_max is set */
    int t_max;                     /* cosine: T_max in epochs; 0: epochs */
    double pct_start;              /* onecycle: the warm-up's fraction of the steps; 0: 0.3 */
    bool maximize;                 /* plateau mode max: the metric passed in is to grow */
    bool cycle_momentum;           /* onecycle: momentum (sgd) or beta1 (adam) from 0.95 to 0.85 and back */
    int warmup;                    /* epochs of linear warm-up before the schedule (0: none) */
    double warmup_factor;          /* the first warm-up epoch's share of the lr */
    long long total_steps;         /* onecycle: epochs x optimizer steps per epoch */
    /* state */
    double lr;                     /* the epoch's learning rate (all but onecycle) */
    double plateau_best;           /* ReduceLROnPlateau's best (INFINITY at the start, -INFINITY
                                      in mode max) */
    int plateau_bad;               /* its num_bad_epochs */
} Schedule;

void schedule_start(Schedule *s);  /* state for epoch 0 */
/* After epoch `epoch` (0-based) ends: moves lr to the next epoch's value. metric feeds plateau
 * (ReduceLROnPlateau with threshold 1e-4 rel, cooldown 0, min_lr 0, eps 1e-8; mode min on the
 * validation loss, or mode max when s->maximize, on the validation accuracy). */
void schedule_epoch_end(Schedule *s, int epoch, double metric);
/* The learning rate of optimizer step `step` (1-based) in epoch `epoch`. */
double schedule_lr(const Schedule *s, long long step);
/* onecycle with cycle_momentum: the momentum (or Adam's beta1) of step `step` (1-based), as
 * OneCycleLR(base_momentum=0.85, max_momentum=0.95) sets it. */
double schedule_momentum(const Schedule *s, long long step);

/* ---- augment.c: the augmentations of docs/language.md on a float batch ------------------------- */

/* Applies the list in order to each of the n images (c x h x w, values in [0, 1] before the
 * model's own normalize), drawing from r. scratch holds c*h*w floats. */
void augment_batch(const CnnAugment *aug, int naug, Rng *r, float *x, int n, int c, int h, int w,
                   float *scratch);
/* The deterministic parts, given the random draws (for tests against torchvision):
 * color_jitter applies on[fn] of brightness (0), contrast (1), saturation (2) and hue (3) in
 * the given order with the given factors; grayscale; the crop [top, top+ch) x [left, left+cw)
 * resized bilinearly (align_corners False, no antialias) back to h x w. */
void augment_color_jitter_apply(float *img, int c, int h, int w, const int order[4], const float factor[4],
                                const bool on[4]);
void augment_grayscale_apply(float *img, int c, int h, int w);
void augment_affine_apply(float *img, float *scratch, int c, int h, int w, double angle, double tx, double ty,
                          double scale, double shear_x, double shear_y);
void augment_resized_crop_apply(float *img, float *scratch, int c, int h, int w, int top, int left, int ch, int cw);
/* resize(size)'s output size for an h x w image (the shorter side becomes size); the h x w
 * image resized bilinearly (align_corners False, no antialias) to rh x rw, then center-cropped
 * (or zero-padded) back to h x w as torchvision's center_crop does. */
void augment_resize_size(int h, int w, int size, int *rh, int *rw);
void augment_resize_center_crop_apply(float *img, float *scratch, int c, int h, int w, int rh, int rw);

/* ---- metrics.c: evaluation, confusion matrix --------------------------------------------- */

typedef struct Confusion {
    int k;                         /* classes */
    long long *counts;             /* k x k: row = true class, column = predicted */
} Confusion;
bool confusion_init(Confusion *cm, int k, char *err);
void confusion_free(Confusion *cm);

typedef struct EvalResult {
    double loss;                   /* mean cross-entropy (no smoothing, no class weights) */
    long long correct, n;
    long long correct5;            /* the label among the 5 highest outputs (all of them when
                                      fewer): fewer than 5 classes score strictly higher */
} EvalResult;

/* Per-class and averaged precision, recall and F1 from a confusion matrix, as
 * sklearn.metrics.precision_recall_fscore_support computes them (zero_division = 0): a class
 * without predictions has precision 0, without images recall 0, F1 = 2PR / (P + R) or 0.
 * Macro averages take the plain mean over the classes that occur among the labels or the
 * predictions; weighted averages weight each class by its images. */
typedef struct ClassScores {
    double precision, recall, f1;
    long long support, predicted;
} ClassScores;
typedef struct ScoreAverages {
    double macro_p, macro_r, macro_f1, weighted_p, weighted_r, weighted_f1;
} ScoreAverages;
void class_scores(const Confusion *cm, ClassScores *per_class, ScoreAverages *avg);

/* The model in eval mode (m->forward) on images idx[0..n) of ds (all images when idx is NULL),
 * batch by batch; x holds m->batch * m->in_size floats, out m->batch * m->out_size. Adds to
 * cm when it is non-NULL. Loss from logits, or -log p when the model ends in softmax. */
void evaluate(const CnnModel *m, const float *params, float *work, const Dataset *ds,
              const int *idx, int n, float *x, float *out, EvalResult *r, Confusion *cm);
/* ensemble.c: several weight files of one model, their probabilities averaged. */
typedef struct Ensemble {
    int n;                         /* weight files loaded */
    float **params;                /* n parameter blocks */
    float **packs;                 /* their packed weights (cli_pack), made at the first forward; NULL: unpacked */
    bool *packed;                  /* whether cli_pack ran for block i */
} Ensemble;
/* Loads paths[0..n) (each checked against the model as cli_load_weights does); on failure, e
 * holds what was loaded so far (free it with ensemble_free). */
bool ensemble_load(const CnnModel *m, const char *const *paths, int n, Ensemble *e, char *err);
void ensemble_free(Ensemble *e);
/* The class probabilities of one output row: its softmax, or the row when the model ends in softmax. */
void row_probabilities(const CnnModel *m, const float *row, double *p);
/* b inputs x through every member: prob[0 .. b * out_size) gets the mean of the members'
 * probabilities; prob has room for b + 1 rows; out for b output rows. */
bool ensemble_forward(const CnnModel *m, const Ensemble *e, float *work, const float *x, float *out, int b,
                      double *prob, char *err);
/* evaluate() on every image of ds for an ensemble: loss -log(mean p), accuracy and top-5 of
 * the mean probabilities. */
bool evaluate_ensemble(const CnnModel *m, const Ensemble *e, float *work, const Dataset *ds, float *x, float *out,
                       EvalResult *r, Confusion *cm, char *err);
/* Correct predictions among n rows of outputs. */
int count_correct(const float *out, const int *labels, int n, size_t k);
/* Mean of the row's cross-entropy (logits) or -log p (probabilities). */
double row_loss(const float *row, int label, size_t k, bool probabilities);

/* ---- plot.c: SVG ------------------------------------------------------------------------ */

typedef struct EpochRow {
    int epoch;                     /* 1-based */
    double train_loss, train_acc, val_loss, val_acc, lr, seconds;
} EpochRow;

/* Four panels against the epoch: loss and accuracy in % (train and validation curves, with a
 * legend), the learning rate and the seconds per epoch; axes with ticks. Written atomically. */
bool plot_curves(const char *path, const EpochRow *rows, int n, const char *val_name, char *err);
/* A confusion matrix as a heat map (row-normalized colour, counts in the cells). */
bool plot_confusion(const char *path, const Confusion *cm, char *const *names, const char *title,
                    char *err);
/* The same pictures as SVG text (malloc'd; NULL when out of memory). */
char *plot_curves_svg(const EpochRow *rows, int n, const char *val_name);
char *plot_confusion_svg(const Confusion *cm, char *const *names, const char *title);

/* ---- report.c: report.html -------------------------------------------------------------- */

/* One static HTML page, viewable offline (no scripts, no external files): the title, the
 * settings as a table of nsettings key/value pairs, the curves (plot_curves_svg), a table of
 * the epochs and the confusion matrix of the test split. Written atomically. */
typedef struct ReportSetting {
    const char *key;
    char value[256];
} ReportSetting;
bool report_write(const char *path, const char *title, const ReportSetting *settings, int nsettings,
                  const EpochRow *rows, int n, const char *val_name, const Confusion *cm, char *const *names,
                  double test_acc, char *err);

#endif
