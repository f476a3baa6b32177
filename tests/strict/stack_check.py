"""tests/strict/stack_check.py: the deepest stack of a generated NAME.c against its header's
NAME_STACK_BYTES (tests/strict_c.test.sh runs it).

    python3 stack_check.py NAME.h NAME.su [NAME.ci]

NAME.su is the compiler's -fstack-usage report (one line per function: place, bytes, kind);
NAME.ci (gcc's -fcallgraph-info=su) adds the calls. With the call graph the measure is the
deepest chain from any function of the file: its frame plus the deepest chain among the
generated functions it calls (calls into the C library are not in the .su and not counted;
the header's bound keeps a margin for them). Without it (clang writes no call graph) the
measure is the largest frame of an entry function (not static) plus the largest frame of
any static function, i.e. a chain entry -> op function, as the generated code calls.
Every frame must be "static" or "dynamic,bounded" (gcc realigning the frame for vector
locals; the size is still a bound): no VLA, no alloca. Prints "NAME: measured M bytes, bound B
bytes" and exits 1 when M > B or a frame is dynamic."""
import re
import sys


def main():
    h, su = sys.argv[1], sys.argv[2]
    ci = sys.argv[3] if len(sys.argv) > 3 else None
    m = re.search(r"^#define (\w+)_STACK_BYTES (\d+)", open(h).read(), re.M)
    if not m:
        print("%s: no NAME_STACK_BYTES" % h)
        return 1
    bound = int(m.group(2))
    frames, entries, bad = {}, set(), []
    for line in open(su):
        place, size, kind = line.rstrip("\n").split("\t")
        name = place.rsplit(":", 1)[1]
        frames[name] = max(frames.get(name, 0), int(size))
        if kind not in ("static", "dynamic,bounded"):  # bounded: realigned for vectors
            bad.append("%s (%s)" % (name, kind))
    src = open(h[:-2] + ".c").read()
    for name in frames:
        base = name.split(".")[0]
        if re.search(r"^(?!static)[\w ]*\b%s\(" % re.escape(base), src, re.M):
            entries.add(name)
    if ci:
        text = open(ci).read()
        label = {}
        for t, l in re.findall(r'node: \{ title: "([^"]+)" label: "([^"\\]+)', text):
            label[t] = l
        sizes = {}
        for t, l in label.items():
            nm = re.search(r'title: "%s" label: "[^"]*\\n[^"]*\\n(\d+) bytes' % re.escape(t), text)
            sizes[t] = int(nm.group(1)) if nm else 0   # external (C library): not ours
        edges = {}
        for a, b in re.findall(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', text):
            edges.setdefault(a, set()).add(b)
        memo = {}

        def deep(t, seen=()):
            if t in memo:
                return memo[t]
            if t in seen:  # recursion: none in generated code
                return 0
            d = sizes.get(t, 0) + max([deep(u, seen + (t,)) for u in edges.get(t, ())] or [0])
            memo[t] = d
            return d
        measured = max([deep(t) for t in sizes] or [0])
        how = "deepest call chain (gcc call graph)"
    else:
        ent = max([frames[n] for n in entries] or [0])
        rest = max([s for n, s in frames.items() if n not in entries] or [0])
        measured = ent + rest
        how = "largest entry frame + largest static frame"
    name = m.group(1)
    print("%s: measured %d bytes (%s), bound %d bytes" % (name, measured, how, bound))
    if bad:
        print("FAIL dynamic stack frames: %s" % ", ".join(bad))
        return 1
    if measured > bound:
        print("FAIL %s_STACK_BYTES %d is below the measured %d" % (name, bound, measured))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
