#!/bin/sh
# parity.test.sh: the compiled forward pass against PyTorch: `PROG forward` for every model of
# models/ and tests/models/, compared with the module `cnnc --emit=torch` prints and with the
# hand-written twins (tests/torch/parity.py explains the check and its tolerance).
# Under the sanitizer build (SANITIZE=1) the programs are built with the sanitizers too, on
# the small models only. Usage: sh tests/parity.test.sh /abs/build/dir
B=${1:?usage: sh tests/parity.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
fail() { echo "parity: FAIL: $*"; exit 1; }

[ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ] || fail "$B/cnnc or $B/libcnnrt.a not built (run make)"
$PY -c 'import torch, numpy' 2>/dev/null || fail "$PY cannot import torch and numpy (install python3-torch)"

small=""
if [ "${SANITIZE:-0}" = 1 ]; then
    # libcnnrt.a is instrumented: programs link with the sanitizers (cnnc adds $CNNC_CFLAGS),
    # single-threaded so that the OpenMP runtime stays out of the sanitizers' way.
    CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -g"
    CNNC_OPENMP=0
    export CNNC_CFLAGS CNNC_OPENMP
    small="--small"
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
$PY "$top/tests/torch/parity.py" --build "$B" $small
