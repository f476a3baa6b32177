#!/bin/sh
# import.test.sh: `PROG import` (PyTorch .pt and safetensors sources) against PyTorch: forward
# parity after import (LeNet-5 twin; torchvision resnet18 and googlenet in the normal build),
# --partial onto another head, dtype conversions, strides, deflate, and hostile files
# (tests/torch/import_check.py explains each check). Usage: sh tests/import.test.sh /abs/build/dir
B=${1:?usage: sh tests/import.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
fail() { echo "import: FAIL: $*"; exit 1; }

[ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ] || fail "$B/cnnc or $B/libcnnrt.a not built (run make)"
$PY -c 'import torch, torchvision, numpy' 2>/dev/null || fail "$PY cannot import torch, torchvision and numpy"

big="--big"
if [ "${SANITIZE:-0}" = 1 ]; then
    # The instrumented runtime: programs link with the sanitizers; the big models stay out.
    CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0 -g"
    CNNC_OPENMP=0
    export CNNC_CFLAGS CNNC_OPENMP
    big=""
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
$PY "$top/tests/torch/import_check.py" --build "$B" $big
