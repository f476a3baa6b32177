#!/bin/sh
# threads.test.sh: the compiler's choice of threads for a call of one image (docs/hacking.md,
# "Threads"). Each op function that splits a loop starts with
#   const int cnn_threads = (long long)n * WORK >= 1048576LL && (n > 1 || F); /* work per image: WORK */
# F says whether a call of one image splits: in a graph where some op does 2^24 or more per
# image, every op from 2^20 does (the threads are awake and the tensors spread over their
# caches); in smaller graphs only the ops of 2^24 or more. Checked on the emitted C of LeNet-5
# and simplecnn (small: no op splits one image) and ResNet-18 for CIFAR (its residual adds
# and shortcut 1x1 convs split one image as its 3x3 convs do).
B=${1:-build}
case "$B" in /*) ;; *) B="$PWD/$B" ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }

# flags MODEL: "FUNCTION WORK F" for each op function of MODEL's batch-1 C that splits a loop
flags() {
    awk '/^static .*void [a-z0-9_]*\(/ { match($0, /void [a-z0-9_]*\(/); fn = substr($0, RSTART + 5, RLENGTH - 6) }
         /const int cnn_threads = \(long long\)n \* [0-9]+LL/ {
             match($0, /n \* [0-9]+LL/); w = substr($0, RSTART + 4, RLENGTH - 6)
             match($0, /\|\| [01]\)/); f = substr($0, RSTART + 3, 1)
             print fn, w, f }' "$tmp/$1/$1.c"
}

for m in lenet5 simplecnn resnet18_cifar; do
    : >"$tmp/$m.flags"
    "$B/cnnc" --emit=c --batch 1 "$top/models/$m.cnn" -o "$tmp/$m" || { bad "$m: cnnc --emit=c failed"; continue; }
    flags $m >"$tmp/$m.flags"
    [ -s "$tmp/$m.flags" ] || { bad "$m: no op function sets cnn_threads"; continue; }
    # the rule, line by line
    big=$(awk '$2 >= 16777216 { b = 1 } END { print b + 0 }' "$tmp/$m.flags")
    wrong=$(awk -v big="$big" '{ want = (big ? $2 >= 1048576 : $2 >= 16777216) ? 1 : 0; if ($3 != want) print }' "$tmp/$m.flags")
    [ -z "$wrong" ] && ok || bad "$m: one image splits against the rule (function, work, flag): $wrong"
done
# what the rule gives on these models
awk '$3 == 1' "$tmp/lenet5.flags" "$tmp/simplecnn.flags" | grep -q . &&
    bad "lenet5 or simplecnn: an op splits a call of one image: $(awk '$3 == 1' "$tmp/lenet5.flags" "$tmp/simplecnn.flags")" || ok
grep -E '_add 1[0-9]+ 1$' "$tmp/resnet18_cifar.flags" | grep -q . && ok ||
    bad "resnet18_cifar: its residual adds do not split a call of one image: $(grep _add "$tmp/resnet18_cifar.flags")"
grep -E '_conv2 [0-9]+ 1$' "$tmp/resnet18_cifar.flags" | grep -q . && ok ||
    bad "resnet18_cifar: its 1x1 shortcuts do not split a call of one image: $(grep _conv2 "$tmp/resnet18_cifar.flags")"
echo "threads: $pass passed, $fail failed"
[ "$fail" = 0 ]
