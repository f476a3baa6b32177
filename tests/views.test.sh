#!/bin/sh
# tests/views.test.sh: cnnc's pictures and its usage errors.
# --emit=dot of every model (and of a training graph) renders with Graphviz's dot, with one node
# per op, one cluster per fused group and one residual edge per extra input of an add, all
# counted independently from --emit=ir; --emit=plan --svg is well-formed SVG with one rectangle
# per planned buffer (inference and training plans) whose offsets and sizes are the ones
# --emit=plan prints; outputs that are not regular files are written in place; usage errors
# are one "cnnc: error:" line plus the hint, with status 2. Usage: sh tests/views.test.sh BUILD_DIR
B=${1:?usage: sh tests/views.test.sh BUILD_DIR}
top=${CNNC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
cnnc=$B/cnnc
tmp=$(mktemp -d /tmp/cnnc-views.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0; skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# ---- --emit=dot ---------------------------------------------------------------------------
have_dot=1
if ! command -v dot >/dev/null; then
    have_dot=0
    # Under CI (CI=true) .ci/install-deps installed graphviz: a missing dot is a failure.
    if [ "${CI:-}" = true ]; then bad "graphviz's dot is not installed (CI=true: it should be)"; else
        skip=$((skip + 1)); echo "SKIP: graphviz's dot is not installed (rendering not checked)"; fi
fi
# check_dot NAME CNNC-ARGS...: the structure matches the IR; dot renders it.
check_dot() {
    name=$1; shift
    "$cnnc" --emit=ir "$@" >"$tmp/ir" 2>"$tmp/err" && "$cnnc" --emit=dot "$@" >"$tmp/dot" 2>>"$tmp/err" ||
        { bad "$name: cnnc failed: $(head -3 "$tmp/err")"; return; }
    if /usr/bin/python3 - "$tmp/ir" "$tmp/dot" <<'PY'; then ok; else bad "$name: the dot graph does not match the IR"; fi
import re, sys
# ops: "%N = kind ..." lines, and backward ops that write only parameter gradients
ops = [l for l in open(sys.argv[1]) if re.match(r'^%\d+ = ', l)]
grad_only = [l for l in open(sys.argv[1]) if re.match(r'^\w+\.backward ', l)]
dot = open(sys.argv[2]).read()
nodes = re.findall(r'^\s*op(\d+) \[label=', dot, re.M)
clusters = dot.count('subgraph cluster_')
plus = dot.count('label=" +"')
fused_heads = sum(1 for l in ops if ' fused[' in l)
add_extra = sum(len(re.findall(r'%\d+', l.split(' = ', 1)[1].split(' -> ')[0])) - 1 for l in ops if ' = add ' in l)
concat_in = sum(len(re.findall(r'%\d+', l.split(' = ', 1)[1].split(' -> ')[0])) for l in ops if ' = concat ' in l)
concat_edges = len(re.findall(r'label=" \d+"', dot))
want = (len(ops) + len(grad_only), fused_heads, add_extra, concat_in)
got = (len(set(nodes)), clusters, plus, concat_edges)
if want != got:
    print('ops, fused groups, residual edges, concat edges: IR', want, 'dot', got)
    sys.exit(1)
PY
    if [ $have_dot = 1 ]; then
        dot -Tsvg "$tmp/dot" -o "$tmp/g.svg" 2>"$tmp/err" && [ -s "$tmp/g.svg" ] && [ ! -s "$tmp/err" ] && ok ||
            bad "$name: dot -Tsvg: $(head -3 "$tmp/err")"
    fi
}
for f in "$top"/models/*.cnn "$top"/tests/models/cov_residual.cnn "$top"/tests/models/cov_concat.cnn \
         "$top"/docs/img/basic_block.cnn; do
    check_dot "$(basename "$f")" "$f"
done
check_dot "lenet5 -O0 (no fusion)" -O0 "$top/models/lenet5.cnn"
check_dot "lenet5 --train" --train "$top/models/lenet5.cnn"
grep -q 'subgraph cluster_' "$tmp/dot" && ok || bad "lenet5 --train: no fused group drawn"
"$cnnc" --emit=dot -O0 "$top/models/lenet5.cnn" | grep -q 'subgraph cluster_' && bad "-O0 draws fused groups" || ok

# ---- --emit=plan --svg --------------------------------------------------------------------
# check_svg NAME CNNC-ARGS...: well-formed, and one rect per buffer of the printed plan at its
# offset and size (scaled by the same arena), the peak-live step marked.
check_svg() {
    name=$1; shift
    "$cnnc" --emit=plan --svg "$tmp/plan.svg" "$@" >"$tmp/plan.txt" 2>"$tmp/err" || { bad "$name: cnnc failed: $(head -3 "$tmp/err")"; return; }
    if /usr/bin/python3 - "$tmp/plan.txt" "$tmp/plan.svg" <<'PY'; then ok; else bad "$name: the plan picture does not match the plan"; fi
import re, sys, xml.etree.ElementTree as ET
txt = open(sys.argv[1]).read()
arena = int(re.search(r'^arena (\d+)$', txt, re.M).group(1))
rows = [l.split() for l in txt.splitlines() if re.match(r'^(%\d+|scratch|grads) ', l)]
bufs = sorted((int(r[-4]), int(r[-3]), int(r[-2]), int(r[-1])) for r in rows)  # bytes, offset, first, last
svg = ET.parse(sys.argv[2]).getroot()
ns = '{http://www.w3.org/2000/svg}'
rects = [r for r in svg.iter(ns + 'rect') if r.find(ns + 'title') is not None and 'bytes at offset' in r.find(ns + 'title').text]
H = 480.0
got = sorted((round(float(r.get('height')) / H * arena), round((float(r.get('y')) - 60) / H * arena)) for r in rects)
want = sorted((b, o) for b, o, f, l in bufs)
tol = max(4, arena * 2e-3)  # the picture's coordinates have 2 decimals
def differs(g, w):
    if abs(g[1] - w[1]) > tol:
        return True
    # buffers thinner than half a pixel are drawn half a pixel thick
    return w[0] / arena * H >= 0.5 and abs(g[0] - w[0]) > tol
# match each buffer of the plan with a rect of its own (several buffers can start within the
# tolerance of one offset, so sorting both lists would not pair them reliably)
unmatched = list(got)
missing = []
for w in want:
    k = next((k for k, g in enumerate(unmatched) if not differs(g, w)), None)
    if k is None:
        missing.append(w)
    else:
        unmatched.pop(k)
if len(got) != len(want) or missing:
    print('buffers (bytes, offset) of the plan with no rect:', missing[:6], '...', len(want), len(got))
    sys.exit(1)
if 'peak-live' not in open(sys.argv[2]).read():
    sys.exit(1)
PY
}
check_svg "lenet5 batch 1" --batch 1 "$top/models/lenet5.cnn"
check_svg "lenet5 training" --train "$top/models/lenet5.cnn"
check_svg "cov_residual" "$top/tests/models/cov_residual.cnn"
check_svg "resnet18_cifar training" --train "$top/models/resnet18_cifar.cnn"

# ---- outputs that are not regular files are written in place ------------------------------
mkfifo "$tmp/fifo"
timeout 20 cat "$tmp/fifo" >"$tmp/from_fifo" &
reader=$!
"$cnnc" --emit=ir "$top/models/lenet5.cnn" -o "$tmp/fifo" 2>"$tmp/err"
st=$?
wait $reader
[ $st = 0 ] && [ -p "$tmp/fifo" ] && grep -q '^# model lenet5' "$tmp/from_fifo" && ok || bad "-o FIFO: status $st, still a FIFO: $([ -p "$tmp/fifo" ] && echo yes || echo no)"
"$cnnc" "$top/models/lenet5.cnn" -o "$tmp/fifo" 2>"$tmp/err"
st=$?
[ $st = 1 ] && [ -p "$tmp/fifo" ] && grep -q "^cnnc: error: .*not a regular file" "$tmp/err" && ok || bad "program -o FIFO: status $st, '$(cat "$tmp/err")'"

# ---- usage errors: "cnnc: error: ..." then the hint, status 2, no output ------------------
usage() {
    name=$1; shift
    "$cnnc" "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    [ $st = 2 ] && [ "$(grep -c '' "$tmp/err")" = 2 ] && head -1 "$tmp/err" | grep -q '^cnnc: error: ' &&
        sed -n 2p "$tmp/err" | grep -q "^Try 'cnnc --help'" && [ ! -s "$tmp/out" ] && ok ||
        bad "usage ($name): status $st, stderr '$(cat "$tmp/err")'"
}
m=$top/models/lenet5.cnn
usage "unknown option" --bogus "$m"
usage "unknown --emit kind" --emit=png "$m"
usage "no input" --emit=ir
usage "two inputs" --emit=ir "$m" "$m"
usage "--batch 0" --emit=ir --batch 0 "$m"
usage "--slices 0" --emit=plan --slices 0 "$m"
usage "--slices 65" --emit=plan --slices 65 "$m"
usage "--slices x" --emit=plan --slices x "$m"
usage "--slices without value" --emit=plan "$m" --slices
# --slices: the plan says how a call is sliced; 1 turns slicing off, a model with batchnorm in
# training keeps whole batches, and an explicit K is taken (the default is one per processor).
"$cnnc" --emit=plan --train "$m" | grep -q "runs as [0-9]* slices of up to" && ok || bad "lenet5 training is not sliced by default"
"$cnnc" --emit=plan --train --slices 1 "$m" | grep -q "batch slices" && bad "--slices 1 still slices" || ok
"$cnnc" --emit=plan --slices 4 "$m" | grep -q "runs as 4 slices of up to 16 images" && ok || bad "--slices 4: not 4 slices"
"$cnnc" --emit=plan --train --slices 4 "$top/models/simplecnn.cnn" | grep -q "batch slices" && bad "simplecnn's training step (batchnorm) is sliced" || ok
usage "-o without value" "$m" -o
usage "nothing to do" "$m"
usage "--svg without --emit=plan" --emit=ir --svg "$tmp/x.svg" "$m"
usage "--embed-weights without --emit=c" --emit=ir --embed-weights w "$m"
[ ! -e "$tmp/x.svg" ] && ok || bad "a usage error left $tmp/x.svg"

echo "views: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
