/* schedule.c: learning-rate schedules computed as torch.optim.lr_scheduler (PyTorch 1.13)
 * computes them: the same chained formulas, in double precision like Python's floats, so that
 * the learning rate of every epoch matches torch's to the last few bits. Epoch schedules move
 * once per epoch (scheduler.step() after the epoch); onecycle moves once per optimizer step. */
#include "train.h"

#include <math.h>

static const double PI = 3.14159265358979323846;

/* Linear warm-up as torch's SequentialLR([LinearLR(start_factor, total_iters=warmup), S],
 * milestones=[warmup]): epoch e < warmup runs at base * (f + (1 - f) * e / warmup); at the
 * milestone S starts from its first epoch (SequentialLR steps it to epoch 0). */
static double warmup_lr(const Schedule *s, int e) {
    return s->base_lr * (s->warmup_factor + (1 - s->warmup_factor) * (double)e / s->warmup);
}

void schedule_start(Schedule *s) {
    s->lr = s->warmup > 0 ? warmup_lr(s, 0) : s->base_lr;
    s->plateau_best = s->maximize ? -INFINITY : INFINITY;
    s->plateau_bad = 0;
}

static int milestone_count(const Schedule *s, int epoch) {
    int count = 0;
    for (int i = 0; i < s->nmilestones; i++)
        count += s->milestones[i] == epoch;
    return count;
}

void schedule_epoch_end(Schedule *s, int epoch, double metric) {
    if (s->warmup > 0) {
        if (epoch + 1 < s->warmup) {
            s->lr = warmup_lr(s, epoch + 1);
            return;
        }
        if (epoch + 1 == s->warmup) {   /* the schedule's first epoch */
            s->lr = s->base_lr;
            return;
        }
        epoch -= s->warmup;
    }
    int e = epoch + 1;   /* the scheduler's last_epoch after this step */
    switch (s->kind) {
    case CNN_SCHED_STEP:   /* StepLR */
        if (e % s->step_every == 0)
            s->lr *= s->gamma;
        break;
    case CNN_SCHED_MULTISTEP: { /* MultiStepLR: milestones form a Counter */
        int count = milestone_count(s, e);
        if (count)
            s->lr *= pow(s->gamma, count);
        break;
    }
    case CNN_SCHED_EXPONENTIAL:
        s->lr *= s->gamma;
        break;
    case CNN_SCHED_COSINE: { /* CosineAnnealingLR(T_max, eta_min = min_lr), chained form */
        int tm = s->t_max > 0 ? s->t_max : s->epochs - s->warmup;   /* the epochs after the warm-up */
        if (tm < 1)
            tm = 1;
        double T = tm, eta = s->min_lr;
        if ((e - 1 - tm) % (2 * tm) == 0)
            s->lr = s->lr + (s->base_lr - eta) * (1 - cos(PI / T)) / 2;
        else
            s->lr = (1 + cos(PI * e / T)) / (1 + cos(PI * (e - 1) / T)) * (s->lr - eta) + eta;
        break;
    }
    case CNN_SCHED_PLATEAU: { /* ReduceLROnPlateau(mode='min' or 'max', threshold=1e-4, 'rel') */
        bool better = s->maximize ? metric > s->plateau_best * (1 + 1e-4) : metric < s->plateau_best * (1 - 1e-4);
        if (better) {
            s->plateau_best = metric;
            s->plateau_bad = 0;
        } else {
            s->plateau_bad++;
        }
        if (s->plateau_bad > s->patience) {
            double next = s->lr * s->factor;   /* max(., min_lr = 0) */
            if (s->lr - next > 1e-8)
                s->lr = next;
            s->plateau_bad = 0;
        }
        break;
    }
    default: /* constant, onecycle */
        break;
    }
}

/* OneCycleLR(max_lr, total_steps, pct_start (0.3), anneal_strategy='cos', div_factor=25,
 * final_div_factor=1e4, three_phase=False) at scheduler step k (0 before the first update). */
static double onecycle_at(const Schedule *s, long long k, double initial, double peak, double final) {
    double pct_start = s->pct_start > 0 ? s->pct_start : 0.3;
    double end1 = (double)(pct_start * (double)s->total_steps) - 1, end2 = (double)s->total_steps - 1;
    double start, end, pct;
    if ((double)k <= end1) {
        start = initial, end = peak;
        pct = end1 > 0 ? (double)k / end1 : 1.0;
    } else {
        start = peak, end = final;
        pct = end2 - end1 > 0 ? ((double)k - end1) / (end2 - end1) : 1.0;
    }
    return end + (start - end) / 2.0 * (cos(PI * pct) + 1);
}

static double onecycle_lr(const Schedule *s, long long k) {
    double initial = s->max_lr / 25.0;
    return onecycle_at(s, k, initial, s->max_lr, initial / 1e4);
}

double schedule_momentum(const Schedule *s, long long step) {
    return onecycle_at(s, step - 1, 0.95, 0.85, 0.95);
}

double schedule_lr(const Schedule *s, long long step) {
    if (s->kind == CNN_SCHED_ONECYCLE)
        return onecycle_lr(s, step - 1);
    return s->lr;
}
