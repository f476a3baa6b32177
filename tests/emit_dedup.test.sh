#!/bin/sh
# emit_dedup.test.sh: each distinct op function is emitted once. For every model of models/ and
# tests/models/, inference and training (--emit=c, --emit=c --train), no two static functions
# of the generated NAME.c have the same parameter list and body, and every function emitted is
# called. Usage: sh tests/emit_dedup.test.sh /abs/build/dir
B=${1:?usage: sh tests/emit_dedup.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
for f in "$top"/models/*.cnn "$top"/tests/models/*.cnn; do
    n=$(basename "$f" .cnn)
    models=$(sed -n 's/^model \([A-Za-z_0-9]*\).*/\1/p' "$f")
    for m in $models; do
        for mode in "" "--train"; do
            d="$tmp/$m$mode"
            mkdir -p "$d"
            if ! "$B/cnnc" --emit=c $mode --model "$m" "$f" -o "$d" >"$d/log" 2>&1; then
                echo "FAIL $n $m $mode: cnnc failed"; sed 's/^/    /' "$d/log" | head -5; fail=$((fail+1)); continue
            fi
            if /usr/bin/python3 - "$d/$m.c" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
fns = re.findall(r'^static (?:inline )?[^\n(]*?\b(\w+)\(([^)]*)\) \{\n(.*?)^\}\n', src, re.S | re.M)
seen, bad = {}, 0
for name, args, body in fns:
    key = re.sub(r'\s+', ' ', args + '|' + body)
    if key in seen:
        print("    %s repeats %s" % (name, seen[key]))
        bad += 1
    seen.setdefault(key, name)
    if not re.search(r'\b%s\(' % name, src[src.index(body) + len(body):]) and not name.startswith("cnn_"):
        print("    %s is never called" % name)
        bad += 1
sys.exit(1 if bad or not fns else 0)
PY
            then pass=$((pass+1)); else echo "FAIL $n $m $mode: repeated or unused functions"; fail=$((fail+1)); fi
        done
    done
done
echo "emit_dedup: $pass passed, $fail failed"
[ "$fail" = 0 ]
