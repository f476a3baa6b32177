#!/bin/sh
# bench/profile.sh: which layers a compiled program spends its `bench` time in.
#
#   sh bench/profile.sh [BUILD_DIR] MODEL [BATCH [THREADS [REPEAT]]]
#
# Builds MODEL with debug line tables (CNNC_CFLAGS="-g -save-temps", so the generated C is kept
# as MODEL.i), records `PROGRAM bench` with perf, and prints the share of samples per generated
# op function (opN_<layer>; OpenMP's .omp_outlined regions are charged to the op whose lines
# they run) and the hottest source lines. The time covers both figures of bench (batch 1 and
# the compiled batch); with BATCH > 1 the batch figure dominates. Needs perf.
set -eu
B=build
if [ $# -gt 1 ] && [ -x "$1/cnnc" ]; then B=$1; shift; fi
m=${1:?usage: sh bench/profile.sh [BUILD_DIR] MODEL [BATCH [THREADS [REPEAT]]]}
b=${2:-8}
t=${3:-1}
r=${4:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CNNC=$(cd "$B" && pwd)/cnnc
W=$(cd "$B" && pwd)/bench/profile-$m.b$b
mkdir -p "$W"
command -v perf >/dev/null 2>&1 || { echo "profile: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
(cd "$W" && rm -f ./*.i ./*.s ./*.bc ./*.o &&
    CNNC_CFLAGS="-g -save-temps" "$CNNC" "$ROOT/models/$m.cnn" -o "$W/$m" --batch "$b" 2>/dev/null)
perf record -q -o "$W/perf.data" -F 999 "$W/$m" bench --threads "$t" --repeat "$r"
perf report -i "$W/perf.data" --no-children --sort srcline --stdio 2>/dev/null >"$W/srclines.txt"
python3 "$HERE/profile_map.py" "$W/$m.i" "$m.c" "$W/srclines.txt"
