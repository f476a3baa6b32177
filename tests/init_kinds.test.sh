#!/bin/sh
# init_kinds.test.sh: init kinds and their arguments (--init and the train section's init)
# against torch.nn.init's formulas (tests/torch/init_check.py).
# Usage: sh tests/init_kinds.test.sh /abs/build/dir
B=${1:?usage: sh tests/init_kinds.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ] || { echo "init_kinds: FAIL: $B not built (run make)"; exit 1; }
if [ "${SANITIZE:-0}" = 1 ]; then
    CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0 -g"
    CNNC_OPENMP=0
    export CNNC_CFLAGS CNNC_OPENMP
fi
/usr/bin/python3 "$top/tests/torch/init_check.py" --build "$B"
