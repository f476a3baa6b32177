#!/bin/sh
# visualize.test.sh: `PROG visualize` (first conv layer's filters, a layer's feature maps as a
# PNG grid) decoded with PIL and compared tile by tile with PyTorch, and its bad uses
# (tests/torch/visualize_check.py explains the checks).
# Usage: sh tests/visualize.test.sh /abs/build/dir
B=${1:?usage: sh tests/visualize.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
[ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ] || { echo "visualize: FAIL: $B not built (run make)"; exit 1; }
$PY -c 'import torch, numpy, PIL' 2>/dev/null || { echo "visualize: FAIL: $PY cannot import torch, numpy and PIL (python3-torch, python3-pil)"; exit 1; }
if [ "${SANITIZE:-0}" = 1 ]; then
    CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0 -g"
    CNNC_OPENMP=0
    export CNNC_CFLAGS CNNC_OPENMP
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
$PY "$top/tests/torch/visualize_check.py" --build "$B"
