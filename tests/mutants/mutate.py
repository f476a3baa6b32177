#!/usr/bin/python3
"""tests/mutants/mutate.py: mutation testing. Each mutant of tests/mutants/mutants.txt is one
deliberate bug (a text in a file replaced by another); it is applied to a scratch copy of the
repository, the copy is rebuilt, and the slices of tests that should catch the bug are run
until one fails (the mutant is killed) or none does (it survived: the tests cannot see that
bug). docs/testing.md explains the list and the slices.

    /usr/bin/python3 tests/mutants/mutate.py [--build BUILD] [--list FILE ...] [--only NAME ...] [--check] [--keep]

The scratch copy (/tmp/cnnc-mutate.*) holds the repository's files and a copy of BUILD (so that
only the mutated file is recompiled). Before any mutant, every slice used is run once on the
unmutated copy: a slice that fails there would kill every mutant, so that stops the run
(status 2). A mutant whose text is not found exactly once, or whose copy does not build, is an
error of the list (status 2), not a kill. Prints one line per mutant, then
`N killed, M survived` (followed by the survivors' names); exits 1 when one survived.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
SLICE_TIMEOUT = 600   # seconds; a mutant that hangs a slice is killed by the timeout
KEYS = ("name", "file", "find", "replace", "tests", "breaks")


def parse(path):
    """The mutants of FILE: blocks of `key: value` lines separated by blank lines; # comments."""
    mutants, cur, errors = [], {}, []
    with open(path) as f:
        lines = f.read().split("\n")
    for no, line in enumerate(lines + [""], 1):
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                missing = [k for k in KEYS if k not in cur]
                if missing:
                    errors.append("%s:%d: mutant %s lacks %s" % (path, no, cur.get("name", "?"), ", ".join(missing)))
                mutants.append(cur)
                cur = {}
            continue
        m = re.match(r"^(\w+): ?(.*)$", line)
        if not m or m.group(1) not in KEYS:
            errors.append("%s:%d: expected one of %s, got %r" % (path, no, ", ".join(KEYS), line))
            continue
        value = m.group(2).replace("\\n", "\n").replace("\\t", "\t")
        cur["line"] = cur.get("line", no)
        cur[m.group(1)] = value
    return mutants, errors


def slice_command(spec, top, build):
    """The command of one slice: NAME or NAME:ARG1,ARG2."""
    name, _, arg = spec.partition(":")
    args = [a for a in arg.split(",") if a]
    b = os.path.join(top, build)
    script = lambda n: ["sh", os.path.join(top, "tests", n + ".test.sh"), b]
    if name == "unit":
        return ["sh", "-c", 'cd "$1/tests" && "$2/test_unit"', "sh", top, b], {}
    if name == "fd":
        return script("grad_fd"), {"FD_ONLY": " ".join(args)}
    if name == "gp":
        return [PY, os.path.join(top, "tests/torch/grad_parity.py"), "--build", b, "--only"] + args, {}
    if name == "gpb":   # gpb:BATCH,MODEL,...: grad_parity at another batch (batch slices from 16 on)
        return [PY, os.path.join(top, "tests/torch/grad_parity.py"), "--build", b, "--batch", args[0], "--only"] + args[1:], {}
    if name == "parity":
        return [PY, os.path.join(top, "tests/torch/parity.py"), "--build", b, "--only"] + args, {}
    if name == "train":
        return script("train"), {"TRAIN_ONLY": " ".join(args)} if args else {}
    if not args and os.path.isfile(os.path.join(TOP, "tests", name + ".test.sh")):
        return script(name), {}   # any other tests/NAME.test.sh, whole
    raise ValueError("unknown slice %r" % spec)


def run_slice(spec, top, build, log):
    """True when the slice passes."""
    cmd, env = slice_command(spec, top, build)
    full = dict(os.environ, CNNC_TOP=top, CNNC_BUILD=os.path.join(top, build), **env)
    full.pop("SANITIZE", None)
    with open(log, "w") as out:
        try:
            r = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=full, cwd=top, timeout=SLICE_TIMEOUT)
        except subprocess.TimeoutExpired:
            out.write("\n(timed out after %d s)\n" % SLICE_TIMEOUT)
            return False
    return r.returncode == 0


def make(top, build, log):
    with open(log, "w") as out:
        r = subprocess.run(["make", "-s", "-j2", "B=" + build, "all", build + "/test_unit"], cwd=top, stdout=out,
                           stderr=subprocess.STDOUT)
    return r.returncode == 0


def copy_tree(src, dst, build):
    """The repository's files (not .git, not build directories), and the build directory BUILD
    as dst/build, times kept."""
    def ignore(d, names):
        if os.path.abspath(d) == os.path.abspath(src):
            return [n for n in names if n == ".git" or n.startswith("build")]
        return [n for n in names if n == "__pycache__"]
    shutil.copytree(src, dst, ignore=ignore, symlinks=True)
    if os.path.isdir(build):
        shutil.copytree(build, os.path.join(dst, "build"), symlinks=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="build directory to start from (its objects are reused)")
    ap.add_argument("--list", nargs="+", default=[os.path.join(HERE, "mutants.txt")], help="mutant lists")
    ap.add_argument("--only", nargs="*", default=[], help="mutant names to run")
    ap.add_argument("--check", action="store_true", help="only check that every mutant's text occurs once")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copy")
    args = ap.parse_args()
    mutants, errors = [], []
    for path in args.list:
        ms, es = parse(path)
        mutants += ms
        errors += es
    names = [m.get("name") for m in mutants]
    errors += ["mutant name %s used twice" % n for n in sorted(set(names)) if names.count(n) > 1]
    if args.only:
        unknown = set(args.only) - {m.get("name") for m in mutants}
        errors += ["no mutant named %s" % n for n in sorted(unknown)]
        mutants = [m for m in mutants if m.get("name") in args.only]
    for m in mutants:
        try:
            with open(os.path.join(TOP, m["file"])) as f:
                count = f.read().count(m["find"])
        except OSError as e:
            count = str(e)
        if count != 1:
            errors.append("mutant %s: its text occurs %s times in %s (want once)" % (m["name"], count, m["file"]))
        for s in m["tests"].split():
            try:
                slice_command(s, TOP, "build")
            except ValueError as e:
                errors.append("mutant %s: %s" % (m["name"], e))
    if errors:
        print("\n".join(errors))
        return 2
    if args.check:
        print("mutate: %d mutants, each text found once" % len(mutants))
        return 0
    scratch = tempfile.mkdtemp(prefix="cnnc-mutate.")
    top = os.path.join(scratch, "src")
    status = 0
    try:
        copy_tree(TOP, top, os.path.join(TOP, args.build))
        args.build = "build"
        log = os.path.join(scratch, "log")
        t0 = time.time()
        if not make(top, args.build, log):
            print("mutate: the unmutated copy does not build:\n" + open(log).read()[-3000:])
            return 2
        slices = []
        for m in mutants:
            for s in m["tests"].split():
                if s not in slices:
                    slices.append(s)
        for s in slices:   # every slice must pass without a mutant, or it would kill them all
            try:
                ok = run_slice(s, top, args.build, log)
            except ValueError as e:
                print("mutate: %s" % e)
                return 2
            if not ok:
                print("mutate: slice %s fails on the unmutated copy:\n%s" % (s, open(log).read()[-3000:]))
                return 2
        print("mutate: %d mutants, %d slices pass unmutated (%.0f s)" % (len(mutants), len(slices), time.time() - t0))
        sys.stdout.flush()
        killed, survived, invalid = [], [], []
        for m in mutants:
            start = time.time()
            path = os.path.join(top, m["file"])
            try:
                with open(path) as f:
                    original = f.read()
            except OSError as e:
                invalid.append(m["name"])
                print("INVALID  %-28s %s" % (m["name"], e))
                continue
            count = original.count(m["find"])
            if count != 1:
                invalid.append(m["name"])
                print("INVALID  %-28s its text occurs %d times in %s (want once)" % (m["name"], count, m["file"]))
                continue
            with open(path, "w") as f:
                f.write(original.replace(m["find"], m["replace"]))
            try:
                if not make(top, args.build, log):
                    invalid.append(m["name"])
                    print("INVALID  %-28s the mutated copy does not build: %s" % (
                        m["name"], open(log).read().strip().split("\n")[-1][:200]))
                    continue
                by = None
                for s in m["tests"].split():
                    if not run_slice(s, top, args.build, log):
                        by = s
                        break
            finally:
                with open(path, "w") as f:
                    f.write(original)
            if by:
                killed.append(m["name"])
                print("killed   %-28s by %-28s %4.0f s" % (m["name"], by, time.time() - start))
            else:
                survived.append(m["name"])
                print("SURVIVED %-28s (%s): %s" % (m["name"], m["tests"], m["breaks"]))
            sys.stdout.flush()
        if invalid:
            print("mutate: invalid mutants (fix the list): %s" % " ".join(invalid))
            status = 2
        print("%d killed, %d survived%s" % (len(killed), len(survived), ": " + " ".join(survived) if survived else ""))
        if survived and not status:
            status = 1
    finally:
        if args.keep:
            print("mutate: scratch copy kept in %s" % top)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
