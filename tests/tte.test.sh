#!/bin/sh
# NAME_train_step_update against NAME_train_step + NAME_update: bit-identical parameters after
# three steps of sgd, adam and adamw, on models with conv, batchnorm, dropout and residuals.
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
[ -n "$SANITIZE" ] && SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all"
cat > "$tmp/tiny.cnn" <<'CNN'
model tiny {
    input [3, 10, 10]
    conv(8, 3, pad = 1); batchnorm; relu
    residual { conv(8, 3, pad = 1, bias = false); batchnorm; relu }
    maxpool(2)
    flatten
    dropout(0.3)
    linear(5)
}
CNN
for m in "$tmp/tiny.cnn:tiny" "$top/models/lenet5.cnn:lenet5" "$top/models/simplecnn.cnn:simplecnn"; do
    file=${m%:*}; name=${m##*:}
    upper=$(echo "$name" | tr a-z A-Z)
    mkdir -p "$tmp/$name"
    if "$B/cnnc" --emit=c --train --batch 4 -o "$tmp/$name" "$file" &&
        ${CC:-clang} -O1 -std=c99 $SANFLAGS -DMODEL=$name -DM=$upper "-DMODEL_H=\"$name.h\"" -I"$tmp/$name" \
            "$top/tests/tte/tte_check.c" "$tmp/$name/$name.c" -o "$tmp/$name/check" -lm &&
        "$tmp/$name/check"; then
        pass=$((pass+1))
    else
        echo "FAIL $name"; fail=$((fail+1))
    fi
done
echo "tte: $pass passed, $fail failed"
[ "$fail" = 0 ]
