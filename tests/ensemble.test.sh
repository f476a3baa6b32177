#!/bin/sh
# ensemble.test.sh: `PROG eval` and `PROG predict` with several --weights (mean of the
# probabilities) against PyTorch computing the mean of each weight file's softmax, and their
# bad uses (tests/torch/ensemble_check.py explains the checks).
# Usage: sh tests/ensemble.test.sh /abs/build/dir
B=${1:?usage: sh tests/ensemble.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
[ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ] || { echo "ensemble: FAIL: $B not built (run make)"; exit 1; }
$PY -c 'import torch, numpy' 2>/dev/null || { echo "ensemble: FAIL: $PY cannot import torch and numpy"; exit 1; }
if [ "${SANITIZE:-0}" = 1 ]; then
    CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0 -g"
    CNNC_OPENMP=0
    export CNNC_CFLAGS CNNC_OPENMP
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
$PY "$top/tests/torch/ensemble_check.py" --build "$B"
