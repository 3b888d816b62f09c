#!/usr/bin/python3
"""dgm assess beside the numpy implementation (bench/assess_numpy.py) on the same files:
both sides run alternately in pairs (dgm, numpy, dgm, numpy, ...), each timed as a whole
process (reading included), and the ratio is the median of the pairs' numpy / dgm ratios.
The numbers are checked first: every key of every row agrees to 1e-6.

    assess_bench.py BUILD REFERENCE [SAMPLES...] [--heldout FILE] [--pairs N] [--threads N]

Without REFERENCE (or when it is missing) a generated family is used. The machine may be
shared: the load average is printed before and after, and the timings mean little when it
is above the core count."""
import json, os, random, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))


def load():
    return open("/proc/loadavg").read().split()[:3]


def generated(d):
    random.seed(3)
    AA = "ACDEFGHIKLMNPQRSTVWY-"
    L = 120
    anc = ["".join(random.choice(AA[:20]) for _ in range(L)) for _ in range(8)]
    def draw():
        return "".join(c if random.random() > 0.3 else random.choice(AA) for c in random.choice(anc))
    paths = []
    for name, n in (("ref", 2000), ("gen", 2000)):
        p = os.path.join(d, name + ".fa")
        with open(p, "w") as f:
            for i in range(n):
                f.write(">%s%d\n%s\n" % (name, i, draw()))
        paths.append(p)
    return paths


def main(argv):
    build, rest, pairs, threads, heldout = argv[0], [], 3, "2", None
    i = 1
    while i < len(argv):
        if argv[i] == "--pairs": pairs = int(argv[i + 1]); i += 2
        elif argv[i] == "--threads": threads = argv[i + 1]; i += 2
        elif argv[i] == "--heldout": heldout = argv[i + 1]; i += 2
        else: rest.append(argv[i]); i += 1
    tmp = tempfile.mkdtemp(prefix="assess-bench.")
    if not rest or not os.path.exists(rest[0]):
        rest = generated(tmp)
    extra = ["--heldout", heldout] if heldout else []
    dgm = [os.path.join(build, "dgm"), "assess"] + rest + extra + ["--json", "--threads", threads]
    ref = ["/usr/bin/python3", os.path.join(HERE, "assess_numpy.py")] + rest + extra
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    print("files: %s%s" % (" ".join(rest), " --heldout " + heldout if heldout else ""))
    print("load average before: %s (%d cores; a shared machine: timings are only comparable "
          "within a pair)" % (" ".join(load()), os.cpu_count()))
    times = {"dgm": [], "numpy": []}
    outs = {}
    for p in range(pairs):
        for side, cmd in (("dgm", dgm), ("numpy", ref)):
            t = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            times[side].append(time.perf_counter() - t)
            if r.returncode:
                sys.exit("%s failed: %s" % (side, r.stderr.strip()))
            outs[side] = json.loads(r.stdout)
    bad = 0
    for ra, rb in zip(outs["dgm"]["rows"], outs["numpy"]["rows"]):
        for k, v in rb.items():
            if not isinstance(v, str) and abs(ra[k] - v) > 1e-6:
                print("  disagree: %s %s dgm %r numpy %r" % (ra["name"], k, ra[k], v))
                bad += 1
    ratios = sorted(n / d for d, n in zip(times["dgm"], times["numpy"]))
    med = ratios[len(ratios) // 2]
    print("numbers: %s (every key of %d rows, tolerance 1e-6)" % ("agree" if not bad else "%d disagree" % bad, len(outs["dgm"]["rows"])))
    print("%-6s %s" % ("dgm", "  ".join("%.2fs" % t for t in times["dgm"])))
    print("%-6s %s" % ("numpy", "  ".join("%.2fs" % t for t in times["numpy"])))
    print("numpy / dgm, median of %d pairs: %.1fx (threads %s)" % (pairs, med, threads))
    print("load average after: %s" % " ".join(load()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
