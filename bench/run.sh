#!/bin/sh
# bench/run.sh: cnnc against PyTorch on this machine (`make bench`; not part of `make test`).
#
#   sh bench/run.sh [BUILD_DIR [MODEL ...]]      e.g. sh bench/run.sh build lenet5 simplecnn
#
# Measures the machine's FMA peak (bench/peak.c), compiles each model with BUILD_DIR/cnnc,
# times PROGRAM bench and the same model in PyTorch (from `cnnc --emit=torch`, via
# bench/torch_bench.py) for each thread count, and prints one table. See bench/README.md for
# the columns and for how PyTorch is given its best.
#
# Training rows: for the models named in TRAIN (default "lenet5 simplecnn resnet18_cifar
# vgg16_bn_cifar"; only
# those also in the model list; TRAIN=none for none), PROGRAM bench --train against the same
# step in PyTorch (forward, loss, backward, the train section's optimizer).
#
# Environment: THREADS (default "1 2"), BATCH and REPEAT (override every model's defaults),
# TRAIN_BATCH and TRAIN_REPEAT (the same for the training rows), TRAIN,
# PYTHON (default /usr/bin/python3), TORCH_MODE (eager, frozen or best; default best),
# BENCH_NICE (e.g. -10: run every timed command at that niceness, for a shared machine; needs
# root), CC (the C compiler for peak.c and the programs, default clang).
set -eu

B=${1:-build}
[ $# -gt 0 ] && shift
MODELS=${*:-lenet5 simplecnn resnet18_cifar alexnet resnet18 googlenet resnet50}
THREADS=${THREADS:-1 2}
PYTHON=${PYTHON:-/usr/bin/python3}
TORCH_MODE=${TORCH_MODE:-best}
CC=${CC:-clang}
export CC
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CNNC=$(cd "$B" && pwd)/cnnc
W=$(cd "$B" && pwd)/bench
mkdir -p "$W"
[ -x "$CNNC" ] || { echo "bench: $CNNC is missing; run make first" >&2; exit 1; }

NICE=""
if [ -n "${BENCH_NICE:-}" ]; then NICE="nice -n $BENCH_NICE"; fi

# Per-model defaults: batch for throughput (memory well under 8 GB) and timed calls per figure.
defaults() {
    case $1 in
    lenet5)         echo 64 50 ;;
    simplecnn)      echo 64 30 ;;
    resnet18_cifar) echo 32 10 ;;
    alexnet)        echo 8 7 ;;
    resnet18)       echo 8 5 ;;
    googlenet)      echo 8 5 ;;
    resnet50)       echo 8 3 ;;
    vgg16 | vgg16_bn) echo 4 3 ;;
    vgg16_bn_cifar) echo 32 5 ;;
    *)              echo 8 5 ;;
    esac
}
# Training rows: batch and timed steps per figure.
train_defaults() {
    case $1 in
    lenet5 | simplecnn) echo 64 30 ;;
    resnet18_cifar)     echo 64 5 ;;
    vgg16_bn | vgg16)   echo 32 3 ;;
    vgg16_bn_cifar)     echo 64 3 ;;
    *)                  echo 8 3 ;;
    esac
}
TRAIN=${TRAIN:-lenet5 simplecnn resnet18_cifar vgg16_bn_cifar}
train_models=""
for m in $MODELS; do
    for t in $TRAIN; do if [ "$m" = "$t" ]; then train_models="$train_models $m"; fi; done
done
train_batch_of() { if [ -n "${TRAIN_BATCH:-}" ]; then echo "$TRAIN_BATCH"; else train_defaults "$1" | cut -d' ' -f1; fi; }
train_repeat_of() { if [ -n "${TRAIN_REPEAT:-}" ]; then echo "$TRAIN_REPEAT"; else train_defaults "$1" | cut -d' ' -f2; fi; }
batch_of() { if [ -n "${BATCH:-}" ]; then echo "$BATCH"; else defaults "$1" | cut -d' ' -f1; fi; }
repeat_of() { if [ -n "${REPEAT:-}" ]; then echo "$REPEAT"; else defaults "$1" | cut -d' ' -f2; fi; }

# A model is models/M.cnn, or bench/models/M.cnn (models kept for benchmarks only, such as
# vgg16_bn_cifar: outside models/, so the test suite does not build them).
src_of() { if [ -f "$ROOT/models/$1.cnn" ]; then echo "$ROOT/models/$1.cnn"; else echo "$HERE/models/$1.cnn"; fi; }
for m in $MODELS; do
    [ -f "$(src_of "$m")" ] || { echo "bench: no model models/$m.cnn or bench/models/$m.cnn" >&2; exit 1; }
done

start=$(date +%s)
echo "== cnnc bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# --- The machine's peak ------------------------------------------------------------------
"$CC" -O3 -march=native -fopenmp -o "$W/peak" "$HERE/peak.c"
$NICE "$W/peak" $THREADS | tee "$W/peak.txt"
peak_of() { awk -v t="$1" '$1 == "peak" && $2 == t { print $4 }' "$W/peak.txt"; }

# --- PyTorch's BLAS: OpenBLAS when it can be had ------------------------------------------
# Debian's python3-torch runs its convolutions through oneDNN, but its linear layers and the
# convolutions oneDNN declines (batch 1, small inputs) go to whatever libblas.so.3 is: the
# reference BLAS unless OpenBLAS is installed. For the PyTorch command alone, point the loader
# at OpenBLAS: the installed one, or libopenblas0-pthread unpacked under BUILD_DIR/bench.
find_openblas() {
    for d in /usr/lib/*/openblas-pthread "$W"/openblas/usr/lib/*/openblas-pthread; do
        if [ -f "$d/libblas.so.3" ]; then echo "$d"; return 0; fi
    done
    return 1
}
OPENBLAS=$(find_openblas || true)
if [ -z "$OPENBLAS" ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench: fetching libopenblas0-pthread for PyTorch (unpacked in $W/openblas, not installed)"
    (cd "$W" && rm -f libopenblas0-pthread_*.deb &&
        apt-get download -q libopenblas0-pthread >/dev/null 2>&1 &&
        dpkg -x libopenblas0-pthread_*.deb openblas) || true
    OPENBLAS=$(find_openblas || true)
fi
if [ -n "$OPENBLAS" ]; then
    echo "pytorch  BLAS: OpenBLAS from $OPENBLAS"
    PT_LIBPATH="$OPENBLAS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
    echo "pytorch  BLAS: the system libblas.so.3 (OpenBLAS not found; PyTorch's linear layers are slower)"
    PT_LIBPATH="${LD_LIBRARY_PATH:-}"
fi
echo "pytorch  $("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo missing), mode $TORCH_MODE"

# PyTorch at its best, for this command alone (never in the tests).
run_torch() { # threads, then torch_bench.py arguments
    t=$1
    shift
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" \
        GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184 \
        LD_LIBRARY_PATH="$PT_LIBPATH" $NICE "$PYTHON" "$HERE/torch_bench.py" --threads "$t" "$@"
}

# --- Compile every program first (in parallel; nothing is timed yet) -----------------------
# A program is rebuilt when cnnc, the runtime or the model is newer than it.
echo "compiling: $MODELS"
jobs=$(nproc 2>/dev/null || echo 2)
# fresh PROGRAM MODEL: PROGRAM is newer than cnnc, the runtime and the model
fresh() { [ -x "$1" ] && [ "$1" -nt "$CNNC" ] && [ "$1" -nt "$B/libcnnrt.a" ] && [ "$1" -nt "$(src_of "$2")" ]; }
for m in $MODELS; do
    b=$(batch_of "$m")
    "$CNNC" --emit=torch "$(src_of "$m")" -o "$W/$m.py"
    "$CNNC" --emit=ir "$(src_of "$m")" | tail -n 1 >"$W/$m.ir-total"
    fresh "$W/$m.b$b" "$m" || echo "$(src_of "$m") $m $b b --no-train"
done >"$W/compile.txt"
# The batch-1 figure (cnnc ms) is the faster of a program compiled for batch 1 (as a latency
# deployment compiles it, --emit=c's default batch: its kernels are chosen for one image) and
# the batch-B program called with one image (LeNet-5's batch-1 build streams its two convs to
# keep the workspace small, and is the slower).
for m in $MODELS; do
    [ "$(batch_of "$m")" = 1 ] || fresh "$W/$m.b1" "$m" || echo "$(src_of "$m") $m 1 b --no-train"
done >>"$W/compile.txt"
for m in $train_models; do
    b=$(train_batch_of "$m")
    fresh "$W/$m.t$b" "$m" || echo "$(src_of "$m") $m $b t --train"
done >>"$W/compile.txt"
# Each line: source model batch kind(b: inference, t: training) flag
xargs -r -n 5 -P "$jobs" sh -c '
    t0=$(date +%s)
    flag=$6
    [ "$flag" = --train ] && flag=""
    if "$0" "$2" -o "$1/$3.$5$4.tmp" --batch "$4" $flag; then
        mv "$1/$3.$5$4.tmp" "$1/$3.$5$4"
        echo "  $3 (batch $4, $6): $(( $(date +%s) - t0 )) s"
    else
        echo "bench: compiling $3 ($6) failed" >&2
    fi' "$CNNC" "$W" <"$W/compile.txt"
echo "compiled in $(( $(date +%s) - start )) s"

# --- Time -----------------------------------------------------------------------------------
rows="$W/rows.csv"
: >"$rows"
for m in $MODELS; do
    b=$(batch_of "$m")
    r=$(repeat_of "$m")
    flops=$(sed -n 's/.*parameters.*, \([0-9,]*\) forward FLOPs per image.*/\1/p' "$W/$m.ir-total" | tr -d ,)
    for t in $THREADS; do
        c="nan,nan,nan,nan"
        if [ -x "$W/$m.b$b" ] &&
            $NICE "$W/$m.b$b" bench --csv --threads "$t" --repeat "$r" >"$W/out.txt" 2>"$W/err.txt"; then
            c=$(tail -n 1 "$W/out.txt")
            if [ "$b" != 1 ] && [ -x "$W/$m.b1" ] &&
                $NICE "$W/$m.b1" bench --csv --threads "$t" --repeat "$r" >"$W/out.txt" 2>"$W/err.txt"; then
                one=$(tail -n 1 "$W/out.txt" | cut -d, -f1)
                c=$(echo "$c" | awk -F, -v one="$one" 'BEGIN { OFS = "," } { if (one + 0 < $1 + 0) $1 = one; print }')
            fi
        else
            echo "bench: $m: the cnnc program failed" >&2
            cat "$W/err.txt" >&2
        fi
        p="nan,nan,nan,-,-"
        if run_torch "$t" "$W/$m.py" --batch "$b" --repeat "$r" --mode "$TORCH_MODE" --csv \
            >"$W/out.txt" 2>"$W/err.txt"; then
            p=$(tail -n 1 "$W/out.txt")
        else
            echo "bench: $m: PyTorch failed" >&2
            cat "$W/err.txt" >&2
        fi
        echo "$m,$b,$t,$flops,$(peak_of "$t"),$c,$p" >>"$rows"
        echo "  $m batch $b, $t thread(s): cnnc $c | pytorch $p" >&2
    done
done

# --- The table --------------------------------------------------------------------------------
# rows: model,batch,threads,flops,peak,c1ms,cbms,cips,cgflops,p1ms,pbms,pips,pmode1,pmodeb
echo
awk -F, '
function r(x, y) { return (x == "nan" || y == "nan" || y == 0) ? "-" : sprintf("%.2f", x / y) }
function num(x, f) { return x == "nan" ? "-" : sprintf(f, x) }
function mode(a, b) { return substr(a, 1, 1) "/" substr(b, 1, 1) }
BEGIN {
    printf "| %-14s | %5s | %2s | %10s | %10s | %6s | %10s | %10s | %6s | %8s | %6s | %4s |\n",
        "model", "batch", "T", "cnnc ms", "torch ms", "ratio", "cnnc img/s", "torch img/s", "ratio",
        "GFLOP/s", "% peak", "pt"
    printf "|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "----------------", "------:", "---:",
        "-----------:", "-----------:", "-------:", "-----------:", "------------:", "-------:",
        "---------:", "-------:", "-----:"
}
{
    gf = ($8 == "nan") ? "nan" : $4 * $8 * 1e-9
    pk = ($5 == "" || gf == "nan") ? "-" : sprintf("%.1f", 100 * gf / $5)
    printf "| %-14s | %5d | %2d | %10s | %10s | %6s | %10s | %11s | %6s | %8s | %6s | %4s |\n",
        $1, $2, $3, num($6, "%.3f"), num($10, "%.3f"), r($6, $10), num($8, "%.1f"), num($12, "%.1f"),
        r($12, $8), num(gf, "%.1f"), pk, mode($13, $14)
}' "$rows"
echo
echo "cnnc ms, torch ms: one image per call (median; cnnc: the faster of its batch-1 and batch-B builds)."
echo "img/s: at the batch shown. ratio: cnnc time over PyTorch time (< 1: cnnc faster). GFLOP/s:"
echo "cnnc at the batch shown, forward FLOPs from cnnc --emit=ir. % peak: of peak.c's per-CPU-time"
echo "FMA peak for T threads. pt: PyTorch mode that won at batch 1 / at the batch (e: eager, f:"
echo "frozen TorchScript). bench/README.md."

# --- Training rows ------------------------------------------------------------------------------
# rows: model,batch,threads,flops,peak,cms,cips,cgflops,pms,pips,pmode
trows="$W/train_rows.csv"
: >"$trows"
for m in $train_models; do
    b=$(train_batch_of "$m")
    r=$(train_repeat_of "$m")
    flops=$(sed -n 's/.*parameters.*, \([0-9,]*\) forward FLOPs per image.*/\1/p' "$W/$m.ir-total" | tr -d ,)
    for t in $THREADS; do
        c="nan,nan,nan"
        topts=""
        if [ -x "$W/$m.t$b" ] &&
            $NICE "$W/$m.t$b" bench --train --csv --threads "$t" --repeat "$r" >"$W/out.txt" 2>"$W/err.txt"; then
            line=$(tail -n 1 "$W/out.txt")
            c=$(echo "$line" | cut -d, -f1-3)
            # step_ms,ips,gflops,batch,optimizer,lr,momentum,wd,nesterov,beta1,beta2,eps,loss,smoothing
            topts=$(echo "$line" | awk -F, '{ printf "--optimizer %s --lr %s --momentum %s --weight-decay %s --nesterov %s --beta1 %s --beta2 %s --eps %s --loss %s --label-smoothing %s", $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 }')
        else
            echo "bench: $m: the cnnc training program failed" >&2
            cat "$W/err.txt" >&2
        fi
        p="nan,nan,-"
        # shellcheck disable=SC2086
        if [ -n "$topts" ] && run_torch "$t" "$W/$m.py" --train --batch "$b" --repeat "$r" --mode "$TORCH_MODE" \
            $topts --csv >"$W/out.txt" 2>"$W/err.txt"; then
            p=$(tail -n 1 "$W/out.txt")
        else
            echo "bench: $m: PyTorch training failed" >&2
            cat "$W/err.txt" >&2
        fi
        echo "$m,$b,$t,$flops,$(peak_of "$t"),$c,$p" >>"$trows"
        echo "  $m train batch $b, $t thread(s): cnnc $c | pytorch $p" >&2
    done
done
if [ -s "$trows" ]; then
    echo
    awk -F, '
function num(x, f) { return x == "nan" ? "-" : sprintf(f, x) }
function sp(x, y) { return (x == "nan" || y == "nan" || y == 0) ? "-" : sprintf("%.2fx", x / y) }
BEGIN {
    printf "| %-14s | %5s | %2s | %12s | %12s | %13s | %14s | %7s | %8s | %6s | %2s |\n", "training",
        "batch", "T", "cnnc ms/step", "torch ms/step", "cnnc img/s", "torch img/s", "speedup", "GFLOP/s",
        "% peak", "pt"
    printf "|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "----------------", "------:", "---:", "-------------:",
        "--------------:", "--------------:", "---------------:", "--------:", "---------:", "-------:", "---:"
}
{
    pk = ($5 == "" || $8 == "nan") ? "-" : sprintf("%.1f", 100 * $8 / $5)
    printf "| %-14s | %5d | %2d | %12s | %13s | %13s | %14s | %7s | %8s | %6s | %2s |\n", $1, $2, $3,
        num($6, "%.3f"), num($9, "%.3f"), num($7, "%.1f"), num($10, "%.1f"), sp($7, $10), num($8, "%.1f"),
        pk, substr($11, 1, 1)
}' "$trows"
    echo
    echo "training: one step = forward, loss, backward and the optimizer update on the batch shown"
    echo "(cnnc: PROGRAM bench --train; PyTorch: the --emit=torch module in train mode, the same loss"
    echo "and torch.optim optimizer). speedup: cnnc img/s over PyTorch img/s (above 1: cnnc faster)."
    echo "GFLOP/s: 3x the forward FLOPs per image. pt: e eager, f traced (TorchScript)."
fi
echo "load average now $(cut -d' ' -f1-3 /proc/loadavg); total $(( $(date +%s) - start )) s"
