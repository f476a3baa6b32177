#!/bin/sh
# docs/memory_results.sh: the Results table of docs/memory.md, measured with
# `cnnc --emit=plan [--train]` on every model of models/ at its train-section batch.
#   sh docs/memory_results.sh [BUILD]            prints the table
#   sh docs/memory_results.sh [BUILD] --update   rewrites it in docs/memory.md (between the
#                                                 "results:" markers)
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cnnc="$B/cnnc"
[ -x "$cnnc" ] || { echo "memory_results: $cnnc not built (run make)" >&2; exit 1; }
table() {
    echo "| model | step | arena | peak-live | naive | arena / peak-live | naive / arena | workspace |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    for m in lenet5 simplecnn resnet18_cifar alexnet googlenet vgg16 vgg16_bn resnet18 resnet50; do
        for step in inference training; do
            t=; [ $step = training ] && t=--train
            "$cnnc" --emit=plan --slices 2 $t "$top/models/$m.cnn" | awk -v m=$m -v s=$step '
                $1 == "arena" { a = $2 } $1 == "naive" { n = $2 } $1 == "peak-live" { p = $2 }
                $1 == "workspace" { w = $2 } $2 == "batch" && $3 == "slices:" { k = " (" $13 " slices)" }
                END { M = 1048576; printf "| %s | %s | %.1f | %.1f | %.1f | %.3f | %.1fx | %.1f%s |\n", m, s, a / M, p / M, n / M, a / p, n / a, w / M, k }'
        done
    done
}
if [ "$2" = --update ]; then
    table >"$top/docs/.memory_table.tmp" || exit 1
    awk -v tbl="$top/docs/.memory_table.tmp" '
        /^<!-- results: begin/ { print; while ((getline line < tbl) > 0) print line; skip = 1; next }
        /^<!-- results: end/ { skip = 0 }
        !skip { print }' "$top/docs/memory.md" >"$top/docs/.memory.md.tmp" && mv "$top/docs/.memory.md.tmp" "$top/docs/memory.md"
    rm -f "$top/docs/.memory_table.tmp"
else
    table
fi
