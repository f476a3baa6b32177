#!/bin/sh
# eval_metrics.test.sh: `PROG eval`'s top-5 accuracy and per-class/averaged precision, recall and
# F1 against numpy on the model's own outputs (tests/torch/eval_metrics.py).
# Usage: sh tests/eval_metrics.test.sh /abs/build/dir
B=${1:?usage: sh tests/eval_metrics.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
[ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ] || { echo "eval_metrics: FAIL: $B not built (run make)"; exit 1; }
if [ "${SANITIZE:-0}" = 1 ]; then
    CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0 -g"
    CNNC_OPENMP=0
    export CNNC_CFLAGS CNNC_OPENMP
fi
$PY "$top/tests/torch/eval_metrics.py" --build "$B"
