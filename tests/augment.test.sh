#!/bin/sh
# augment.test.sh: color_jitter, grayscale and random_resized_crop against torchvision with the
# random draws fixed (tests/torch/augment_check.py), through tests/torch/augment_tool.c linked
# with BUILD/libcnnrt.a. Usage: sh tests/augment.test.sh /abs/build/dir
B=${1:?usage: sh tests/augment.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
lib="$B/libcnnrt.a"
fail() { echo "augment: FAIL: $*"; exit 1; }
[ -f "$lib" ] || fail "$lib not built (run make)"
$PY -c 'import torch, torchvision' 2>/dev/null || fail "$PY cannot import torch and torchvision"
if [ -n "$CC_FOR_TESTS" ]; then cc=$CC_FOR_TESTS
elif readelf -p .comment "$lib" 2>/dev/null | grep -q clang; then cc=clang
else cc=gcc; fi
san=""
if [ "$SANITIZE" = 1 ] || nm "$lib" 2>/dev/null | grep -q __asan_; then
    san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
fi
tmp=$(mktemp -d /tmp/cnnc-augment-XXXXXX) || fail "cannot create a temporary directory"
trap 'rm -rf "$tmp"' EXIT INT TERM
$cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Wno-unused-parameter -g $san \
    -I"$top/runtime" "$top/tests/torch/augment_tool.c" "$lib" -lz -lm -o "$tmp/augment_tool" \
    || fail "cannot build tests/torch/augment_tool.c"
$PY "$top/tests/torch/augment_check.py" "$tmp/augment_tool" "$tmp"
