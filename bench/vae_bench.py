"""Side-by-side benchmark of the reference VAE: dgm against PyTorch on the same data, in
one run on one machine. PyTorch's speed is measured at each thread setting (torch threads
x OpenBLAS threads), its quality at the fastest; dgm at 1 and 2 threads, quality at 2.
Prints one table with the ratios. usage: vae_bench.py BUILD_DIR [--epochs 10]"""
import json, os, platform, subprocess, sys, tempfile, time

EPOCHS = int(os.environ.get("BENCH_EPOCHS", "10"))
K = int(os.environ.get("BENCH_K", "1000"))
EVAL_N = int(os.environ.get("BENCH_EVAL_N", "2000"))


def run_rss(cmd, env=None):
    """Like run, but also measures the child's peak RSS with wait4."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit {p.returncode}")
    return out, secs, ru.ru_maxrss / 1024.0


def torch_available():
    try:
        subprocess.run(["/usr/bin/python3", "-c", "import torch"], check=True,
                       capture_output=True)
        return True
    except Exception:
        return False


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    dgm = os.path.join(build, "dgm")
    here = os.path.dirname(os.path.abspath(__file__))
    tmp = tempfile.mkdtemp(prefix="dgm_bench_vae_")
    subprocess.run([os.path.join(build, "bench", "bench_vae_data"), tmp, str(EVAL_N)], check=True)
    rows = {}

    # dgm: speed at 1 and 2 threads with its default passive OpenMP waiting, and 2 threads
    # spinning (1 epoch each); then the full protocol at the fastest
    speed = {}
    for t, pol in ((1, "passive"), (2, "passive"), (2, "active")):
        env = dict(os.environ, OMP_WAIT_POLICY=pol)
        out, _, _ = run_rss([dgm, "train", "--epochs", "1", "--val", "0", "--threads", str(t),
                             "-o", os.path.join(tmp, f"speed{t}.safetensors"), "--json"], env=env)
        speed[(t, pol)] = json.loads(out)["seconds"]
    best_t, best_pol = min(speed, key=speed.get)
    denv = dict(os.environ, OMP_WAIT_POLICY=best_pol)
    model = os.path.join(tmp, "dgm.safetensors")
    out, train_secs, rss_train = run_rss([dgm, "train", "--epochs", str(EPOCHS), "--val", "0",
                                          "--threads", str(best_t), "-o", model, "--json"], env=denv)
    out, _, rss_eval = run_rss([dgm, "eval", model, "--limit", str(EVAL_N), "--k", str(K),
                                "--threads", str(best_t), "--json"], env=denv)
    ev = json.loads(out)
    out, _, rss_sample = run_rss([dgm, "sample", model, "-n", "10000", "-o",
                                  os.path.join(tmp, "s.npy"), "--threads", str(best_t), "--json"],
                                 env=denv)
    sm = json.loads(out)
    n_train = 60000
    rows["dgm"] = {
        "setting": f"{best_t} thread{'s' if best_t > 1 else ''} {best_pol} (1 epoch: " +
                   ", ".join(f"{t}t {p} {n_train / s:.0f} img/s" for (t, p), s in speed.items()) + ")",
        "seconds_per_epoch": speed[(best_t, best_pol)],
        "images_per_s": n_train / speed[(best_t, best_pol)],
        "neg_elbo_nats": ev["neg_elbo_nats"], "nll_nats": ev["nll_nats"],
        "nll_stderr": ev["nll_stderr"], "seconds_eval": ev["seconds_nll"],
        "seconds_sample_10k": sm["seconds"],
        "peak_rss_mb": max(rss_train, rss_eval, rss_sample)}

    if torch_available():
        script = os.path.join(here, "vae_torch.py")
        # torch threads x OpenBLAS threads x OpenMP wait policy
        settings = [(1, 2, "active"), (1, 1, "active"), (2, 1, "active"), (2, 2, "active"),
                    (1, 2, "passive"), (2, 2, "passive")]
        tspeed = {}
        for tt, bt, pol in settings:
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(bt), OMP_NUM_THREADS=str(tt),
                       OMP_WAIT_POLICY=pol)
            out, _, _ = run_rss(["/usr/bin/python3", script, "--data", tmp, "--threads", str(tt),
                                 "--epochs", "1", "--eval", "0"], env=env)
            tspeed[(tt, bt, pol)] = json.loads(out.strip().splitlines()[-1])["seconds_per_epoch"]
        tt, bt, pol = min(tspeed, key=tspeed.get)
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(bt), OMP_NUM_THREADS=str(tt),
                   OMP_WAIT_POLICY=pol)
        out, _, rss = run_rss(["/usr/bin/python3", script, "--data", tmp, "--threads", str(tt),
                               "--epochs", str(EPOCHS), "--k", str(K)], env=env)
        r = json.loads(out.strip().splitlines()[-1])
        r["peak_rss_mb"] = rss
        r["setting"] = f"torch {tt} x OpenBLAS {bt} {pol} (1 epoch: " + ", ".join(
            f"{a}x{b} {c} {n_train / s:.0f} img/s" for (a, b, c), s in tspeed.items()) + ")"
        rows["pytorch"] = r
        torch_version = r["torch"]
    else:
        torch_version = None

    print(f"VAE benchmark: reference model 784-400-20, {EPOCHS} epochs, batch 128; "
          f"NLL with K={K} on the first {EVAL_N} test images (same binarized bytes both sides)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{subprocess.run([dgm, '--help'], capture_output=True, text=True).stdout.strip().splitlines()[-1]}")
    if torch_version:
        print(f"pytorch {torch_version} (Debian python3-torch)")
    keys = [("setting", "threads", "{}"), ("seconds_per_epoch", "s/epoch", "{:.2f}"),
            ("images_per_s", "train img/s", "{:.0f}"), ("neg_elbo_nats", "test -ELBO", "{:.2f}"),
            ("nll_nats", f"test NLL K={K}", "{:.2f}"), ("seconds_eval", "eval s", "{:.2f}"),
            ("seconds_sample_10k", "sample 10k s", "{:.4f}"), ("peak_rss_mb", "peak RSS MB", "{:.0f}")]
    for k, label, fmt in keys:
        line = f"  {label:<16}"
        for side in ("dgm", "pytorch"):
            v = rows.get(side, {}).get(k)
            line += f" {side}: " + (fmt.format(v) if v is not None else "not installed (python3-torch)") + " "
        print(line)
    if "pytorch" in rows:
        d, p = rows["dgm"], rows["pytorch"]
        print(f"  ratios (pytorch/dgm, >1 means dgm is better): train speed "
              f"{d['images_per_s'] / p['images_per_s']:.2f}x, eval {p['seconds_eval'] / d['seconds_eval']:.2f}x, "
              f"sampling {p['seconds_sample_10k'] / d['seconds_sample_10k']:.2f}x, "
              f"memory {p['peak_rss_mb'] / d['peak_rss_mb']:.2f}x; NLL difference "
              f"{d['nll_nats'] - p['nll_nats']:+.2f} nats")
    print(json.dumps({"vae_bench": rows}))


if __name__ == "__main__":
    main()
