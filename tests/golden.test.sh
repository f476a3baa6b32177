#!/bin/sh
# Golden IR: `cnnc --emit=ir` of every models/*.cnn (and the training IR of lenet5) must equal
# tests/golden/NAME.ir byte for byte. After an intended change, regenerate with
#   UPDATE=1 sh tests/golden.test.sh build
# (only UPDATE=1 overwrites: UPDATE=0 or any other value compares)
# and review the diff like code.
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cnnc="$B/cnnc"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
check() { # name, then cnnc arguments
    name=$1; shift
    if ! "$cnnc" "$@" >"$tmp/out" 2>"$tmp/err"; then
        echo "FAIL $name: cnnc failed"; sed 's/^/    /' "$tmp/err" | head; fail=$((fail+1)); return
    fi
    if [ "${UPDATE:-0}" = 1 ]; then cp "$tmp/out" "$top/tests/golden/$name"; fi
    if cmp -s "$tmp/out" "$top/tests/golden/$name"; then
        pass=$((pass+1))
    else
        echo "FAIL $name differs from tests/golden/$name:"; diff "$top/tests/golden/$name" "$tmp/out" | head -20
        fail=$((fail+1))
    fi
}
for f in "$top"/models/*.cnn; do
    m=$(basename "$f" .cnn)
    check "$m.ir" --emit=ir "$f"
done
check lenet5.train.ir --emit=ir --train "$top/models/lenet5.cnn"
check resnet18.params --emit=params "$top/models/resnet18.cnn"
echo "golden: $pass passed, $fail failed"
[ "$fail" = 0 ]
