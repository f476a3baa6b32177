#!/bin/sh
# tests/report.test.sh: what `train` leaves for people to look at: curves.svg (loss, accuracy,
# learning rate, seconds per epoch) and report.html (settings, curves, epochs, confusion
# matrix). Trains a tiny model on a synthetic IDX dataset written here, then checks, against
# log.csv and an independent count of the test labels: the page is static (no script, no
# external resource), its epoch table and lr curve agree with log.csv, its confusion matrix
# counts every test image once and agrees with the printed accuracy. Then headless Chromium
# renders report.html, curves.svg and a memory-plan SVG: each screenshot must be a non-blank
# PNG and the browser must log no console or loading error. Without chromium that part is
# skipped (and counted). Usage: sh tests/report.test.sh BUILD_DIR
B=${1:?usage: sh tests/report.test.sh BUILD_DIR}
top=${CNNC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/cnnc-report.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0; skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
if [ "${SANITIZE:-0}" = 1 ]; then
    export CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0" CNNC_OPENMP=0
fi

cat >"$tmp/tiny.cnn" <<'M'
model tiny(classes = 3) {
    input [1, 6, 6]
    conv(2, 3); tanh
    flatten
    linear(classes)
}
train {
    epochs = 3
    batch = 8
    optimizer = sgd(lr = 0.2, momentum = 0.9)
    schedule = step(1, gamma = 0.5)
}
M
# Three classes, each a bright bar in its own place plus noise: learnable in a few epochs.
$PY - "$tmp/d" <<'PY'
import os, random, struct, sys
d = sys.argv[1]; os.makedirs(d)
rnd = random.Random(4)
for split, n in (("train", 150), ("t10k", 45)):
    imgs, labs = bytearray(), bytearray()
    for i in range(n):
        c = i % 3
        labs.append(c)
        for r in range(6):
            for col in range(6):
                imgs.append(min(255, (200 if col // 2 == c else 20) + rnd.randrange(40)))
    open(f"{d}/{split}-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 2051, n, 6, 6) + bytes(imgs))
    open(f"{d}/{split}-labels-idx1-ubyte", "wb").write(struct.pack(">II", 2049, n) + bytes(labs))
PY
"$B/cnnc" "$tmp/tiny.cnn" -o "$tmp/tiny" 2>"$tmp/err" && ok || bad "cnnc: $(head -3 "$tmp/err")"
"$tmp/tiny" train --data "$tmp/d" --save "$tmp/run" --seed 3 >"$tmp/out" 2>"$tmp/err" && ok ||
    bad "train: $(tail -3 "$tmp/out" "$tmp/err")"
for f in curves.svg report.html log.csv; do [ -s "$tmp/run/$f" ] && ok || bad "no $f"; done

$PY - "$tmp/run" "$tmp/d/t10k-labels-idx1-ubyte" "$(tail -1 "$tmp/out")" <<'PY' && ok || bad "report.html or curves.svg disagree with the run"
import csv, re, sys, xml.etree.ElementTree as ET
from html.parser import HTMLParser
run, labels_path, last = sys.argv[1:4]
rows = list(csv.DictReader(open(f"{run}/log.csv")))
html = open(f"{run}/report.html", encoding="utf-8").read()
problems = []
def need(cond, what):
    if not cond: problems.append(what)
# Static and self-contained.
need("<script" not in html.lower(), "a script")
need(not re.search(r'(src|href)\s*=|url\(|@import', html, re.I), "a reference to another file")
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.tables = []; self.cell = None; self.stack = []
    def handle_starttag(self, tag, attrs):
        if tag == "table": self.tables.append([])
        elif tag == "tr": self.tables[-1].append([])
        elif tag in ("td", "th"): self.cell = ""
    def handle_endtag(self, tag):
        if tag in ("td", "th"): self.tables[-1][-1].append(self.cell.strip()); self.cell = None
    def handle_data(self, data):
        if self.cell is not None: self.cell += data
p = P(); p.feed(html)
settings = {r[0]: r[1] for r in p.tables[0]}
need(settings.get("loss") == "cross_entropy", f"loss setting {settings.get('loss')}")
for key in ("model", "data", "epochs", "batch", "optimizer", "schedule", "loss", "seed"):
    need(key in settings, f"setting {key}")
need(settings.get("epochs") == "3 of 3", f"epochs setting {settings.get('epochs')}")
need(settings.get("seed") == "3", "seed setting")
need("sgd: lr 0.2, momentum 0.9" in settings.get("optimizer", ""), f"optimizer setting {settings.get('optimizer')}")
epochs = p.tables[1][1:]
need(len(epochs) == len(rows) == 3, f"{len(epochs)} epoch rows, log.csv has {len(rows)}")
for e, r in zip(epochs, rows):
    need(int(e[0]) == int(r["epoch"]) and abs(float(e[1]) - float(r["train_loss"])) < 1e-4 and
         abs(float(e[5]) - float(r["lr"])) <= 1e-4 * float(r["lr"]), f"epoch row {e} vs log.csv {r}")
# Confusion matrix: every test image counted once; its diagonal gives the printed accuracy.
labels = open(labels_path, "rb").read()[8:]
counts = {int(r[0]): int(r[1]) for r in []}
cm_rows = p.tables[2][1:]
need(sum(int(r[1]) for r in cm_rows) == len(labels), "confusion matrix total")
for k in range(3):
    need(int(cm_rows[k][1]) == labels.count(bytes([k])), f"class {k} count")
svgs = re.findall(r"<svg.*?</svg>", html, re.S)
need(len(svgs) == 2, f"{len(svgs)} inline pictures")
cells = [int(t) for t in re.findall(r'>(\d+)</text>', svgs[1])] if len(svgs) == 2 else []
acc = float(re.search(r"test accuracy: ([0-9.]+)%", last).group(1))
need(f"test accuracy: {acc:.2f}%" in html, "the printed accuracy")
# The curves: four panels, the lr line with one point per epoch, halving each epoch (step schedule).
svg = ET.parse(f"{run}/curves.svg").getroot()
ns = "{http://www.w3.org/2000/svg}"
titles = [t.text for t in svg.iter(ns + "text")]
for t in ("loss", "accuracy", "learning rate", "time per epoch"):
    need(t in titles, f"panel {t}")
lines = [l.get("points").split() for l in svg.iter(ns + "polyline")]
need(len(lines) == 6, f"{len(lines)} curves")
if len(lines) == 6:
    ys = [float(pt.split(",")[1]) for pt in lines[4]]
    lrs = [float(r["lr"]) for r in rows]
    need(len(ys) == 3, "lr points")
    # y is linear in lr: equal lr steps give proportional pixel steps (0.2, 0.1, 0.05).
    need(abs((ys[1] - ys[0]) / (ys[2] - ys[1]) - (lrs[1] - lrs[0]) / (lrs[2] - lrs[1])) < 0.05, f"lr curve {ys} vs {lrs}")
if problems:
    print("problems:", problems); sys.exit(1)
PY

# ---- headless Chromium: the pages render --------------------------------------------------
browser=$(command -v chromium || command -v chromium-browser)
"$B/cnnc" --emit=plan --train --svg "$tmp/plan.svg" "$tmp/tiny.cnn" >/dev/null 2>&1 && ok || bad "plan svg"
if [ "${SANITIZE:-0}" = 1 ]; then # the pages are the same; rendering them once is enough
    skip=$((skip + 1)); echo "SKIP: pages not rendered again under the sanitizers"
elif [ -z "$browser" ] && [ "${CI:-}" = true ]; then
    bad "chromium is not installed (CI=true: .ci/install-deps should have installed it)"
elif [ -z "$browser" ]; then
    skip=$((skip + 1)); echo "SKIP: chromium is not installed (pages not rendered)"
else
    for page in "$tmp/run/report.html" "$tmp/run/curves.svg" "$tmp/plan.svg"; do
        name=$(basename "$page")
        rm -rf "$tmp/profile"
        timeout 60 "$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
            --disable-component-update --disable-sync --user-data-dir="$tmp/profile" --enable-logging=stderr --v=0 \
            --window-size=1100,900 --screenshot="$tmp/shot.png" "file://$page" >"$tmp/browser.log" 2>&1
        if $PY - "$tmp/shot.png" <<'PY'; then ok; else bad "$name: the screenshot is missing or blank"; fi
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w, h = 8, b"", 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if kind == b"IHDR":
        w, h = struct.unpack(">II", data[pos + 8:pos + 16])
    if kind == b"IDAT":
        idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
# Not blank: many distinct byte values and a good share of non-white rows.
assert w >= 500 and h >= 400, (w, h)
stride = len(raw) // h
rows = [raw[i * stride + 1:(i + 1) * stride] for i in range(h)]
inked = sum(1 for r in rows if r.count(255) < len(r) - 16)
assert len(set(raw)) > 16 and inked > h // 10, (len(set(raw)), inked, h)
PY
        if grep -E 'CONSOLE|Uncaught|ERR_FILE_NOT_FOUND|net::ERR|Failed to load' "$tmp/browser.log" >"$tmp/console"; then
            bad "$name: the browser logged: $(head -3 "$tmp/console")"
        else
            ok
        fi
    done
fi
echo "report: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
