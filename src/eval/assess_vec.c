/* dgm assess for vectors (images): on two equal-sized sets, evenly spaced rows of the
 * reference and of the samples, the improved precision and recall (Kynkaanniemi et al.
 * 2019) and the leave-one-out 1-NN two-sample accuracy (Lopez-Paz and Oquab 2017) in
 * Euclidean distance; the k-NN KL divergence both ways (dgm_kl_knn, with its bootstrap
 * interval); the unbiased MMD^2 with a Gaussian kernel whose bandwidth is the median
 * pairwise distance (Gretton et al., JMLR 2012, eq. 3; the median heuristic) and a
 * permutation p-value; and, in a feature space, the same plus the Frechet distance of
 * Gaussians fitted to the features (Dowson and Landau 1982; Heusel et al. 2017's FID
 * formula, but on dgm's own encoder features, so not FID). docs/math.md, "Assessing
 * samples". Squared distances come from dgm_gemm on blocks (|a|^2 + |b|^2 - 2 a.b, on
 * data centred on the reference mean); the same float path serves every comparison.
 * Left out: the Inception network (no FID), kernel choices beyond the Gaussian. */
#include "eval/assess_internal.h"

#include "dgm_blocks.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512
#define K_MAX 64
#define N_NEAREST 64

static size_t *spaced(size_t n, size_t m)
{
    size_t *p = dgm_malloc_array(m ? m : 1, sizeof *p);
    if (p)
        for (size_t i = 0; i < m; i++)
            p[i] = (size_t)(((unsigned __int128)i * n) / m);
    return p;
}

static float *gather(const float *x, const size_t *idx, size_t m, size_t d, const double *mean)
{
    float *o = dgm_malloc_array(m ? m : 1, d * sizeof *o);
    if (o)
        for (size_t i = 0; i < m; i++)
            for (size_t t = 0; t < d; t++)
                o[i * d + t] = (float)(x[idx[i] * d + t] - mean[t]);
    return o;
}

static void sqnorms(double *nrm, const float *x, size_t n, size_t d)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t t = 0; t < d; t++)
            s += (double)x[i * d + t] * x[i * d + t];
        nrm[i] = s;
    }
}

/* D (b x m) = squared distances of rows a0..a0+b of A to all m rows of B. */
static void dist_block(float *D, const float *A, const double *na, size_t a0, size_t b,
                       const float *B, const double *nb, size_t m, size_t d)
{
    dgm_gemm(DGM_NOTRANS, DGM_TRANS, b, m, d, -2.0f, A + a0 * d, d, B, d, 0.0f, D, m);
    for (size_t i = 0; i < b; i++)
        for (size_t j = 0; j < m; j++) {
            float v = D[i * m + j] + (float)(na[a0 + i] + nb[j]);
            D[i * m + j] = v > 0 ? v : 0;
        }
}

/* Within X (m rows): the k-th smallest squared distance to the others and the smallest. */
static void within(float *rad, float *dmin, float *D, const float *X, const double *nx,
                   size_t m, size_t d, size_t k)
{
    for (size_t a0 = 0; a0 < m; a0 += BLOCK) {
        size_t b = m - a0 < BLOCK ? m - a0 : BLOCK;
        dist_block(D, X, nx, a0, b, X, nx, m, d);
        long bl = (long)b;
        #pragma omp parallel for schedule(static)
        for (long il = 0; il < bl; il++) {
            size_t i = (size_t)il, cnt = 0;
            float best[K_MAX];
            for (size_t j = 0; j < m; j++) {
                if (j == a0 + i)
                    continue;
                float v = D[i * m + j];
                if (cnt < k || v < best[k - 1]) {
                    size_t e = cnt < k ? cnt++ : k - 1;
                    while (e > 0 && best[e - 1] > v) {
                        best[e] = best[e - 1];
                        e--;
                    }
                    best[e] = v;
                }
            }
            rad[a0 + i] = best[k - 1];
            dmin[a0 + i] = best[0];
        }
    }
}

static double credit(float dO, float dX) { return dO < dX ? 1.0 : dO > dX ? 0.0 : 0.5; }

/* Precision, recall and 1-NN accuracy (overall, reference half, sample half). */
static dgm_status prnn(double *prec, double *rec, double nn1[3], const float *R, const float *S,
                       size_t m, size_t d, size_t k, dgm_err *err)
{
    double *nr = dgm_malloc_array(m, sizeof *nr), *ns = dgm_malloc_array(m, sizeof *ns);
    float *D = dgm_malloc_array(BLOCK, m * sizeof *D);
    float *f = dgm_malloc_array(m, 6 * sizeof *f);
    uint8_t *flag = dgm_calloc_array(m, 2);
    if (!nr || !ns || !D || !f || !flag) {
        free(nr); free(ns); free(D); free(f); free(flag);
        return dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory for neighbours of %zu rows", m);
    }
    float *radR = f, *dR = f + m, *radS = f + 2 * m, *dS = f + 3 * m, *xS = f + 4 * m, *xR = f + 5 * m;
    uint8_t *pflag = flag, *rflag = flag + m;
    sqnorms(nr, R, m, d);
    sqnorms(ns, S, m, d);
    within(radR, dR, D, R, nr, m, d, k);
    within(radS, dS, D, S, ns, m, d, k);
    for (size_t r = 0; r < m; r++)
        xR[r] = INFINITY;
    long ml = (long)m;
    for (size_t a0 = 0; a0 < m; a0 += BLOCK) {
        size_t b = m - a0 < BLOCK ? m - a0 : BLOCK;
        dist_block(D, S, ns, a0, b, R, nr, m, d);
        long bl = (long)b;
        #pragma omp parallel for schedule(static)
        for (long il = 0; il < bl; il++) {
            size_t i = (size_t)il;
            float mn = INFINITY;
            int p = 0;
            for (size_t r = 0; r < m; r++) {
                float v = D[i * m + r];
                mn = v < mn ? v : mn;
                p |= v <= radR[r];
            }
            xS[a0 + i] = mn;
            pflag[a0 + i] = (uint8_t)p;
        }
        #pragma omp parallel for schedule(static)
        for (long rl = 0; rl < ml; rl++) {
            size_t r = (size_t)rl;
            for (size_t i = 0; i < b; i++) {
                float v = D[i * m + r];
                xR[r] = v < xR[r] ? v : xR[r];
                rflag[r] |= v <= radS[a0 + i];
            }
        }
    }
    size_t np = 0, nrc = 0;
    double ar = 0, as = 0;
    for (size_t i = 0; i < m; i++) {
        np += pflag[i];
        nrc += rflag[i];
        ar += credit(dR[i], xR[i]);
        as += credit(dS[i], xS[i]);
    }
    *prec = (double)np / (double)m;
    *rec = (double)nrc / (double)m;
    nn1[0] = (ar + as) / (double)(2 * m);
    nn1[1] = ar / (double)m;
    nn1[2] = as / (double)m;
    free(nr); free(ns); free(D); free(f); free(flag);
    return DGM_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* MMD^2 from the pooled kernel matrix K (2m x 2m) and a labelling (1: first set). */
static double mmd_from(const double *K, const uint8_t *lab, size_t m)
{
    size_t N = 2 * m;
    double sxx = 0, syy = 0, sxy = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++) {
            double v = K[i * N + j];
            if (lab[i] && lab[j]) sxx += v;
            else if (!lab[i] && !lab[j]) syy += v;
            else sxy += v;
        }
    double md = (double)m;
    return 2 * sxx / (md * (md - 1)) + 2 * syy / (md * (md - 1)) - 2 * sxy / (md * md);
}

static dgm_status mmd(double *out, double *bw, double *p, const float *X, const float *Y,
                      size_t m, size_t d, size_t n_perm, uint64_t seed, dgm_err *err)
{
    size_t N = 2 * m, np = N * (N - 1) / 2;
    float *Z = dgm_malloc_array(N, d * sizeof *Z);
    double *nz = dgm_malloc_array(N, sizeof *nz), *K = dgm_malloc_array(N, N * sizeof *K);
    double *all = dgm_malloc_array(np ? np : 1, sizeof *all);
    float *D = dgm_malloc_array(N, N * sizeof *D);
    uint8_t *lab = dgm_malloc_array(N, 1);
    size_t *perm = dgm_malloc_array(N, sizeof *perm);
    if (!Z || !nz || !K || !all || !D || !lab || !perm) {
        free(Z); free(nz); free(K); free(all); free(D); free(lab); free(perm);
        return dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory for the MMD of %zu rows", m);
    }
    memcpy(Z, X, m * d * sizeof *Z);
    memcpy(Z + m * d, Y, m * d * sizeof *Z);
    sqnorms(nz, Z, N, d);
    dist_block(D, Z, nz, 0, N, Z, nz, N, d);
    size_t e = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++)
            all[e++] = sqrt((double)D[i * N + j]);
    qsort(all, np, sizeof *all, cmp_double);
    double med = dgm__quantile_sorted(all, np, 0.5);
    *bw = med > 0 ? med : 1.0;
    double g = 1.0 / (2 * *bw * *bw);
    for (size_t i = 0; i < N * N; i++)
        K[i] = exp(-(double)D[i] * g);
    for (size_t i = 0; i < N; i++)
        lab[i] = i < m;
    *out = mmd_from(K, lab, m);
    size_t ge = 0;
    dgm_rng base, rng;
    dgm_rng_init(&base, seed);
    for (size_t t = 0; t < n_perm; t++) {
        dgm_rng_fork(&rng, &base, t);
        dgm_rng_permutation(&rng, perm, N);
        for (size_t i = 0; i < N; i++)
            lab[perm[i]] = i < m;
        ge += mmd_from(K, lab, m) >= *out;
    }
    *p = n_perm ? (double)(1 + ge) / (double)(1 + n_perm) : NAN;
    free(Z); free(nz); free(K); free(all); free(D); free(lab); free(perm);
    return DGM_OK;
}

/* Symmetric eigen-decomposition by cyclic Jacobi rotations (Golub and Van Loan, 8.5):
 * A (z x z) is destroyed, its eigenvalues go to ev, eigenvectors to the columns of V. */
static void jacobi(double *A, double *ev, double *V, size_t z)
{
    for (size_t i = 0; i < z * z; i++)
        V[i] = i / z == i % z;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (size_t p = 0; p < z; p++)
            for (size_t q = p + 1; q < z; q++)
                off += A[p * z + q] * A[p * z + q];
        if (off < 1e-30)
            break;
        for (size_t p = 0; p < z; p++)
            for (size_t q = p + 1; q < z; q++) {
                double apq = A[p * z + q];
                if (fabs(apq) < 1e-300)
                    continue;
                double th = (A[q * z + q] - A[p * z + p]) / (2 * apq);
                double t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (size_t k = 0; k < z; k++) {
                    double akp = A[k * z + p], akq = A[k * z + q];
                    A[k * z + p] = c * akp - s * akq;
                    A[k * z + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < z; k++) {
                    double apk = A[p * z + k], aqk = A[q * z + k];
                    A[p * z + k] = c * apk - s * aqk;
                    A[q * z + k] = s * apk + c * aqk;
                }
                for (size_t k = 0; k < z; k++) {
                    double vkp = V[k * z + p], vkq = V[k * z + q];
                    V[k * z + p] = c * vkp - s * vkq;
                    V[k * z + q] = s * vkp + c * vkq;
                }
            }
    }
    for (size_t i = 0; i < z; i++)
        ev[i] = A[i * z + i];
}

static void moments(double *mu, double *S, const float *x, size_t n, size_t z)
{
    memset(mu, 0, z * sizeof *mu);
    memset(S, 0, z * z * sizeof *S);
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < z; a++)
            mu[a] += x[i * z + a];
    for (size_t a = 0; a < z; a++)
        mu[a] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < z; a++)
            for (size_t b = 0; b < z; b++)
                S[a * z + b] += (x[i * z + a] - mu[a]) * (x[i * z + b] - mu[b]);
    for (size_t a = 0; a < z * z; a++)
        S[a] /= (double)(n > 1 ? n - 1 : 1);
}

/* |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr (S1^1/2 S2 S1^1/2)^1/2. */
static double frechet(const float *x, size_t n, const float *y, size_t m, size_t z)
{
    double *w = dgm_malloc_array(z * z, 6 * sizeof *w), *mu = dgm_malloc_array(2 * z, sizeof *mu);
    if (!w || !mu) {
        free(w);
        free(mu);
        return NAN;
    }
    double *S1 = w, *S2 = w + z * z, *V = w + 2 * z * z, *R = w + 3 * z * z, *A = w + 4 * z * z,
           *ev = w + 5 * z * z;
    moments(mu, S1, x, n, z);
    moments(mu + z, S2, y, m, z);
    double fd = 0;
    for (size_t a = 0; a < z; a++)
        fd += (mu[a] - mu[z + a]) * (mu[a] - mu[z + a]) + S1[a * z + a] + S2[a * z + a];
    memcpy(A, S1, z * z * sizeof *A);
    jacobi(A, ev, V, z);
    for (size_t a = 0; a < z; a++) /* R = S1^1/2 = V diag(sqrt ev) V^T */
        for (size_t b = 0; b < z; b++) {
            double s = 0;
            for (size_t k = 0; k < z; k++)
                s += V[a * z + k] * sqrt(fmax(ev[k], 0)) * V[b * z + k];
            R[a * z + b] = s;
        }
    for (size_t a = 0; a < z; a++) /* A = R S2 R */
        for (size_t b = 0; b < z; b++) {
            double s = 0;
            for (size_t k = 0; k < z; k++)
                for (size_t l = 0; l < z; l++)
                    s += R[a * z + k] * S2[k * z + l] * R[l * z + b];
            A[a * z + b] = s;
        }
    jacobi(A, ev, V, z);
    for (size_t a = 0; a < z; a++)
        fd -= 2 * sqrt(fmax(ev[a], 0));
    free(w);
    free(mu);
    return fd;
}

dgm_status dgm_assess_ref_vec(dgm_assess_ref **out, const float *x, size_t n, size_t d,
                              const float *feat, size_t z, const dgm_assess_cfg *cfg, dgm_err *err)
{
    *out = NULL;
    dgm_assess_cfg def = dgm_assess_defaults();
    if (!cfg)
        cfg = &def;
    if (n < 2 || d == 0)
        return dgm_errf(err, DGM_ERR_ARG, "assess: the reference needs at least 2 rows (has %zu)", n);
    if (cfg->k < 1 || cfg->k > K_MAX)
        return dgm_errf(err, DGM_ERR_ARG, "assess: k = %zu neighbours is outside 1..%d", cfg->k, K_MAX);
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(x[i]))
            return dgm_errf(err, DGM_ERR_NAN, "assess: reference row %zu has a non-finite value", i / d);
    dgm_assess_ref *r = calloc(1, sizeof *r);
    if (!r || !(r->x = dgm_malloc_array(n, d * sizeof *r->x)) ||
        (feat && !(r->feat = dgm_malloc_array(n, z * sizeof *r->feat)))) {
        dgm_assess_ref_free(r);
        return dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory for the reference");
    }
    r->cfg = *cfg;
    r->n = n;
    r->d = d;
    r->z = feat ? z : 0;
    memcpy(r->x, x, n * d * sizeof *x);
    if (feat)
        memcpy(r->feat, feat, n * z * sizeof *feat);
    *out = r;
    return DGM_OK;
}

/* Every two-sample metric of one space into the row's fields. */
static dgm_status space(const dgm_assess_ref *ref, const float *rx, const float *x, size_t n,
                        size_t d, double *p, double *rc, double nn1[3], double *kl_sr,
                        double kl_sr_ci[2], double *kl_rs, double kl_rs_ci[2], double *mmd2,
                        double *bw, double *mmd_p, size_t *n_cmp, dgm_err *err)
{
    size_t m = n < ref->n ? n : ref->n;
    if (ref->cfg.n_compare && ref->cfg.n_compare < m)
        m = ref->cfg.n_compare;
    *n_cmp = m;
    if (m < ref->cfg.k + 2)
        return DGM_OK;
    double *mean = dgm_calloc_array(d, sizeof *mean);
    size_t *ir = spaced(ref->n, m), *is = spaced(n, m);
    if (!mean || !ir || !is) {
        free(mean); free(ir); free(is);
        return dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory");
    }
    for (size_t i = 0; i < ref->n; i++)
        for (size_t t = 0; t < d; t++)
            mean[t] += rx[i * d + t];
    for (size_t t = 0; t < d; t++)
        mean[t] /= (double)ref->n;
    float *R = gather(rx, ir, m, d, mean), *S = gather(x, is, m, d, mean);
    dgm_status s = R && S ? prnn(p, rc, nn1, R, S, m, d, ref->cfg.k, err)
                          : dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory");
    dgm_knn_cfg kc = dgm_knn_defaults();
    kc.n_boot = ref->cfg.n_boot;
    kc.p_name = "samples";
    kc.q_name = "reference";
    dgm_kl_result kl;
    dgm_rng rng;
    if (!s) {
        dgm_rng_init(&rng, ref->cfg.seed);
        if (!(s = dgm_kl_knn(&rng, &kl, S, m, R, m, d, &kc, err))) {
            *kl_sr = kl.kl;
            kl_sr_ci[0] = kl.ci_low;
            kl_sr_ci[1] = kl.ci_high;
        }
    }
    if (!s) {
        kc.p_name = "reference";
        kc.q_name = "samples";
        dgm_rng_init(&rng, ref->cfg.seed + 1);
        if (!(s = dgm_kl_knn(&rng, &kl, R, m, S, m, d, &kc, err))) {
            *kl_rs = kl.kl;
            kl_rs_ci[0] = kl.ci_low;
            kl_rs_ci[1] = kl.ci_high;
        }
    }
    if (!s) {
        size_t mm = m < ref->cfg.n_mmd ? m : ref->cfg.n_mmd;
        size_t *j = spaced(m, mm);
        if (!j)
            s = dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory");
        else {
            float *A = dgm_malloc_array(mm, d * sizeof *A), *B = dgm_malloc_array(mm, d * sizeof *B);
            if (!A || !B)
                s = dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory");
            for (size_t i = 0; !s && i < mm; i++) {
                memcpy(A + i * d, S + j[i] * d, d * sizeof *A);
                memcpy(B + i * d, R + j[i] * d, d * sizeof *B);
            }
            if (!s && mm >= 2)
                s = mmd(mmd2, bw, mmd_p, A, B, mm, d, ref->cfg.n_perm, ref->cfg.seed + 2, err);
            free(A);
            free(B);
        }
        free(j);
    }
    free(mean); free(ir); free(is); free(R); free(S);
    return s;
}

dgm_status dgm_assess_vec(dgm_assess_row *out, const dgm_assess_ref *ref, const float *x,
                          size_t n, const float *feat, dgm_err *err)
{
    char name[sizeof out->name];
    dgm_assess_kind kind = out->kind;
    memcpy(name, out->name, sizeof name);
    size_t nm;
    const dgm_assess_metric *ml = dgm_assess_metric_list(&nm);
    memset(out, 0, sizeof *out);
    memcpy(out->name, name, sizeof name);
    out->kind = kind;
    for (size_t i = 0; i < nm; i++) {
        double v = NAN;
        memcpy((char *)out + ml[i].offset, &v, sizeof v);
    }
    if (ref->is_seq)
        return dgm_errf(err, DGM_ERR_ARG, "assess: %s: vectors against a reference of sequences", name);
    if (n == 0)
        return dgm_errf(err, DGM_ERR_ARG, "assess: %s: no rows", name);
    for (size_t i = 0; i < n * ref->d; i++)
        if (!isfinite(x[i]))
            return dgm_errf(err, DGM_ERR_NAN, "assess: %s: row %zu has a non-finite value", name, i / ref->d);
    out->n = n;
    double nn1[3] = {NAN, NAN, NAN}, ci[4] = {NAN, NAN, NAN, NAN};
    dgm_status s = space(ref, ref->x, x, n, ref->d, &out->precision, &out->recall, nn1, &out->kl_sr,
                         ci, &out->kl_rs, ci + 2, &out->mmd2, &out->mmd_bandwidth, &out->mmd_p,
                         &out->n_compared, err);
    out->nn1_accuracy = nn1[0];
    out->nn1_accuracy_reference = nn1[1];
    out->nn1_accuracy_samples = nn1[2];
    out->kl_sr_lo = ci[0];
    out->kl_sr_hi = ci[1];
    out->kl_rs_lo = ci[2];
    out->kl_rs_hi = ci[3];
    if (!s && ref->feat && feat) {
        double bw, fci[4];
        size_t nc;
        s = space(ref, ref->feat, feat, n, ref->z, &out->precision_feat, &out->recall_feat, nn1,
                  &out->kl_sr_feat, fci, &out->kl_rs_feat, fci + 2, &out->mmd2_feat, &bw,
                  &out->mmd_p_feat, &nc, err);
        out->nn1_accuracy_feat = nn1[0];
        if (!s)
            out->frechet_feat = frechet(feat, n, ref->feat, ref->n, ref->z);
    }
    /* the nearest reference row of the first samples, for the figure */
    size_t nq = n < N_NEAREST ? n : N_NEAREST;
    double *dd = dgm_malloc_array(nq, sizeof *dd);
    out->nearest = dgm_malloc_array(nq, sizeof *out->nearest);
    if (!s && (!dd || !out->nearest))
        s = dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory");
    if (!s)
        s = dgm_knn_search(dd, out->nearest, x, nq, ref->x, ref->n, ref->d, 1, 0, err);
    free(dd);
    if (s)
        dgm_assess_row_free(out);
    return s;
}
