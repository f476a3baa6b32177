#!/bin/sh
# Generated code must build and compute the same numbers without AVX-512 and with gcc: the
# parity check (against PyTorch) for a few models whose programs are built with
# -march=x86-64-v2 (SSE4.2 only) and -march=x86-64-v3 (AVX2), and with CC=gcc (conv_oc_a and
# conv_oc_b run conv_oc.c's kernel, whose tile size depends on the target).
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${SANITIZE:-0}" = 1 ]; then # counted as skipped, not passed: the normal build runs them
    for label in "SSE4.2 only" "AVX2" "gcc"; do echo "SKIP portable $label: not under the sanitizers (the normal build runs it)"; done
    echo "portable: 0 passed, 0 failed, 3 skipped"
    exit 0
fi
pass=0; fail=0
check() { # label, env assignments..., then models
    label=$1; shift
    if env "$@" /usr/bin/python3 "$top/tests/torch/parity.py" --build "$B" --only lenet5 cov_conv cov_pool cov_norm_act conv_odd conv_oc_a conv_oc_b \
        >"$B/portable.log" 2>&1; then
        pass=$((pass+1)); echo "$label: ok"
    else
        fail=$((fail+1)); echo "FAIL $label"; tail -20 "$B/portable.log"
    fi
}
check "SSE4.2 only (-march=x86-64-v2)" CNNC_CFLAGS=-march=x86-64-v2
check "AVX2 (-march=x86-64-v3)" CNNC_CFLAGS=-march=x86-64-v3
check "gcc" CC=gcc
echo "portable: $pass passed, $fail failed"
[ "$fail" = 0 ]
