#!/bin/sh
# runtime_torch.test.sh: cross-checks the runtime's safetensors reader and writer with an
# independent Python implementation using PyTorch (tests/torch/check_safetensors.py), through
# the small C program tests/torch/ckpt_tool.c linked with BUILD/libcnnrt.a.
# Usage: sh tests/runtime_torch.test.sh /abs/build/dir
B=${1:?usage: sh tests/runtime_torch.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
lib="$B/libcnnrt.a"
fail() { echo "runtime_torch: FAIL: $*"; exit 1; }

[ -f "$lib" ] || fail "$lib not built (run make)"
$PY -c 'import torch, numpy' 2>/dev/null || fail "$PY cannot import torch and numpy (install python3-torch)"

# Link with the compiler that built the library (its sanitizer runtime must match).
if [ -n "$CC_FOR_TESTS" ]; then cc=$CC_FOR_TESTS
elif readelf -p .comment "$lib" 2>/dev/null | grep -q clang; then cc=clang
else cc=gcc; fi
san=""
if [ "$SANITIZE" = 1 ] || nm "$lib" 2>/dev/null | grep -q __asan_; then
    san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
fi

tmp=$(mktemp -d /tmp/cnnc-torch-XXXXXX) || fail "cannot create a temporary directory"
trap 'rm -rf "$tmp"' EXIT INT TERM
$cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Wno-unused-parameter -g $san \
    -I"$top/runtime" "$top/tests/torch/ckpt_tool.c" "$lib" -lz -lm -o "$tmp/ckpt_tool" \
    || fail "cannot build tests/torch/ckpt_tool.c"
$PY "$top/tests/torch/check_safetensors.py" "$tmp/ckpt_tool" "$tmp"
