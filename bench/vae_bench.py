"""Side-by-side benchmark of the reference VAE: dgm against PyTorch on the same data, in
one run on one machine. usage: vae_bench.py BUILD_DIR  (BENCH_EPOCHS, BENCH_K, BENCH_EVAL_N
in the environment change the protocol: 10 epochs, K=1000, 2000 test images).

What is timed, the same way on both sides (neither includes process start, imports, model
or data loading):
  training: each epoch's loop (permutation, binarization, steps); thread settings are
    chosen by a 1-epoch run at each, then the full run reports its median epoch (dgm from
    its --log lines, PyTorch from its own epoch timer);
  evaluation: the K-sample log-likelihood estimate over the prepared (binarized) test images
    (dgm eval's seconds_nll: its log_prob calls; PyTorch: iw_loglik);
  sampling 10,000 images: latents, decoder, sigmoid, Bernoulli draws (dgm sample's seconds:
    the dgm_model_sample call, median of 3 processes; PyTorch: median of 3 calls after a
    warm-up).
  dgm bf16: the same eval and sampling with --precision bf16 (the decoder's products on
    bf16 inputs through oneDNN), when dgm was built with it; its NLL is printed beside the
    fp32 one, from the same seed and the same importance-sampling noise.
Peak RSS is each process's maximum resident set (wait4): dgm's is the largest of its
train, eval and sample processes, PyTorch's that of its one process doing all three.
PyTorch holds the training set as float32 as a PyTorch script usually would; its training
RSS with the set held as uint8 (as dgm holds it) is printed beside it."""
import json, os, platform, statistics, subprocess, sys, tempfile

EPOCHS = int(os.environ.get("BENCH_EPOCHS", "10"))
K = int(os.environ.get("BENCH_K", "1000"))
EVAL_N = int(os.environ.get("BENCH_EVAL_N", "2000"))
N_TRAIN = 60000
PY = "/usr/bin/python3"


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return float("nan")


LOADS = []  # (what, 1-minute load average just before it ran)


def run_rss(what, cmd, env=None):
    """Runs cmd, returns (stdout, peak RSS in MB of the child, from wait4)."""
    LOADS.append((what, loadavg()))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit {rc}")
    return out, ru.ru_maxrss / 1024.0


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def torch_available():
    return subprocess.run([PY, "-c", "import torch"], capture_output=True).returncode == 0


def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def bench_dgm(dgm, tmp):
    speed, rss_speed = {}, {}
    for t, pol in ((1, "passive"), (2, "passive"), (2, "active")):
        env = dict(os.environ, OMP_WAIT_POLICY=pol)
        out, rss = run_rss(f"dgm train 1 epoch {t}t {pol}",
                           [dgm, "train", "--epochs", "1", "--val", "0", "--threads", str(t),
                            "-o", os.path.join(tmp, f"speed{t}.safetensors"), "--json"], env=env)
        speed[(t, pol)] = json.loads(out)["seconds"]
        rss_speed[(t, pol)] = rss
    best_t, best_pol = min(speed, key=speed.get)
    env = dict(os.environ, OMP_WAIT_POLICY=best_pol)
    model, log = os.path.join(tmp, "dgm.safetensors"), os.path.join(tmp, "dgm_train.jsonl")
    th = ["--threads", str(best_t)]
    _, rss_train = run_rss("dgm train", [dgm, "train", "--epochs", str(EPOCHS), "--val", "0",
                                         "-o", model, "--log", log, "--json"] + th, env=env)
    with open(log) as f:
        epoch_secs = [r["seconds"] for r in map(json.loads, filter(str.strip, f)) if "epoch" in r and "train_loss" in r]
    out, rss_eval = run_rss("dgm eval", [dgm, "eval", model, "--limit", str(EVAL_N), "--importance-samples", str(K),
                                         "--json"] + th, env=env)
    ev = json.loads(out)
    samples, rss_sample = [], 0.0
    for rep in range(3):
        out, rss = run_rss("dgm sample", [dgm, "sample", model, "-n", "10000", "-o",
                                          os.path.join(tmp, "s.npy"), "--json"] + th, env=env)
        samples.append(json.loads(out)["seconds"])
        rss_sample = max(rss_sample, rss)
    bf16 = bench_dgm_bf16(dgm, model, tmp, th, env)
    med = statistics.median(epoch_secs)
    return {
        "bf16": bf16,
        "setting": f"{best_t} thread{'s' if best_t > 1 else ''}, OpenMP {best_pol}",
        "tried": ", ".join(f"{t}t {p} {N_TRAIN / s:.0f}" for (t, p), s in speed.items()),
        "seconds_per_epoch": med, "epoch_seconds": epoch_secs,
        "images_per_s": N_TRAIN / med,
        "neg_elbo_nats": ev["neg_elbo_nats"], "nll_nats": ev["nll_nats"],
        "nll_stderr": ev["nll_stderr"], "seconds_eval": ev["seconds_nll"],
        "seconds_sample_10k": statistics.median(samples), "seconds_sample_reps": samples,
        "rss_train_mb": rss_train, "rss_eval_mb": rss_eval, "rss_sample_mb": rss_sample,
        "peak_rss_mb": max(rss_train, rss_eval, rss_sample),
        "rss_train_1epoch_mb": rss_speed[(best_t, best_pol)]}


def bench_dgm_bf16(dgm, model, tmp, th, env):
    """dgm eval and sample with --precision bf16; None (with the reason printed) when this
    build has no oneDNN or the CPU cannot run it."""
    probe = subprocess.run([dgm, "eval", model, "--limit", "1", "--importance-samples", "1", "--precision", "bf16"],
                           capture_output=True, text=True, env=env)
    if probe.returncode != 0:
        print(f"dgm bf16 row skipped: {probe.stderr.strip()}", file=sys.stderr)
        return None
    out, rss_eval = run_rss("dgm eval bf16", [dgm, "eval", model, "--limit", str(EVAL_N),
                                              "--importance-samples", str(K), "--precision", "bf16", "--json"] + th, env=env)
    ev = json.loads(out)
    samples = []
    for rep in range(3):
        out, _ = run_rss("dgm sample bf16", [dgm, "sample", model, "-n", "10000", "-o",
                                             os.path.join(tmp, "s.npy"), "--precision", "bf16",
                                             "--json"] + th, env=env)
        samples.append(json.loads(out)["seconds"])
    return {"nll_nats": ev["nll_nats"], "nll_stderr": ev["nll_stderr"],
            "seconds_eval": ev["seconds_nll"], "rss_eval_mb": rss_eval,
            "seconds_sample_10k": statistics.median(samples), "seconds_sample_reps": samples}


def bench_torch(tmp, here):
    script = os.path.join(here, "vae_torch.py")
    # torch threads x OpenBLAS threads (Debian's torch calls the system libblas, OpenBLAS)
    # x OpenMP wait policy
    settings = [(1, 1, "active"), (1, 2, "active"), (2, 1, "active"), (2, 2, "active"),
                (1, 2, "passive"), (2, 2, "passive")]
    tspeed, trss = {}, {}

    def env_for(tt, bt, pol):
        return dict(os.environ, OPENBLAS_NUM_THREADS=str(bt), OMP_NUM_THREADS=str(tt),
                    OMP_WAIT_POLICY=pol)

    for tt, bt, pol in settings:
        out, rss = run_rss(f"torch train 1 epoch {tt}x{bt} {pol}",
                           [PY, script, "--data", tmp, "--threads", str(tt), "--epochs", "1",
                            "--eval", "0"], env=env_for(tt, bt, pol))
        tspeed[(tt, bt, pol)] = last_json(out)["seconds_per_epoch"]
        trss[(tt, bt, pol)] = rss
    best = min(tspeed, key=tspeed.get)
    tt, bt, pol = best
    out, rss_u8 = run_rss("torch train 1 epoch uint8", [PY, script, "--data", tmp, "--threads",
                                                        str(tt), "--epochs", "1", "--eval", "0",
                                                        "--train-u8"], env=env_for(*best))
    u8 = last_json(out)
    out, rss = run_rss("torch train+eval+sample", [PY, script, "--data", tmp, "--threads", str(tt),
                                                   "--epochs", str(EPOCHS), "--k", str(K)],
                       env=env_for(*best))
    r = last_json(out)
    r.update({"peak_rss_mb": rss, "rss_train_1epoch_mb": trss[best], "rss_train_1epoch_u8_mb": rss_u8,
              "images_per_s_u8": N_TRAIN / u8["seconds_per_epoch"],
              "setting": f"torch {tt} x OpenBLAS {bt}, OpenMP {pol}",
              "tried": ", ".join(f"{a}x{b} {c} {N_TRAIN / s:.0f}" for (a, b, c), s in tspeed.items())})
    return r


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    dgm = os.path.join(build, "dgm")
    here = os.path.dirname(os.path.abspath(__file__))
    load_start = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    # the data (280 MB) and models are removed at the end, whatever happens
    with tempfile.TemporaryDirectory(prefix="dgm_bench_vae_") as tmp:
        subprocess.run([os.path.join(build, "bench", "bench_vae_data"), tmp, str(EVAL_N)],
                       check=True)
        rows = {"dgm": bench_dgm(dgm, tmp)}
        if torch_available():
            rows["pytorch"] = bench_torch(tmp, here)
    load_end = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []

    d, p = rows["dgm"], rows.get("pytorch")
    print(f"VAE benchmark: reference model 784-400-20 Bernoulli, Adam 1e-3, batch 128, {EPOCHS} "
          f"epochs, dynamic binarization; NLL with K={K} on the first {EVAL_N} test images (the "
          f"same binarized bytes both sides)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.system()} {platform.release()}")
    help_text = subprocess.run([dgm, "--help"], capture_output=True, text=True).stdout
    print(f"dgm: {help_text.strip().splitlines()[-1]}")
    print(f"compiler: {first_line(['cc', '--version'])}")
    if p:
        blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
        print(f"pytorch {p['torch']} (Debian python3-torch, BLAS {blas}), numpy {p['numpy']}, "
              f"Python {platform.python_version()}")
    print(f"load average (1, 5, 15 min): {' '.join(load_start)} at start, {' '.join(load_end)} "
          f"at end; 1-min load before each timed run: min {min(l for _, l in LOADS):.2f}, "
          f"max {max(l for _, l in LOADS):.2f}")
    print(f"thread settings tried, train img/s of 1 epoch: dgm {d['tried']}")
    if p:
        print(f"  pytorch (torch threads x OpenBLAS threads, OpenMP wait policy) {p['tried']}")

    def fmt_nll(r):
        return f"{r['nll_nats']:.2f} +- {r['nll_stderr']:.2f}"

    table = [("threads", lambda r: r["setting"]),
             ("s/epoch (median)", lambda r: f"{r['seconds_per_epoch']:.2f}"),
             ("train img/s", lambda r: f"{r['images_per_s']:.0f}"),
             ("test -ELBO", lambda r: f"{r['neg_elbo_nats']:.2f}"),
             (f"test NLL K={K}", fmt_nll),
             (f"eval s (K={K}, {EVAL_N})", lambda r: f"{r['seconds_eval']:.2f}"),
             ("sample 10k s", lambda r: f"{r['seconds_sample_10k']:.4f}"),
             ("peak RSS MB", lambda r: f"{r['peak_rss_mb']:.0f}"),
             ("train RSS MB 1 ep", lambda r: f"{r['rss_train_1epoch_mb']:.0f}")]
    print(f"  {'':<24} {'dgm':<34} {'pytorch' if p else ''}")
    for label, f in table:
        print(f"  {label:<24} {f(d):<34} {f(p) if p else 'not installed (python3-torch)'}")
    print(f"  dgm peak RSS by process: train {d['rss_train_mb']:.0f} MB, eval {d['rss_eval_mb']:.0f} "
          f"MB, sample {d['rss_sample_mb']:.0f} MB; sample reps "
          + ", ".join(f"{s:.4f}" for s in d["seconds_sample_reps"]) + " s")
    b = d.get("bf16")
    if b:
        print(f"  dgm bf16 (--precision bf16): NLL K={K} {fmt_nll(b)} (bf16 - fp32 "
              f"{b['nll_nats'] - d['nll_nats']:+.4f} nats, same noise), eval "
              f"{b['seconds_eval']:.2f} s ({d['seconds_eval'] / b['seconds_eval']:.2f}x fp32), "
              f"sample 10k {b['seconds_sample_10k']:.4f} s (reps "
              + ", ".join(f"{s:.4f}" for s in b["seconds_sample_reps"]) + ")")
        if p:
            print(f"  ratios pytorch/dgm bf16: eval {p['seconds_eval'] / b['seconds_eval']:.2f}x, "
                  f"sampling {p['seconds_sample_10k'] / b['seconds_sample_10k']:.2f}x")
    if p:
        print(f"  pytorch with the training set as uint8: train RSS {p['rss_train_1epoch_u8_mb']:.0f} MB "
              f"(1 epoch, {p['images_per_s_u8']:.0f} img/s); sample reps "
              + ", ".join(f"{s:.4f}" for s in p["seconds_sample_10k_reps"]) + " s")
        ratios = {"train speed": d["images_per_s"] / p["images_per_s"],
                  "eval": p["seconds_eval"] / d["seconds_eval"],
                  "sampling": p["seconds_sample_10k"] / d["seconds_sample_10k"],
                  "memory": p["peak_rss_mb"] / d["peak_rss_mb"]}
        targets = {"train speed": 2.0, "eval": 2.0, "sampling": 1.5, "memory": 4.0}
        print("  ratios (pytorch/dgm, >1 means dgm is better; issue 3 target): " + ", ".join(
            f"{k} {v:.2f}x (>= {targets[k]}: {'met' if v >= targets[k] else 'NOT met'})"
            for k, v in ratios.items()))
        dn = d["nll_nats"] - p["nll_nats"]
        print(f"  NLL difference dgm - pytorch {dn:+.2f} nats (within 1: "
              f"{'met' if abs(dn) <= 1 else 'NOT met'}); memory vs pytorch holding uint8 "
              f"(training only): {p['rss_train_1epoch_u8_mb'] / d['rss_train_1epoch_mb']:.2f}x")
    print(json.dumps({"vae_bench": rows, "loads": LOADS}))


if __name__ == "__main__":
    main()
