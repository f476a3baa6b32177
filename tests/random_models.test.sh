#!/bin/sh
# random_models.test.sh: four random conv networks (tests/torch/random_models.py, seed 1031:
# channel counts, kernels, strides, padding, dilation, groups, pooling, residual and other
# branches drawn at random; this seed's four take six of the conv kernel files, conv_1x1.c,
# conv_blk.c, conv_bwd.c, conv_depthwise.c, conv_small.c and conv_wino.c, at shapes no
# hand-written model names) against PyTorch: each one's forward (parity.py) and training step's
# gradients (grad_parity.py) against the module `cnnc --emit=torch` prints. A model that fails
# is checked again under three other draws of its weights and input and counts as a failure
# only if it fails in all of them (random_models.py says why). Only the fused programs (the
# unfused -O0 ones are parity's and grad_parity's concern; the builds are most of the time).
# `make test` runs it with the normal build, on the second core after the sanitizer half
# (tests/run_halves.sh's LATE groups); under the sanitizer build (SANITIZE=1) it is skipped
# (counted). `make fuzz-models` runs forty seeds of ten models. RANDOM_MODEL_SEEDS=N or
# FIRST-LAST draws others than seed 1031.
# Usage: sh tests/random_models.test.sh /abs/build/dir
B=${1:?usage: sh tests/random_models.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
fail() { echo "random_models: FAIL: $*"; echo "random_models: 0 passed, 1 failed"; exit 1; }

[ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ] || fail "$B/cnnc or $B/libcnnrt.a not built (run make)"
$PY -c 'import torch, numpy' 2>/dev/null || fail "$PY cannot import torch and numpy (install python3-torch)"
if [ "${SANITIZE:-0}" = 1 ]; then
    echo "SKIP random_models: run with the normal build (tests/run_halves.sh)"
    echo "random_models: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
# clang, cnnc's default, whatever the seed (the campaign compiles every third seed with gcc)
CC=${CC:-clang}
export CC OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
exec $PY "$top/tests/torch/random_models.py" --build "$B" --seeds "${RANDOM_MODEL_SEEDS:-1031}" --count 4 --fused-only
