"""profile_map.py: charge perf's per-source-line samples to the generated op functions.

    python3 bench/profile_map.py MODEL.i|MODEL.c MODEL.c SRCLINES.txt [STEP_MS BATCH PEAK]

A program emitted in parts (MODEL_part1.c ...) gives comma-separated lists for the first two
arguments (MODEL_part1.i,MODEL.i and MODEL_part1.c,MODEL.c).

The first file is the generated C, either preprocessed with comments kept (-save-temps -C: its
line markers give back the line numbers of MODEL.c) or MODEL.c itself. Each line belongs to the
function defined above it (opN_<layer>, MODEL_forward, ...) and, below a comment
`/* profile: PART FLOPS */` (conv kernels mark their forward, dy packing, dx and dw parts with
their FLOPs per image), to that part of it. SRCLINES.txt is `perf report -n --sort srcline --stdio`
(with -n, the shares come from the sample counts, not the rounded percentages).
Prints the share of samples per function or part and the ten hottest lines with their text.
Parts below 0.5% of the samples are left out (PROFILE_MIN_SHARE=0 in the environment shows
every part). With STEP_MS (the time per step or call), BATCH (images per step) and PEAK
(GFLOP/s), the parts also get their sample counts, ms per step (their share of STEP_MS), GFLOP/s and % of
PEAK (a part of a few hundred samples moves by several percent between runs from the sampling alone). A function that
serves several layers of one shape (the emitter writes it once) is called once per layer: its
FLOPs count every call that the step's entry point (NAME_train_step_update, else NAME_forward,
with the chunk functions it calls) makes, and its name is shown with "xN".
"""
import os
import re
import sys
from collections import defaultdict

MARK = re.compile(r"/\* profile: (\w+) ([\d.e+]+) \*/")


def read_source(ipath, cname):
    """Maps line numbers of cname to (text, owner) and owners to FLOPs per image."""
    src, owner, flops = {}, {}, {}
    cur_file, line, func, part = (cname if ipath.endswith(".c") else None), 1, "?", None
    with open(ipath) as f:
        for text in f:
            m = re.match(r'# (\d+) "([^"]*)"', text)
            if m and not ipath.endswith(".c"):
                line, cur_file = int(m.group(1)), m.group(2)
                continue
            if cur_file and (cur_file == cname or cur_file.endswith("/" + cname)):
                d = re.match(r"(?:static\s+)?(?:inline\s+)?(?:(?:CNN_\w+|__attribute__\s*\(\(.*?\)\))\s+)*"
                             r"(?:void|int|float)\s+(\w+)\s*\(", text)
                if d and not text.rstrip().endswith(";"):  # a definition, not a prototype
                    func, part = d.group(1), None
                mk = MARK.search(text)
                if mk:
                    part = mk.group(1)
                    flops[func + " " + part] = float(mk.group(2))
                src[line] = text.rstrip()
                owner[line] = func + (" " + part if part else "")
            line += 1
    return src, owner, flops


def calls_per_step(cpath):
    """{function: calls in one step}, read off the entry point's body in the generated C."""
    with open(cpath) as f:
        text = f.read()
    bodies = {}
    for m in re.finditer(r"^(?:static\s+)?(?:CNN_\w+\s+)*(?:void|int|float)\s+(\w+)\s*\([^;{]*\)\s*\{", text, re.M):
        end = text.find("\n}", m.end())
        bodies[m.group(1)] = text[m.end():end if end >= 0 else len(text)]
    entry = next((f for f in bodies if f.endswith("_train_step_update")), None) or \
        next((f for f in bodies if f.endswith("_forward")), None)
    counts = defaultdict(int)
    todo = [entry] if entry else []
    while todo:
        for callee in re.findall(r"\b(\w+)\s*\(", bodies.get(todo.pop(), "")):
            if callee in bodies:
                if "_chunk" in callee:
                    todo.append(callee)
                else:
                    counts[callee] += 1
    return counts


def main():
    ipath, cname, spath = sys.argv[1:4]
    step_ms = float(sys.argv[4]) if len(sys.argv) > 6 else None
    batch = int(sys.argv[5]) if step_ms else 0
    peak = float(sys.argv[6]) if step_ms else 0
    src, owner, flops = {}, {}, {}
    for ip, cn in zip(ipath.split(","), cname.split(",")):
        s, o, fl = read_source(ip, cn)
        src.update({(cn, k): v for k, v in s.items()})
        owner.update({(cn, k): v for k, v in o.items()})
        flops.update(fl)
    cnames = cname.split(",")
    ipath = ipath.split(",")[-1]
    calls = calls_per_step(ipath if ipath.endswith(".c") else ipath[:-2] + ".c") if step_ms else {}
    per_func, lines, other = defaultdict(float), [], 0.0
    # perf report -n: each line's samples after its percentage. The percentages are rounded to
    # 0.01% of all samples (38 samples of a 380K-sample run), which a small op's many lines
    # each lose or gain: shares are taken from the counts when the report has them.
    rows = []
    with open(spath) as f:
        for text in f:
            m = re.match(r"\s*([\d.]+)%\s+(?:(\d+)\s+)?(.*\S)", text)
            if m:
                rows.append((float(m.group(1)), int(m.group(2)) if m.group(2) else None, m.group(3)))
    total = sum(n for _, n, _ in rows if n is not None)
    for pct, n, where in rows:
        if n is not None and total > 0:
            pct = 100.0 * n / total
        m = re.match(r"(\S+):(\d+)$", where)
        if not m:
            other += pct
            continue
        fname, ln = m.group(1), int(m.group(2))
        cn = next((c for c in cnames if fname == c or fname.endswith("/" + c)), None)
        if cn and ln == 0:
            per_func["(" + cn + " line 0: code the compiler attributes to no line)"] += pct
        elif cn and (cn, ln) in owner:
            per_func[owner[(cn, ln)]] += pct
            lines.append((pct, (cn, ln)))
        else:
            per_func["(runtime, libraries: " + fname.split("/")[-1] + ")"] += pct
    per_func["(no line information)"] += other
    print("share of samples per function (and part):")
    if step_ms:
        print(f"  {'share':>7s}  {'samples':>7s}  {'ms':>8s}  {'GFLOP/s':>8s}  {'% peak':>6s}  function part")
    for name, pct in sorted(per_func.items(), key=lambda kv: -kv[1]):
        if pct < float(os.environ.get("PROFILE_MIN_SHARE", "0.5")) or pct <= 0:
            continue
        if not step_ms:
            print(f"  {pct:6.2f}%  {name}")
            continue
        ms = pct / 100 * step_ms
        ncalls = max(calls.get(name.split(" ")[0], 1), 1)
        fl = flops.get(name, 0) * batch * ncalls
        gf = fl / (ms * 1e6) if fl and ms > 0 else None
        shown = name if ncalls == 1 else name.replace(" ", " x%d " % ncalls, 1) if " " in name else name + " x%d" % ncalls
        nsamp = pct / 100 * total if total > 0 else 0
        print(f"  {pct:6.2f}%  {nsamp:7.0f}  {ms:8.2f}  " + (f"{gf:8.1f}  {100 * gf / peak:5.1f}%" if gf else f"{'':8s}  {'':6s}")
              + f"  {shown}")
    line0 = sum(per_func.get("(" + c + " line 0: code the compiler attributes to no line)", 0.0) for c in cnames)
    if step_ms and line0 >= 5:
        print(f"  note: {line0:.1f}% of the samples are at line 0 (code the compiler merged from several lines, in the"
              " kernels' inner loops): the parts whose code went there get too few ms and too many GFLOP/s")
    if step_ms and total > 0:
        print("  samples: the part's perf samples; from the sampling alone its ms, GFLOP/s and % of peak move by about")
        print("  1 / sqrt(samples) between runs (400 samples: 5%, 2500: 2%); more steps (REPEAT) narrow it")
    print("hottest lines of the generated C:")
    for pct, key in sorted(lines, reverse=True)[:10]:
        print(f"  {pct:6.2f}%  {key[0]}:{key[1]:<6d} {owner[key]:<32s} {src[key].strip()[:72]}")


if __name__ == "__main__":
    main()
