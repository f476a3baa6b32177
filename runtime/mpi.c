/* mpi.c: dist.h on MPI, for programs built with `cnnc --mpi` (libcnnrt_mpi.a holds it in place
 * of dist.c; nothing else in the runtime includes mpi.h). Also defines what the generated
 * training code calls when compiled with -DCNN_MPI: cnn_mpi_sum, which batchnorm uses to sum
 * its per-channel statistics over the ranks that share a batch (synchronized batchnorm), and
 * cnn_mpi_first, the index in the global batch of this rank's first image (dropout masks).
 *
 * Failures: MPI returns errors here (MPI_ERRORS_RETURN) and a failed collective ends this rank
 * with one line naming the call; when another rank dies, mpirun stops the others with SIGTERM,
 * and rank 0 prints the stop note (where the last complete checkpoint is). Rank 0 writes its
 * files with SIGTERM blocked (dist_protect), so a stop never leaves a file half-written. */
#include "dist.h"

#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rt.h"

int cnn_mpi_first;                 /* read by the generated dropout code */
void cnn_mpi_sum(double *v, int n);

static int rank, size = 1;
static bool started, own_init;
static MPI_Comm bn_comm = MPI_COMM_NULL;   /* the ranks with images in the current batch */
static MPI_Comm *group_of;                 /* [count] for count < size: the first count ranks */
static unsigned char *group_made;          /* [count]: group_of[count] was split (on every rank) */
static char stop_note[1024] = "no checkpoint was written yet";

/* CNNC_MPI_STATS=1: rank 0 prints on stderr, at the end, the time spent summing gradients and
 * batchnorm statistics (docs/distributed.md compares it with the bandwidth model). Each
 * gradient sum then starts with a barrier, timed apart (waiting for the slowest rank), so the
 * allreduce time is the transfer alone. */
static struct {
    bool on;
    double start, grad_s, wait_s, bn_s, grad_bytes;
    long long grad_calls, bn_calls;
} stats;

static void die(const char *what, int rc) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    fprintf(stderr, "%s: error: rank %d of %d: %s failed (%s): another rank has stopped or the network failed; %s\n",
            cli_prog, rank, size, what, msg, stop_note);
    fflush(stderr);
    _exit(1);
}

#define CHECK(call, what)                  \
    do {                                   \
        int rc_ = (call);                  \
        if (rc_ != MPI_SUCCESS)            \
            die(what, rc_);                \
    } while (0)

/* mpirun sends SIGTERM to the other ranks when one dies. Only async-signal-safe calls here. */
static void on_stop(int sig) {
    static const char head[] = ": error: the job was stopped (another rank ended or mpirun was interrupted); ";
    if (write(2, cli_prog, strlen(cli_prog)) < 0 || write(2, head, sizeof head - 1) < 0 ||
        write(2, stop_note, strlen(stop_note)) < 0 || write(2, "\n", 1) < 0)
        _exit(1);
    _exit(1);
}

bool dist_start(int *argc, char ***argv, char *err) {
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            rt_fail(err, "MPI_Init failed: cannot start the MPI ranks");
            return false;
        }
        own_init = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    started = true;
    bn_comm = MPI_COMM_WORLD;
    const char *st = getenv("CNNC_MPI_STATS");
    stats.on = st && strcmp(st, "1") == 0;
    stats.start = MPI_Wtime();
    if (size > 1) {
        group_of = calloc((size_t)size, sizeof *group_of);
        group_made = calloc((size_t)size, 1);
        if (!group_of || !group_made) {
            rt_fail(err, "out of memory");
            return false;
        }
        for (int i = 0; i < size; i++)
            group_of[i] = MPI_COMM_NULL;
        if (rank == 0) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_stop;
            sigemptyset(&sa.sa_mask);
            sigaction(SIGTERM, &sa, NULL);
        } else if (!freopen("/dev/null", "w", stdout)) {   /* rank 0 prints */
            rt_fail(err, "rank %d: cannot silence the standard output", rank);
            return false;
        }
    }
    return true;
}

void dist_stop(void) {
    if (!started)
        return;
    if (stats.on && rank == 0) {
        double total = MPI_Wtime() - stats.start, per = stats.grad_calls ? stats.grad_s / stats.grad_calls : 0;
        double bytes = stats.grad_calls ? stats.grad_bytes / stats.grad_calls : 0;
        fprintf(stderr,
                "mpi stats: %d ranks, %.1f s; %lld gradient sums of %.0f bytes, %.3f ms each (bus bandwidth %.2f GB/s), "
                "%.1f%% of the time, %.1f%% waiting before them; %lld batchnorm sums, %.1f us each, %.1f%% of the time\n",
                size, total, stats.grad_calls, bytes, per * 1e3, per > 0 ? 2.0 * (size - 1) / size * bytes / per / 1e9 : 0,
                total > 0 ? 100 * stats.grad_s / total : 0, total > 0 ? 100 * stats.wait_s / total : 0, stats.bn_calls,
                stats.bn_calls ? stats.bn_s / stats.bn_calls * 1e6 : 0, total > 0 ? 100 * stats.bn_s / total : 0);
    }
    if (group_of) {
        for (int i = 0; i < size; i++)
            if (group_of[i] != MPI_COMM_NULL)
                MPI_Comm_free(&group_of[i]);
        free(group_of);
        group_of = NULL;
    }
    if (group_made) {
        free(group_made);
        group_made = NULL;
    }
    started = false;
    if (own_init)
        MPI_Finalize();
}

int dist_rank(void) { return rank; }
int dist_size(void) { return size; }
bool dist_is_root(void) { return rank == 0; }

void dist_slice(int count, int *first, int *n) {
    int q = count / size, r = count % size;
    *n = q + (rank < r);
    *first = rank * q + (rank < r ? rank : r);
    cnn_mpi_first = *first;
    if (count >= size || size == 1) {
        bn_comm = MPI_COMM_WORLD;
        return;
    }
    /* Fewer images than ranks (a last, short batch): batchnorm reduces over the ranks that have
     * one. Collective over every rank (all call dist_slice with the same count); made once. */
    if (!group_made[count]) {
        CHECK(MPI_Comm_split(MPI_COMM_WORLD, *n ? 0 : MPI_UNDEFINED, rank, &group_of[count]), "MPI_Comm_split");
        group_made[count] = 1;
    }
    bn_comm = *n ? group_of[count] : MPI_COMM_NULL;
}

/* CNNC_MPI_LOCAL_BN=1: every rank normalizes with its own slice's statistics, as plain
 * DistributedDataParallel without SyncBatchNorm does (for comparison; the result then depends on
 * the number of ranks). */
static int local_bn = -1;

void cnn_mpi_sum(double *v, int n) {
    if (local_bn < 0) {
        const char *e = getenv("CNNC_MPI_LOCAL_BN");
        local_bn = e && strcmp(e, "1") == 0;
    }
    if (size > 1 && bn_comm != MPI_COMM_NULL && !local_bn) {
        double t0 = stats.on ? MPI_Wtime() : 0;
        CHECK(MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, bn_comm), "MPI_Allreduce (batchnorm statistics)");
        if (stats.on)
            stats.bn_s += MPI_Wtime() - t0, stats.bn_calls++;
    }
}

enum { CHUNK = 1 << 28 };   /* MPI counts are ints */

void dist_sum_floats(float *v, size_t n) {
    if (stats.on && size > 1) {
        double w = MPI_Wtime();
        CHECK(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
        stats.wait_s += MPI_Wtime() - w;
    }
    double t0 = stats.on ? MPI_Wtime() : 0;
    for (size_t at = 0; size > 1 && at < n; at += CHUNK) {
        int k = (int)(n - at < CHUNK ? n - at : CHUNK);
        CHECK(MPI_Allreduce(MPI_IN_PLACE, v + at, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce (gradients)");
    }
    if (stats.on)
        stats.grad_s += MPI_Wtime() - t0, stats.grad_calls++, stats.grad_bytes += 4.0 * (double)n;
}

void dist_sum_doubles(double *v, int n) {
    if (size > 1)
        CHECK(MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
}

void dist_bcast_floats(float *v, size_t n) {
    for (size_t at = 0; size > 1 && at < n; at += CHUNK) {
        int k = (int)(n - at < CHUNK ? n - at : CHUNK);
        CHECK(MPI_Bcast(v + at, k, MPI_FLOAT, 0, MPI_COMM_WORLD), "MPI_Bcast");
    }
}

void dist_bcast_doubles(double *v, int n) {
    if (size > 1)
        CHECK(MPI_Bcast(v, n, MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Bcast");
}

bool dist_all(bool ok) {
    int v = ok;
    if (size > 1)
        CHECK(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD), "MPI_Allreduce");
    return v != 0;
}

void dist_protect(bool on) {
    if (size < 2 || rank != 0)
        return;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigprocmask(on ? SIG_BLOCK : SIG_UNBLOCK, &s, NULL);
}

void dist_set_stop_note(const char *note) {
    snprintf(stop_note, sizeof stop_note, "%s", note);
}
