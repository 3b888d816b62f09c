#!/usr/bin/env python3
"""scikit-learn's GaussianMixture on exactly the data dgm fits, for bench/bench_gmm.c.

Reads the training and test matrices that bench_gmm wrote (float32 NPY, Fashion-MNIST
dequantised as (pixel + u)/256), casts them to float64 (scikit-learn's usual precision; the
float32 values are exact in float64), fits GaussianMixture with the given options, and
prints one JSON line: fit time, iterations, train and test mean log-likelihood and test
bits/dim (-ll / (D ln 2) + 8, dgm's convention for dequantised 8-bit data).

--labels starts EM from the responsibilities of the given k-means labels (one-hot), as
scikit-learn's own init_params="kmeans" would from those labels, so both libraries run EM
from the same parameters; the init's log-likelihood is printed to validate that.
--kmeans-inertia also reports, after the timed fit, the inertia and Lloyd iterations of
the k-means that GaussianMixture(random_state=seed) starts from: KMeans(n_clusters, n_init=1,
random_state=seed) draws the same numbers, as both seed a RandomState(seed) the same way.
The versions of scikit-learn, numpy and the BLAS numpy calls are part of the output.
Without scikit-learn, prints {"error": ...} and exits with status 3.

Run with /usr/bin/python3 (Debian's python3-sklearn, python3-numpy).
"""
import argparse
import json
import math
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--labels", help="NPY of k-means labels to start from (as float32)")
    ap.add_argument("--components", type=int, default=10)
    ap.add_argument("--covariance", default="diag")
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--reg-covar", type=float, default=1e-6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="0: library default")
    ap.add_argument("--kmeans-inertia", action="store_true")
    a = ap.parse_args()
    try:
        import numpy as np
        import sklearn
        from sklearn.mixture import GaussianMixture
        from sklearn.mixture._gaussian_mixture import (
            _estimate_gaussian_parameters, _compute_precision_cholesky)
    except ImportError as e:
        print(json.dumps({"error": "python3-sklearn is not installed (%s)" % e}))
        return 3
    limits, blas = None, "?"
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
        if a.threads > 0:
            limits = threadpool_limits(a.threads)
        blas = ", ".join("%s %s" % (i.get("internal_api"), i.get("version"))
                         for i in threadpool_info() if i.get("user_api") == "blas") or "?"
    except ImportError:
        pass
    X = np.load(a.train).astype(np.float64)
    T = np.load(a.test).astype(np.float64)
    n, d = X.shape
    kw = dict(n_components=a.components, covariance_type=a.covariance, tol=a.tol,
              max_iter=a.max_iter, reg_covar=a.reg_covar, random_state=a.seed)
    init_ll = None
    t0 = time.perf_counter()
    if a.labels and a.covariance not in ("diag", "spherical"):
        raise SystemExit("gmm_sklearn.py: --labels supports diag and spherical only")
    if a.labels:
        lab = np.load(a.labels).astype(np.int64).ravel()
        resp = np.zeros((n, a.components))
        resp[np.arange(n), lab] = 1
        w, mu, cov = _estimate_gaussian_parameters(X, resp, a.reg_covar, a.covariance)
        w /= n
        prec = _compute_precision_cholesky(cov, a.covariance)
        # with all three given, init_params only picks the (ignored) responsibilities:
        # "random" keeps k-means out of the timing
        g = GaussianMixture(init_params="random", weights_init=w, means_init=mu,
                            precisions_init=prec ** 2, **kw)
        t0 = time.perf_counter()
        g.fit(X)
        fit = time.perf_counter() - t0
        probe = GaussianMixture(**kw)
        probe.weights_, probe.means_, probe.covariances_ = w, mu, cov
        probe.precisions_cholesky_ = prec
        init_ll = float(probe.score(X))
    else:
        g = GaussianMixture(init_params="kmeans", **kw)
        g.fit(X)
        fit = time.perf_counter() - t0
    train_ll = float(g.score(X))
    test_ll = float(g.score(T))
    out = {
        "sklearn": sklearn.__version__, "numpy": np.__version__, "blas": blas,
        "threads": a.threads, "seed": a.seed,
        "n": n, "dim": d, "fit_seconds": fit, "n_iter": int(g.n_iter_),
        "converged": bool(g.converged_), "lower_bound": float(g.lower_bound_),
        "train_loglik": train_ll, "test_loglik": test_ll,
        "test_bits_per_dim": -test_ll / (d * math.log(2)) + 8,
        "init": "labels" if a.labels else "kmeans",
    }
    if init_ll is not None:
        out["init_loglik"] = init_ll
    if a.kmeans_inertia and not a.labels:
        from sklearn.cluster import KMeans
        km = KMeans(n_clusters=a.components, n_init=1, random_state=a.seed).fit(X)
        out["kmeans_inertia"] = float(km.inertia_)
        out["kmeans_iter"] = int(km.n_iter_)
    print(json.dumps(out))
    del limits
    return 0


if __name__ == "__main__":
    sys.exit(main())
