#!/bin/sh
# mobile.test.sh: models/mobilenet_v2.cnn, mobilenet_v3_small.cnn and efficientnet_b0.cnn
# against torchvision: exact parameter counts, `import` of a torchvision state_dict by order,
# and forward parity within 1e-4 at a reduced input size (tests/torch/mobile_check.py).
# Usage: sh tests/mobile.test.sh /abs/build/dir
B=${1:?usage: sh tests/mobile.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
fail() { echo "mobile: FAIL: $*"; exit 1; }

[ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ] || fail "$B/cnnc or $B/libcnnrt.a not built (run make)"
$PY -c 'import torch, torchvision, numpy' 2>/dev/null || fail "$PY cannot import torch, torchvision and numpy"
if [ "${SANITIZE:-0}" = 1 ]; then
    # The instrumented build: the three programs take minutes to build with the sanitizers;
    # the depthwise and squeeze-excitation kernels they use run instrumented in
    # tests/models/se_dw*.cnn (parity, grad_parity).
    echo "SKIP mobile: not under SANITIZE=1 (tests/models/se_dw*.cnn cover the kernels)"
    echo "mobile: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
$PY "$top/tests/torch/mobile_check.py" --build "$B" --size 64
