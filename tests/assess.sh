#!/bin/sh
# dgm assess on small generated alignments: every sequence metric agrees with the
# independent numpy implementation (bench/assess_numpy.py) to 1e-6; the checks of issue
# #11 in miniature (a held-out half near the ceiling, site-independent samples keep f_i but
# lose C_ij, a planted copy shows in the copy fraction); same JSON at 1 and 2 threads; and
# the bad inputs, each a one-line error naming the file, with no report written.
# Prints "ok - name" / "not ok - name" (counted by tests/run.sh).
build=${1:-build}
dgm="$build/dgm"
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "ok - assess: $1"; }
fail() { echo "not ok - assess: $1"; }
expect_error() {
    name=$1; pat=$2; shift 2
    if "$@" >"$tmp/out" 2>"$tmp/err"; then fail "$name (exit 0)"; return; fi
    if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q -- "$pat" "$tmp/err"; then
        fail "$name (message: $(cat "$tmp/err"))"; return; fi
    pass "$name"
}
if ! $py -c "import numpy" 2>/dev/null; then echo "skip - assess: numpy missing"; exit 0; fi

# A family with coupled columns: a few "clades" (shared ancestors) mutated at random, and
# pairs of columns that co-vary; the gap is a letter like the others.
$py - "$tmp" <<'PY'
import sys, random
random.seed(11)
d = sys.argv[1]
AA = "ACDEFGHIKLMNPQRSTVWY-"
L = 70
anc = ["".join(random.choice(AA[:20]) for _ in range(L)) for _ in range(6)]
def draw():
    s = list(random.choice(anc))
    for l in range(L):
        if random.random() < 0.25:
            s[l] = random.choice(AA)
    for l in range(0, 20, 2):  # coupled pairs (l, l + 1)
        if random.random() < 0.5:
            a = random.choice("ACDEK-")
            s[l], s[l + 1] = a, a
    return "".join(s)
def write(path, seqs, prefix="s"):
    with open(path, "w") as f:
        for i, s in enumerate(seqs):
            f.write(">%s%d\n%s\n" % (prefix, i, s))
ref = [draw() for _ in range(300)]
write(d + "/ref.fa", ref)
write(d + "/held.fa", [draw() for _ in range(300)])
# site-independent draws from the reference's column frequencies
cols = [[s[l] for s in ref] for l in range(L)]
write(d + "/indep.fa", ["".join(random.choice(cols[l]) for l in range(L)) for _ in range(300)])
# half fresh draws, half planted copies of reference sequences
write(d + "/copies.fa", [draw() for _ in range(150)] + random.sample(ref, 150))
# bad inputs
write(d + "/short.fa", [draw() for _ in range(3)] + [draw()[:60]])
open(d + "/empty.fa", "w").close()
write(d + "/badletters.fa", ["".join(random.choice("BJOXZ") for _ in range(L)) for _ in range(4)])
write(d + "/somebad.fa", [draw() for _ in range(20)] + ["X" * L, "B" + draw()[1:]])
open(d + "/vec.csv", "w").write("0.1,0.2\n0.3,0.4\n")
PY

sets="$tmp/indep.fa $tmp/copies.fa"
if "$dgm" assess "$tmp/ref.fa" $sets --heldout "$tmp/held.fa" --json --threads 2 >"$tmp/dgm.json" 2>"$tmp/err"; then
    pass "runs on a small family"
else
    fail "runs on a small family ($(cat "$tmp/err"))"
fi
$py bench/assess_numpy.py "$tmp/ref.fa" $sets --heldout "$tmp/held.fa" >"$tmp/np.json"
$py - "$tmp/dgm.json" "$tmp/np.json" <<'PY' && pass "agrees with numpy to 1e-6 (every key of every row)" || fail "agrees with numpy to 1e-6"
import json, sys, math
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert abs(a["reference_neff"] - b["reference_neff"]) < 1e-6, (a["reference_neff"], b["reference_neff"])
assert len(a["rows"]) == len(b["rows"]) == 3
bad = []
for ra, rb in zip(a["rows"], b["rows"]):
    for k, v in rb.items():
        if isinstance(v, str):
            ok = ra[k] == v
        else:
            ok = abs(ra[k] - v) <= 1e-6
        if not ok:
            bad.append((ra["name"], k, ra[k], v))
    if len([k for k in rb if k not in ("name", "kind")]) < 20:
        bad.append(("too few keys compared", len(rb)))
if bad:
    print("\n".join("# %s" % (x,) for x in bad)); sys.exit(1)
PY
$py - "$tmp/dgm.json" <<'PY' && pass "held-out near the ceiling, independent samples lose C_ij, copies show" || fail "held-out near the ceiling, independent samples lose C_ij, copies show"
import json, sys
rows = {r["name"]: r for r in json.load(open(sys.argv[1]))["rows"]}
h, i, c = rows["held.fa"], rows["indep.fa"], rows["copies.fa"]
for k in ("name", "kind", "n", "site_r", "site_slope", "pair_r", "pair_slope", "nearest_identity_mean",
          "copy_fraction", "precision", "recall", "nn1_accuracy"):
    assert k in h, k
assert h["kind"] == "heldout" and i["kind"] == "samples" and h["weighted"] and not i["weighted"]
assert h["pair_r"] > 0.8 and h["site_r"] > 0.95, h
assert abs(h["nn1_accuracy"] - 0.5) < 0.1, h
assert i["site_r"] > 0.95 and abs(i["pair_r"]) < 0.2, i
assert i["nn1_accuracy_reference"] > 0.9, i
assert 0.45 <= c["copy_fraction"] <= 0.6 and h["copy_fraction"] < 0.05, (c["copy_fraction"], h["copy_fraction"])
PY
"$dgm" assess "$tmp/ref.fa" $sets --heldout "$tmp/held.fa" --json --threads 1 >"$tmp/t1.json" 2>/dev/null
cmp -s "$tmp/dgm.json" "$tmp/t1.json" && pass "same JSON at 1 and 2 threads" || fail "same JSON at 1 and 2 threads"
"$dgm" assess "$tmp/ref.fa" "$tmp/indep.fa" --split 0.3 --json >"$tmp/split.json" 2>"$tmp/err" &&
    $py -c "
import json; d = json.load(open('$tmp/split.json')); r = d['rows']
assert r[0]['kind'] == 'heldout' and r[0]['n'] == 90 and d['reference_n'] == 210, (r[0], d['reference_n'])" &&
    pass "--split holds out a fraction" || fail "--split holds out a fraction ($(cat "$tmp/err"))"
"$dgm" assess "$tmp/ref.fa" "$tmp/somebad.fa" --json >"$tmp/out" 2>"$tmp/err" &&
    grep -q "somebad.fa: 2 sequences with letters outside" "$tmp/err" &&
    $py -c "import json; r = json.load(open('$tmp/out'))['rows'][0]; assert r['n'] == 20 and r['n_dropped'] == 2" &&
    pass "letters outside the alphabet: counted, dropped, printed" || fail "letters outside the alphabet dropped ($(cat "$tmp/err"))"

# bad input: one line naming the file, non-zero exit, no partial report
expect_error "a sample of the wrong length" "short.fa:7: sequence 's3' has 60 aligned columns, the reference has 70" \
    "$dgm" assess "$tmp/ref.fa" "$tmp/indep.fa" "$tmp/short.fa" --report "$tmp/r1.html" --figures "$tmp/f1"
[ ! -e "$tmp/r1.html" ] && [ -z "$(ls "$tmp/f1" 2>/dev/null)" ] && pass "no partial report after an error" || fail "no partial report after an error"
expect_error "an empty sample file" "empty.fa: empty" "$dgm" assess "$tmp/ref.fa" "$tmp/empty.fa"
expect_error "only letters outside the alphabet" "badletters.fa: all 4 sequences have letters outside" "$dgm" assess "$tmp/ref.fa" "$tmp/badletters.fa"
expect_error "a sample file in another format" "vec.csv: not an alignment" "$dgm" assess "$tmp/ref.fa" "$tmp/vec.csv"
expect_error "--split outside (0, 1)" "not a fraction in (0, 1)" "$dgm" assess "$tmp/ref.fa" "$tmp/indep.fa" --split 1.5
expect_error "--split 0" "not a fraction in (0, 1)" "$dgm" assess "$tmp/ref.fa" "$tmp/indep.fa" --split 0
expect_error "a missing sample file" "nothere.fa" "$dgm" assess "$tmp/ref.fa" "$tmp/nothere.fa"
expect_error "vectors against an alignment" "an alignment, but the reference" "$dgm" assess "$tmp/vec.csv" "$tmp/ref.fa"

# ---- vectors: precision, recall, 1-NN and MMD against an inline numpy computation
$py - "$tmp" <<'PY'
import numpy as np, sys
rng = np.random.default_rng(4)
d = sys.argv[1]
np.savetxt(d + "/vref.csv", rng.normal(size=(400, 3)), delimiter=",", fmt="%.7g")
np.savetxt(d + "/vsame.csv", rng.normal(size=(300, 3)), delimiter=",", fmt="%.7g")
np.savetxt(d + "/vshift.csv", rng.normal(size=(300, 3)) + [2.0, 0, 0], delimiter=",", fmt="%.7g")
np.savetxt(d + "/vwide.csv", rng.normal(size=(5, 4)), delimiter=",", fmt="%.7g")
PY
if "$dgm" assess "$tmp/vref.csv" "$tmp/vsame.csv" "$tmp/vshift.csv" --json --threads 2 >"$tmp/v.json" 2>"$tmp/err"; then
    pass "vectors: runs on CSV rows"
else
    fail "vectors: runs on CSV rows ($(cat "$tmp/err"))"
fi
$py - "$tmp" <<'PY' && pass "vectors: precision, recall, 1-NN, MMD agree with numpy; a shift is detected" || fail "vectors: agree with numpy; a shift is detected"
import json, sys, numpy as np
d = sys.argv[1]
out = json.load(open(d + "/v.json"))
R0 = np.loadtxt(d + "/vref.csv", delimiter=",")
def sq(a, b): return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
bad = []
for row, f in zip(out["rows"], ("vsame", "vshift")):
    S0 = np.loadtxt(d + "/%s.csv" % f, delimiter=",")
    m = min(len(S0), len(R0))
    R, S = R0[(np.arange(m) * len(R0)) // m], S0[(np.arange(m) * len(S0)) // m]
    DRR, DSS, DRS = sq(R, R), sq(S, S), sq(R, S)
    np.fill_diagonal(DRR, np.inf); np.fill_diagonal(DSS, np.inf)
    radR, radS = np.sort(DRR, 1)[:, 2], np.sort(DSS, 1)[:, 2]
    prec = (DRS <= radR[:, None]).any(0).mean(); rec = (DRS <= radS[None, :]).any(1).mean()
    cr = np.where(DRR.min(1) < DRS.min(1), 1.0, 0.0); cs = np.where(DSS.min(1) < DRS.min(0), 1.0, 0.0)
    nn1 = (cr.sum() + cs.sum()) / (2 * m)
    Z = np.vstack([S, R]); D = np.sqrt(sq(Z, Z)); iu = np.triu_indices(2 * m, 1)
    bw = np.median(D[iu]); K = np.exp(-D ** 2 / (2 * bw * bw))
    kxx, kyy, kxy = K[:m, :m], K[m:, m:], K[:m, m:]
    mmd = (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
    for k, v, tol in (("precision", prec, 1e-9), ("recall", rec, 1e-9), ("nn1_accuracy", nn1, 1e-9),
                      ("mmd_bandwidth", bw, 1e-5), ("mmd2", mmd, 1e-5)):
        if abs(row[k] - v) > tol:
            bad.append((f, k, row[k], v))
same, shift = out["rows"]
if not (same["mmd_p"] > 0.01 and shift["mmd_p"] < 0.01 and shift["nn1_accuracy"] > same["nn1_accuracy"] + 0.1
        and shift["kl_sr"] > same["kl_sr"] + 0.1):
    bad.append(("shift not detected", same, shift))
if bad:
    print("\n".join("# %s" % (b,) for b in bad)); sys.exit(1)
PY
expect_error "vectors of the wrong dimension" "vwide.csv: rows of dimension 4, the reference" "$dgm" assess "$tmp/vref.csv" "$tmp/vwide.csv"
expect_error "--features on an alignment" "feature spaces are for vectors" "$dgm" assess "$tmp/ref.fa" "$tmp/indep.fa" --features "$tmp/ref.fa"

# ---- --score-with: each set's mean log-likelihood, as dgm loglik gives it on the same file,
# and by hand from the site-independent model's closed form
if "$dgm" train --model independent --data "$tmp/ref.fa" -o "$tmp/ind.safetensors" --threads 1 >/dev/null 2>&1 &&
   "$dgm" assess "$tmp/ref.fa" "$tmp/indep.fa" --heldout "$tmp/held.fa" --score-with "$tmp/ind.safetensors" --json >"$tmp/sc.json" 2>"$tmp/err" &&
   "$dgm" loglik "$tmp/ind.safetensors" --data "$tmp/indep.fa" --json >"$tmp/ll.json" 2>>"$tmp/err"; then
    $py - "$tmp" <<'PY' && pass "--score-with: mean log-likelihood and its standard error per set" || fail "--score-with: mean log-likelihood per set"
import json, sys, math
import numpy as np
d = sys.argv[1]
rows = json.load(open(d + "/sc.json"))["rows"]
ll = json.load(open(d + "/ll.json"))
s = rows[1]["scores"][0]
assert s["exact"] and abs(s["loglik_mean"] - ll["loglik_mean_nats"]) < 1e-6 and abs(s["loglik_se"] - ll["stderr"]) < 1e-6, (s, ll)
# closed form: f_l(a) = (weighted count + 0.5) / (weighted non-gap count + 10), gaps score 0
AA = "ACDEFGHIKLMNPQRSTVWY-"
def read(p): return [l.strip() for l in open(p) if not l.startswith(">")]
ref, smp = read(d + "/ref.fa"), read(d + "/indep.fa")
X = np.array([[AA.index(c) for c in s_] for s_ in ref])
Y = np.array([[AA.index(c) for c in s_] for s_ in smp])
ng = (X != 20).astype(float)
ident = (X[:, None, :] == X[None, :, :]) & (X[:, None, :] != 20)
idf = ident.sum(2) / np.maximum(ng.sum(1), 1)[:, None]
w = 1.0 / (idf > 0.8 + 1e-9).sum(1)
lp = np.zeros(len(Y))
for l in range(X.shape[1]):
    c = np.array([(w * (X[:, l] == a)).sum() for a in range(20)])
    f = (c + 0.5) / (c.sum() + 10)
    lp += np.where(Y[:, l] < 20, np.log(f[np.minimum(Y[:, l], 19)]), 0)
assert abs(lp.mean() - s["loglik_mean"]) < 1e-4, (lp.mean(), s["loglik_mean"])
assert abs(lp.std(ddof=1) / math.sqrt(len(lp)) - s["loglik_se"]) < 1e-4, (lp.std(ddof=1) / math.sqrt(len(lp)), s["loglik_se"])
PY
else
    fail "--score-with runs ($(cat "$tmp/err"))"
fi
if "$dgm" train --model gaussian --data "$tmp/vref.csv" -o "$tmp/gauss.safetensors" --threads 1 >/dev/null 2>&1; then
    expect_error "--features with a model that has no encoder" "gauss.safetensors is a gaussian model, which has no (unconditional) encoder" \
        "$dgm" assess "$tmp/vref.csv" "$tmp/vsame.csv" --features "$tmp/gauss.safetensors" --report "$tmp/r2.html"
    [ ! -e "$tmp/r2.html" ] && pass "no report after a --features error" || fail "no report after a --features error"
else
    fail "train a gaussian for the --features check"
fi
