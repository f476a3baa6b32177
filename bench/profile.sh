#!/bin/sh
# bench/profile.sh: which layers a compiled program spends its time in.
#
#   sh bench/profile.sh [BUILD_DIR] [--train] MODEL [BATCH [THREADS [REPEAT]]]
#
# Inference (default): builds MODEL with debug line tables (CNNC_CFLAGS="-g -save-temps -C", so
# the generated C is kept, comments included, as MODEL.i), records `PROGRAM bench` with perf,
# and prints the share of samples per generated op function (opN_<layer>; OpenMP's
# .omp_outlined regions are charged to the op whose lines they run) and the hottest source
# lines. The time covers both figures of bench (batch 1 and the compiled batch); with BATCH > 1
# the batch figure dominates.
# --train: emits MODEL's training C (cnnc --emit=c --train), builds it with bench/train_step.c,
# times REPEAT training steps (forward, loss, backward, SGD update) of BATCH random images, then
# records them with perf, and prints per function and per part (a conv's forward, dy packing,
# dx and dw) the share of samples, the ms per step (that share of the median step time), the
# GFLOP/s and the % of peak.c's per-CPU-time peak for THREADS threads. The ms are the share of
# the median step's CPU time at 1 thread (robust on a shared machine), of its wall-clock time
# with more threads; they assume the samples are spread like the steps' time (warm-up and
# set-up are a few % of the run). MODEL is a name under models/ or a path to a .cnn file.
# PROFILE_FREQ (default 999) is perf's sampling rate. A layer's samples are its share times
# the seconds of the REPEAT steps times the rate: ResNet-18's shortcut convs (0.2% of a step
# each) get about 30 from 30 steps at batch 8, so their figures move by a fifth between runs;
# raise the rate (PROFILE_FREQ=9999) or REPEAT for such layers. PROFILE_TORCH=1 (--train) also prints PyTorch's
# time per conv layer in its own step (bench/torch_layers.py), with the same peak.
# Needs perf.
set -eu
B=build
if [ $# -gt 1 ] && [ -x "$1/cnnc" ]; then B=$1; shift; fi
train=0
if [ "${1:-}" = --train ]; then train=1; shift; fi
m=${1:?usage: sh bench/profile.sh [BUILD_DIR] [--train] MODEL [BATCH [THREADS [REPEAT]]]}
b=${2:-8}
t=${3:-1}
r=${4:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CNNC=$(cd "$B" && pwd)/cnnc
CC=${CC:-clang}
# clang marks code merged from several lines (the kernels' unrolled inner loops) with line 0,
# which no function owns; told not to, it keeps the line before (the same loop).
lines=""
case $CC in *clang*) lines="-mllvm -use-unknown-locations=Disable" ;; esac
command -v perf >/dev/null 2>&1 || { echo "profile: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
src=$ROOT/models/$m.cnn
case $m in *.cnn) src=$m; d=$(cd "$(dirname "$m")" 2>/dev/null && pwd) && src=$d/$(basename "$m"); m=$(basename "$m" .cnn) ;; esac
[ -f "$src" ] || { echo "profile: no model $src (MODEL: a name under models/ or a path to a .cnn file)" >&2; exit 1; }
if [ $train = 0 ]; then
    # keep the comments in MODEL.i: clang takes -C only through -Xclang alongside -save-temps
    keep=-C
    case $CC in *clang*) keep="-Xclang -C" ;; esac
    W=$(cd "$B" && pwd)/bench/profile-$m.b$b
    mkdir -p "$W"
    (cd "$W" && rm -f ./*.i ./*.s ./*.bc ./*.o &&
        CC=$CC CNNC_CFLAGS="-g $lines -save-temps $keep" "$CNNC" "$src" -o "$W/$m" --batch "$b" 2>"$W/cnnc.err") ||
        { echo "profile: cnnc could not build $src:" >&2; cat "$W/cnnc.err" >&2; exit 1; }
    perf record -q -o "$W/perf.data" -F "${PROFILE_FREQ:-999}" "$W/$m" bench --threads "$t" --repeat "$r"
    perf report -n -i "$W/perf.data" --no-children --sort srcline --stdio 2>/dev/null >"$W/srclines.txt"
    # a program emitted in parts: every part's functions
    ifiles=$(cd "$W" && ls "$m"_part*.i 2>/dev/null | tr '\n' ',')
    python3 "$HERE/profile_map.py" "$W/$(echo "$ifiles" | sed "s|,|,$W/|g")$m.i" "$(echo "$ifiles" | sed 's/\.i,/.c,/g')$m.c" "$W/srclines.txt"
    exit 0
fi
W=$(cd "$B" && pwd)/bench/profile-$m.train.b$b
rm -rf "$W/c"
mkdir -p "$W/c"
"$CNNC" --emit=c --train "$src" -o "$W/c" --batch "$b"
h=$(cd "$W/c" && ls ./*.h | head -n 1)
name=$(basename "$h" .h)
uname=$(echo "$name" | tr '[:lower:]' '[:upper:]')
"$CC" -std=c99 -O3 -march=native -mprefer-vector-width=512 -fno-math-errno -fopenmp -g $lines -DNAME="$name" -DUNAME="$uname" -DHEADER="\"$name.h\"" -I"$W/c" -I"$ROOT/runtime" \
    "$HERE/train_step.c" "$W/c/$name.c" "$(dirname "$CNNC")/libcnnrt.a" -lm -o "$W/step"
"$CC" -O3 -march=native -fopenmp -o "$W/peak" "$HERE/peak.c"
peak=$("$W/peak" "$t" | awk -v t="$t" '$1 == "peak" && $2 == t { print $4 }')
export OMP_NUM_THREADS="$t"
out=$("$W/step" "$b" "$r")
wall=$(echo "$out" | awk '{ print $3 }')
cpu=$(echo "$out" | awk '{ print $6 }')
# The parts' ms: CPU time per step at 1 thread (robust on a shared machine), else wall clock.
if [ "$t" = 1 ]; then ms=$cpu; else ms=$wall; fi
echo "$m training step, batch $b, $t thread(s): $wall ms wall clock, $cpu ms CPU (medians of $r), $(echo "$b $wall" | awk '{ printf "%.1f", 1000 * $1 / $2 }') img/s; peak $peak GFLOP/s per CPU time"
# PyTorch's step on the same model, right after (bench/torch_train_step.py), for the ratio.
"$CNNC" --emit=torch "$src" -o "$W/$m.py"
shape=$(awk -v u="$uname" '$1 == "#define" && ($2 == u "_IN_C" || $2 == u "_IN_H" || $2 == u "_IN_W") { printf "%s%s", s, $3; s = "," }' "$W/c/$name.h")
blas=$(for d in /usr/lib/*/openblas-pthread "$(cd "$B" && pwd)"/bench/openblas/usr/lib/*/openblas-pthread; do
    [ -f "$d/libblas.so.3" ] && { echo "$d"; break; }; done || true)
pt=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184 \
    LD_LIBRARY_PATH="$blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    /usr/bin/python3 "$HERE/torch_train_step.py" "$W/$m.py" --shape "$shape" --batch "$b" --threads "$t" --repeat "$r" || echo "step ms nan cpu ms nan")
ptwall=$(echo "$pt" | awk '{ print $3 }')
ptcpu=$(echo "$pt" | awk '{ print $6 }')
echo "pytorch  training step: $ptwall ms wall clock, $ptcpu ms CPU; cnnc / pytorch: $(echo "$wall $ptwall $cpu $ptcpu" | awk '{ printf "%.2f wall clock, %.2f CPU", $1 / $2, $3 / $4 }') (< 1: cnnc faster)"
if [ "${PROFILE_TORCH:-0}" = 1 ]; then
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" \
        GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184 \
        LD_LIBRARY_PATH="$blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        /usr/bin/python3 "$HERE/torch_layers.py" "$W/$m.py" --shape "$shape" --batch "$b" --threads "$t" --repeat "$r" --peak "$peak" ||
        echo "profile: PyTorch's per-layer times failed" >&2
fi
perf record -q -o "$W/perf.data" -F "${PROFILE_FREQ:-999}" "$W/step" "$b" "$r" >/dev/null
perf report -n -i "$W/perf.data" --no-children --sort srcline --stdio 2>/dev/null >"$W/srclines.txt"
python3 "$HERE/profile_map.py" "$W/c/$name.c" "$name.c" "$W/srclines.txt" "$ms" "$b" "$peak"
