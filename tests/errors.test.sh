#!/bin/sh
# Every tests/errors/*.cnn must fail with exit 1, print its first error at the line:col written
# in its "# expect: L:C" comment, mention the "# expect-message:" text, and leave no output file.
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cnnc="$B/cnnc"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
for f in "$top"/tests/errors/*.cnn; do
    name=$(basename "$f")
    want=$(sed -n 's/^# expect: *\([^ ]*\).*/\1/p' "$f" | head -1)
    case "$want" in *.cnn:*) where="$want" ;; *) where="$name:$want" ;; esac
    msg=$(sed -n 's/^# expect-message: *//p' "$f" | head -1)
    "$cnnc" --emit=ir -o "$tmp/out.ir" "$f" >/dev/null 2>"$tmp/err"
    rc=$?
    first=$(grep -m1 ': error: ' "$tmp/err")
    ok=1
    [ "$rc" = 1 ] || { echo "FAIL $name: exit $rc, expected 1"; ok=0; }
    case "$first" in *"$where: error: "*) ;; *) echo "FAIL $name: first error '$first', expected at $want"; ok=0 ;; esac
    if [ -n "$msg" ] && ! grep -qF -- "$msg" "$tmp/err"; then echo "FAIL $name: message lacks '$msg'"; ok=0; fi
    [ -e "$tmp/out.ir" ] && { echo "FAIL $name: output file written"; ok=0; rm -f "$tmp/out.ir"; }
    if [ $ok = 1 ]; then pass=$((pass+1)); else fail=$((fail+1)); sed 's/^/    /' "$tmp/err" | head -12; fi
done
echo "errors: $pass passed, $fail failed"
[ "$fail" = 0 ]
