"""profile_map.py: charge perf's per-source-line samples to the generated op functions.

    python3 bench/profile_map.py MODEL.i MODEL.c SRCLINES.txt

MODEL.i is the preprocessed generated C (kept by -save-temps); its line markers give back the
line numbers of MODEL.c, and each line belongs to the function defined above it (opN_<layer>,
MODEL_forward, ...). SRCLINES.txt is `perf report --sort srcline --stdio`. Prints the share of
samples per function and the ten hottest lines with their text.
"""
import re
import sys
from collections import defaultdict


def main():
    ipath, cname, spath = sys.argv[1:4]
    src, owner = {}, {}
    cur_file, line, func = None, 0, "?"
    with open(ipath) as f:
        for text in f:
            m = re.match(r'# (\d+) "([^"]*)"', text)
            if m:
                line, cur_file = int(m.group(1)), m.group(2)
                continue
            if cur_file and cur_file.endswith("/" + cname):
                d = re.match(r"(?:static\s+)?(?:void|int)\s+(\w+)\s*\(", text)
                if d:
                    func = d.group(1)
                src[line] = text.rstrip()
                owner[line] = func
            line += 1
    per_func, lines, other = defaultdict(float), [], 0.0
    with open(spath) as f:
        for text in f:
            m = re.match(r"\s*([\d.]+)%\s+(\S+):(\d+)", text)
            if not m:
                m2 = re.match(r"\s*([\d.]+)%\s+(.*)", text)
                if m2:
                    other += float(m2.group(1))
                continue
            pct, fname, ln = float(m.group(1)), m.group(2), int(m.group(3))
            if fname.endswith(cname) and ln in owner:
                per_func[owner[ln]] += pct
                lines.append((pct, ln))
            else:
                per_func["(runtime, libraries: " + fname.split("/")[-1] + ")"] += pct
    per_func["(no line information)"] += other
    print("share of samples per function:")
    for name, pct in sorted(per_func.items(), key=lambda kv: -kv[1]):
        if pct >= 0.5:
            print(f"  {pct:6.2f}%  {name}")
    print("hottest lines of the generated C:")
    for pct, ln in sorted(lines, reverse=True)[:10]:
        print(f"  {pct:6.2f}%  {cname}:{ln:<6d} {owner[ln]:<24s} {src[ln].strip()[:80]}")


if __name__ == "__main__":
    main()
