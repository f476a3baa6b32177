#!/bin/sh
# grad_parity.test.sh: the compiled training step against PyTorch autograd: `PROG grad` (loss
# and every trained tensor's gradient) for each model, compared with its hand-written twin and
# with `cnnc --emit=torch` (tests/torch/grad_parity.py explains the check and its tolerance).
# Under the sanitizer build (SANITIZE=1) the programs are built with the sanitizers too, on
# the small models only. Usage: sh tests/grad_parity.test.sh /abs/build/dir
B=${1:?usage: sh tests/grad_parity.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
fail() { echo "grad_parity: FAIL: $*"; exit 1; }

[ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ] || fail "$B/cnnc or $B/libcnnrt.a not built (run make)"
$PY -c 'import torch, numpy' 2>/dev/null || fail "$PY cannot import torch and numpy (install python3-torch)"

only=""
if [ "${SANITIZE:-0}" = 1 ]; then
    # libcnnrt.a is instrumented: programs link with the sanitizers (cnnc adds $CNNC_CFLAGS),
    # single-threaded so that the OpenMP runtime stays out of the sanitizers' way.
    CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -g"
    CNNC_OPENMP=0
    export CNNC_CFLAGS CNNC_OPENMP
    only="--only lenet5 simplecnn cov_norm_act multi_b grad_focal grad_weighted se_dw_wide"
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
# shellcheck disable=SC2086
$PY "$top/tests/torch/grad_parity.py" --build "$B" $only
