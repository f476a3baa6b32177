#!/bin/sh
# bench/build_time.sh: how long `cnnc MODEL -o PROG` takes (the C compiler included), for
# resnet50 and for the worst cases within docs/language.md's limits (models written by
# bench/build_time_model.py). Prints one row per build: model, program kind, ops in the
# training graph, distinct op functions (inference + training), wall and user+sys seconds.
# Timings only: nothing is asserted. Run on a quiet machine; say how many cores.
# Usage: sh bench/build_time.sh [BUILD_DIR] [CASE ...]
#   CASE: resnet50 | repeat:N | linear:N | conv:N | limit:0  (default: the table of docs/language.md)
B=$(cd "${1:-build}" && pwd); [ $# -gt 0 ] && shift
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ $# -gt 0 ] || set -- resnet50 repeat:1000 repeat:4999 linear:100 conv:25 conv:100
printf '%-16s %-10s %7s %10s %8s %8s\n' model program ops functions wall_s cpu_s
for case in "$@"; do
    case "$case" in
        resnet50) f="$top/models/resnet50.cnn" ;;
        *:*) f="$tmp/${case%%:*}${case#*:}.cnn"
             /usr/bin/python3 "$top/bench/build_time_model.py" "${case%%:*}" "${case#*:}" > "$f" ;;
        *) echo "unknown case $case" >&2; exit 2 ;;
    esac
    name=$(basename "$f" .cnn)
    mkdir -p "$tmp/c/t"
    "$B/cnnc" --emit=c "$f" -o "$tmp/c" 2>/dev/null
    "$B/cnnc" --emit=c --train "$f" -o "$tmp/c/t" 2>/dev/null
    fns=$(( $(cat "$tmp/c/$name.c" 2>/dev/null | grep -E '^static [A-Z_ ]*void ' | grep -vc '_chunk[0-9]*(') + \
            $(cat "$tmp/c/t/$name.c" 2>/dev/null | grep -E '^static [A-Z_ ]*void ' | grep -vc '_chunk[0-9]*(') ))
    ops=$("$B/cnnc" --emit=ir --train "$f" 2>/dev/null | grep -c '^ *%')
    for kind in train no-train; do
        flag=""; [ $kind = no-train ] && flag=--no-train
        /usr/bin/time -f '%e %U %S' -o "$tmp/time" "$B/cnnc" $flag "$f" -o "$tmp/prog" 2> "$tmp/err" ||
            { printf '%-16s %-10s %7s %10s %s\n' "$name" "$kind" "$ops" "$fns" "error: $(head -1 "$tmp/err")"; continue; }
        set -- $(tail -1 "$tmp/time")
        printf '%-16s %-10s %7s %10s %8s %8s\n' "$name" "$kind" "$ops" "$fns" "$1" "$(echo "$2 + $3" | bc)"
    done
    rm -rf "$tmp/c" "$tmp/prog"
done
