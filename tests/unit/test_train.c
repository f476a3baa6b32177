/* test_train.c: the training driver's pure parts: the --schedule/--augment call syntax and its
 * errors, the schedules' closed forms, and what each augmentation does to a known image.
 * (Parity with torch.optim and torch.optim.lr_scheduler is tests/train.test.sh's job.) */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "train.h"

static void test_call_syntax(void) {
    char err[RT_ERR_LEN];
    CnnTrainDefaults d = {0};
    int milestones[CALL_MAX_LIST];
    CU_ASSERT(schedule_parse("step(3, gamma = 0.5)", &d, milestones, err));
    CU_ASSERT_EQUAL(d.schedule, CNN_SCHED_STEP);
    CU_ASSERT_EQUAL(d.step_every, 3);
    CU_ASSERT_DOUBLE_EQUAL(d.gamma, 0.5, 1e-7);
    CU_ASSERT(schedule_parse("multistep([2, 5])", &d, milestones, err));
    CU_ASSERT_EQUAL(d.nmilestones, 2);
    CU_ASSERT_EQUAL(d.milestones[1], 5);
    CU_ASSERT_DOUBLE_EQUAL(d.gamma, 0.1, 1e-7);
    CU_ASSERT(schedule_parse("cosine", &d, milestones, err));
    CU_ASSERT_EQUAL(d.schedule, CNN_SCHED_COSINE);
    CU_ASSERT(schedule_parse("plateau(patience = 2)", &d, milestones, err));
    CU_ASSERT_EQUAL(d.patience, 2);
    CU_ASSERT_DOUBLE_EQUAL(d.factor, 0.5, 1e-7);

    CU_ASSERT(!schedule_parse("step", &d, milestones, err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "needs its argument 'every'"));
    CU_ASSERT(!schedule_parse("step(2, gama = 0.5)", &d, milestones, err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no argument 'gama'"));
    CU_ASSERT(!schedule_parse("multistep([3, 2])", &d, milestones, err));
    CU_ASSERT(!schedule_parse("step(2.5)", &d, milestones, err));
    CU_ASSERT(!schedule_parse("step(2", &d, milestones, err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "expected ',' or ')'"));
    CU_ASSERT(!schedule_parse("warmup", &d, milestones, err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown schedule 'warmup'"));

    CnnAugment a[8];
    int n;
    CU_ASSERT(augment_parse("hflip, random_crop(pad=2), rotate(15), erase(p = 1)", a, 8, &n, err));
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT_EQUAL(a[0].kind, CNN_AUG_HFLIP);
    CU_ASSERT_DOUBLE_EQUAL(a[0].p, 0.5, 1e-7);
    CU_ASSERT_EQUAL(a[1].pad, 2);
    CU_ASSERT_DOUBLE_EQUAL(a[2].degrees, 15, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(a[3].p, 1, 1e-7);
    CU_ASSERT(augment_parse("none", a, 8, &n, err));
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT(!augment_parse("hflip(p = 2)", a, 8, &n, err));
    CU_ASSERT(!augment_parse("rotate", a, 8, &n, err));
    CU_ASSERT(!augment_parse("hflip,", a, 8, &n, err));
}

static void test_schedules(void) {
    Schedule s = {.kind = CNN_SCHED_COSINE, .base_lr = 0.1, .min_lr = 0.01, .epochs = 10};
    schedule_start(&s);
    for (int e = 0; e < 10; e++) {
        double closed = 0.01 + (0.1 - 0.01) * (1 + cos(3.14159265358979323846 * e / 10)) / 2;
        CU_ASSERT_DOUBLE_EQUAL(schedule_lr(&s, 1), closed, 1e-12);
        schedule_epoch_end(&s, e, 0);
    }
    s = (Schedule){.kind = CNN_SCHED_ONECYCLE, .max_lr = 1.0, .total_steps = 100};
    schedule_start(&s);
    CU_ASSERT_DOUBLE_EQUAL(schedule_lr(&s, 1), 1.0 / 25, 1e-12);     /* initial lr */
    CU_ASSERT_DOUBLE_EQUAL(schedule_lr(&s, 30), 1.0, 1e-12);         /* the peak at step 0.3 T - 1 */
    CU_ASSERT_DOUBLE_EQUAL(schedule_lr(&s, 100), 1.0 / 25 / 1e4, 1e-12);
    s = (Schedule){.kind = CNN_SCHED_PLATEAU, .base_lr = 1, .factor = 0.5, .patience = 1};
    schedule_start(&s);
    double losses[] = {1.0, 0.5, 0.5, 0.5, 0.49999, 0.49998};
    double want[] = {1, 1, 1, 0.5, 0.5, 0.25};   /* the lr after each epoch */
    for (int e = 0; e < 6; e++) {
        schedule_epoch_end(&s, e, losses[e]);
        CU_ASSERT_DOUBLE_EQUAL(s.lr, want[e], 1e-12);
    }
}

enum { C = 2, H = 5, W = 7 };

static void fill(float *x) {
    for (int i = 0; i < C * H * W; i++)
        x[i] = (float)(i + 1) / (C * H * W);
}

static void test_augment(void) {
    float x[C * H * W], y[C * H * W], scratch[C * H * W];
    Rng r;
    rng_seed(&r, 1);
    fill(x);
    memcpy(y, x, sizeof x);
    CnnAugment flip = {.kind = CNN_AUG_HFLIP, .p = 1};
    augment_batch(&flip, 1, &r, y, 1, C, H, W, scratch);
    CU_ASSERT_EQUAL(y[0], x[W - 1]);
    CU_ASSERT_EQUAL(y[H * W + 2 * W + 1], x[H * W + 2 * W + W - 2]);
    CnnAugment vflip = {.kind = CNN_AUG_VFLIP, .p = 0};
    augment_batch(&vflip, 1, &r, y, 1, C, H, W, scratch);   /* p = 0: unchanged */
    CU_ASSERT_EQUAL(y[0], x[W - 1]);

    /* random_crop with pad 0 and translate by less than half a pixel leave the image alone. */
    memcpy(y, x, sizeof x);
    CnnAugment same[2] = {{.kind = CNN_AUG_RANDOM_CROP, .pad = 0}, {.kind = CNN_AUG_TRANSLATE, .fraction = 0.05f}};
    augment_batch(same, 2, &r, y, 1, C, H, W, scratch);
    CU_ASSERT(memcmp(x, y, sizeof x) == 0);

    /* random_crop: a shift of at most pad pixels with zero fill; the sum can only shrink. */
    for (int t = 0; t < 20; t++) {
        memcpy(y, x, sizeof x);
        CnnAugment crop = {.kind = CNN_AUG_RANDOM_CROP, .pad = 2};
        augment_batch(&crop, 1, &r, y, 1, C, H, W, scratch);
        int dx = 99, dy = 99;   /* find the shift from the pixel that came from (2, 3) */
        for (int yy = 0; yy < H; yy++)
            for (int xx = 0; xx < W; xx++)
                if (y[yy * W + xx] == x[2 * W + 3])
                    dx = xx - 3, dy = yy - 2;
        CU_ASSERT(abs(dx) <= 2 && abs(dy) <= 2);
    }

    /* rotate by (nearly) nothing keeps the image; by 180 degrees (the range's end) the centre
     * pixel stays. */
    memcpy(y, x, sizeof x);
    CnnAugment tiny = {.kind = CNN_AUG_ROTATE, .degrees = 1e-6f};
    augment_batch(&tiny, 1, &r, y, 1, C, H, W, scratch);
    for (int i = 0; i < C * H * W; i++)
        CU_ASSERT_DOUBLE_EQUAL(y[i], x[i], 1e-5);

    /* rotate turns counter-clockwise by the angle it draws (torchvision's RandomRotation): a
     * bright pixel 3 to the right of the centre of a 9x9 image lands next to (4 - 3 sin a,
     * 4 + 3 cos a) (row, column; rows grow downwards). The angle is read from a copy of the stream; seeds
     * whose angle is too small to show the direction are passed over. */
    int turned = 0;
    for (uint64_t seed = 1; seed < 40 && turned < 3; seed++) {
        enum { S = 9 };
        float img[S * S] = {0}, scr[S * S];
        img[4 * S + 7] = 1.0f;
        Rng rr, copy;
        rng_seed(&rr, seed);
        copy = rr;
        double deg = -90.0 + 180.0 * rng_uniform(&copy), a = deg * 3.14159265358979323846 / 180.0;
        if (fabs(deg) < 30 || fabs(deg) > 80)
            continue;
        CnnAugment rot = {.kind = CNN_AUG_ROTATE, .degrees = 90};
        augment_batch(&rot, 1, &rr, img, 1, 1, S, S, scr);
        int best = 0;
        for (int i = 1; i < S * S; i++)
            best = img[i] > img[best] ? i : best;
        CU_ASSERT(fabs(best / S - (4 - 3 * sin(a))) < 1.0);   /* the brightest pixel is a neighbour */
        CU_ASSERT(fabs(best % S - (4 + 3 * cos(a))) < 1.0);   /* of the point (bilinear weights) */
        turned++;
    }
    CU_ASSERT_EQUAL(turned, 3);

    /* erase with p = 1: one rectangle of zeros, 2% to 33% of the image, in every channel. */
    for (int t = 0; t < 20; t++) {
        memcpy(y, x, sizeof x);
        CnnAugment er = {.kind = CNN_AUG_ERASE, .p = 1};
        augment_batch(&er, 1, &r, y, 1, C, H, W, scratch);
        int zeros0 = 0, zeros1 = 0;
        for (int i = 0; i < H * W; i++) {
            zeros0 += y[i] == 0;
            zeros1 += y[H * W + i] == 0;
        }
        CU_ASSERT_EQUAL(zeros0, zeros1);
        CU_ASSERT(zeros0 == 0 || (zeros0 >= 1 && zeros0 <= H * W * 0.4));
    }
}

void suite_train(void) {
    CU_pSuite s = CU_add_suite("train", NULL, NULL);
    CU_add_test(s, "--schedule and --augment syntax", test_call_syntax);
    CU_add_test(s, "schedules", test_schedules);
    CU_add_test(s, "augmentations", test_augment);
}
