/* dgm assess for sequences: the prepared reference (weights, site and pair statistics,
 * bit-packed letters) and the scoring of one sample set against it into a
 * dgm_assess_row; also the metric list the CLI, JSON and HTML print from, and the seeded
 * held-out split. The statistics are in assess_pairs.c, the neighbours in
 * assess_hamming.c; docs/math.md, "Assessing samples", derives each number.
 * Left out: statistics beyond pairs (three-point correlations), and alignments whose
 * columns differ from the reference's (samples must be aligned to it). */
#include "eval/assess_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

dgm_assess_cfg dgm_assess_defaults(void)
{
    dgm_assess_cfg c = {.theta = 0.2, .rule = DGM_SEQW_DEEPSEQ, .k = 3, .n_compare = 0,
                        .seed = 1, .n_scatter = 20000, .n_perm = 200, .n_boot = 200,
                        .n_mmd = 1000};
    return c;
}

#define M(key, head, kinds) {#key, head, offsetof(dgm_assess_row, key), kinds}
static const dgm_assess_metric metrics[] = {
    M(site_r, "site r", 1),
    M(site_slope, "site slope", 1),
    M(pair_r, "pair r", 1),
    M(pair_slope, "pair slope", 1),
    M(nearest_identity_mean, "nn identity", 1),
    M(nearest_identity_q1, "nn id q1", 1),
    M(nearest_identity_median, "nn id median", 1),
    M(nearest_identity_q3, "nn id q3", 1),
    M(copy_fraction, "copies", 1),
    M(near_copy_fraction, ">=0.95", 1),
    M(identity_mean, "within id", 1),
    M(neff, "Neff", 1),
    M(neff_ratio, "Neff/N", 1),
    M(precision, "precision", 3),
    M(recall, "recall", 3),
    M(nn1_accuracy, "1-NN acc", 3),
    M(nn1_accuracy_reference, "1-NN ref", 3),
    M(nn1_accuracy_samples, "1-NN smp", 3),
    M(kl_sr, "KL(S||R)", 2),
    M(kl_sr_lo, "KL(S||R) lo", 2),
    M(kl_sr_hi, "KL(S||R) hi", 2),
    M(kl_rs, "KL(R||S)", 2),
    M(kl_rs_lo, "KL(R||S) lo", 2),
    M(kl_rs_hi, "KL(R||S) hi", 2),
    M(mmd2, "MMD^2", 2),
    M(mmd_bandwidth, "MMD bw", 2),
    M(mmd_p, "MMD p", 2),
    M(precision_feat, "f precision", 2),
    M(recall_feat, "f recall", 2),
    M(nn1_accuracy_feat, "f 1-NN acc", 2),
    M(kl_sr_feat, "f KL(S||R)", 2),
    M(kl_rs_feat, "f KL(R||S)", 2),
    M(mmd2_feat, "f MMD^2", 2),
    M(mmd_p_feat, "f MMD p", 2),
    M(frechet_feat, "f Frechet", 2),
};
#undef M

const dgm_assess_metric *dgm_assess_metric_list(size_t *n)
{
    *n = sizeof metrics / sizeof metrics[0];
    return metrics;
}

double dgm_assess_value(const dgm_assess_row *r, const dgm_assess_metric *m)
{
    double v;
    memcpy(&v, (const char *)r + m->offset, sizeof v);
    return v;
}

/* Every metric NaN, the arrays NULL. */
static void row_clear(dgm_assess_row *r)
{
    char name[sizeof r->name];
    dgm_assess_kind kind = r->kind;
    memcpy(name, r->name, sizeof name);
    memset(r, 0, sizeof *r);
    memcpy(r->name, name, sizeof name);
    r->kind = kind;
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++) {
        double nan = NAN;
        memcpy((char *)r + metrics[i].offset, &nan, sizeof nan);
    }
}

void dgm_assess_row_free(dgm_assess_row *r)
{
    if (!r)
        return;
    free(r->nearest_identity);
    free(r->nearest);
    free(r->entropy);
    free(r->scatter);
    r->nearest_identity = r->entropy = NULL;
    r->nearest = NULL;
    r->scatter = NULL;
    r->n_scatter = 0;
}

void dgm_assess_ref_free(dgm_assess_ref *r)
{
    if (!r)
        return;
    free(r->seq);
    free(r->bits);
    dgm__pairs_free(&r->pairs);
    free(r->entropy);
    free(r->x);
    free(r->feat);
    free(r);
}

const double *dgm_assess_ref_entropy(const dgm_assess_ref *r, size_t *L, double *neff)
{
    if (!r->is_seq)
        return NULL;
    if (L)
        *L = r->L;
    if (neff)
        *neff = r->neff;
    return r->entropy;
}

double dgm__quantile_sorted(const double *v, size_t n, double q)
{
    double h = q * (double)(n - 1);
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void entropy_profile(double *H, const dgm__pairs *p)
{
    for (size_t i = 0; i < p->L; i++) {
        double h = 0;
        for (size_t a = 0; a < DGM__Q; a++) {
            double f = p->f[i * DGM__Q + a];
            if (f > 0)
                h -= f * log(f);
        }
        H[i] = h;
    }
}

static dgm_status check_cfg(const dgm_assess_cfg *c, dgm_err *err)
{
    if (!(c->theta >= 0 && c->theta <= 1))
        return dgm_errf(err, DGM_ERR_ARG, "assess: theta %g is outside [0, 1]", c->theta);
    if (c->k < 1 || c->k > 64)
        return dgm_errf(err, DGM_ERR_ARG, "assess: k = %zu neighbours is outside 1..64", c->k);
    return DGM_OK;
}

static dgm_status check_letters(const uint8_t *seq, size_t n, size_t L, const char *what,
                                dgm_err *err)
{
    for (size_t i = 0; i < n * L; i++)
        if (seq[i] > DGM_AA_GAP)
            return dgm_errf(err, DGM_ERR_ARG, "assess: %s: letter index %d in sequence %zu is "
                            "outside 0..%d", what, seq[i], i / L, DGM_AA_GAP);
    return DGM_OK;
}

dgm_status dgm_assess_ref_seq(dgm_assess_ref **out, const uint8_t *seq, size_t n, size_t L,
                              int weights, const dgm_assess_cfg *cfg, dgm_err *err)
{
    *out = NULL;
    dgm_assess_cfg def = dgm_assess_defaults();
    if (!cfg)
        cfg = &def;
    dgm_status s = check_cfg(cfg, err);
    if (s)
        return s;
    if (n < 2 || L == 0)
        return dgm_errf(err, DGM_ERR_ARG, "assess: the reference needs at least 2 sequences "
                        "(has %zu of %zu columns)", n, L);
    if ((s = check_letters(seq, n, L, "reference", err)))
        return s;
    dgm_assess_ref *r = calloc(1, sizeof *r);
    double *w = dgm_malloc_array(n, sizeof *w);
    if (!r || !w) {
        free(r);
        free(w);
        return dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory for the reference");
    }
    r->cfg = *cfg;
    r->is_seq = 1;
    r->n = n;
    r->L = L;
    r->W = dgm__seqbits_words(L);
    if (weights) {
        s = dgm_seq_weights(w, &r->neff, seq, n, L, cfg->theta, cfg->rule, err);
    } else {
        for (size_t i = 0; i < n; i++)
            w[i] = 1.0;
        r->neff = (double)n;
    }
    if (!s)
        s = dgm__pairs_count(&r->pairs, seq, w, n, L, err);
    free(w);
    if (!s) {
        r->seq = dgm_malloc_array(n, L);
        r->bits = dgm__seqbits_pack(seq, n, L);
        r->entropy = dgm_malloc_array(L, sizeof *r->entropy);
        if (!r->seq || !r->bits || !r->entropy)
            s = dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory for the reference");
    }
    if (s) {
        dgm_assess_ref_free(r);
        return s;
    }
    memcpy(r->seq, seq, n * L);
    entropy_profile(r->entropy, &r->pairs);
    *out = r;
    return DGM_OK;
}

/* m of n rows evenly spaced in file order, row floor(i n / m): a stratified subsample
 * that needs no random numbers (bench/assess_numpy.py picks the same rows). */
static size_t *subsample(size_t n, size_t m)
{
    size_t *p = dgm_malloc_array(m ? m : 1, sizeof *p);
    if (p)
        for (size_t i = 0; i < m; i++)
            p[i] = (size_t)(((unsigned __int128)i * n) / m);
    return p;
}

static uint64_t *gather_bits(const uint64_t *bits, const size_t *idx, size_t m, size_t W)
{
    size_t S = DGM__PLANES * W;
    uint64_t *o = dgm_malloc_array(m ? m : 1, S * sizeof *o);
    if (o)
        for (size_t i = 0; i < m; i++)
            memcpy(o + i * S, bits + idx[i] * S, S * sizeof *o);
    return o;
}

/* Precision, recall and 1-NN on m-sized subsamples of the reference and of the set. */
static dgm_status neighbours(dgm_assess_row *out, const dgm_assess_ref *ref,
                             const uint64_t *bits, size_t n, dgm_err *err)
{
    size_t m = n < ref->n ? n : ref->n;
    if (ref->cfg.n_compare && ref->cfg.n_compare < m)
        m = ref->cfg.n_compare;
    out->n_compared = m;
    if (m < ref->cfg.k + 1)
        return DGM_OK; /* too few to say: NaN */
    size_t *pr = subsample(ref->n, m), *ps = subsample(n, m);
    uint64_t *R = pr ? gather_bits(ref->bits, pr, m, ref->W) : NULL;
    uint64_t *S = ps ? gather_bits(bits, ps, m, ref->W) : NULL;
    double nn1[3];
    dgm_status s = R && S ? dgm__hamming_prnn(&out->precision, &out->recall, nn1, R, S, m,
                                              ref->W, ref->cfg.k, err)
                          : dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory");
    if (!s) {
        out->nn1_accuracy = nn1[0];
        out->nn1_accuracy_reference = nn1[1];
        out->nn1_accuracy_samples = nn1[2];
    }
    free(pr);
    free(ps);
    free(R);
    free(S);
    return s;
}

/* Mean identity over pairs i < j within the set: sum over columns and letters of
 * c(c - 1) / 2 equal pairs, over L n (n - 1) / 2. */
static double within_identity(const uint8_t *seq, size_t n, size_t L)
{
    if (n < 2)
        return NAN;
    double tot = 0;
    size_t c[DGM__Q];
    for (size_t l = 0; l < L; l++) {
        memset(c, 0, sizeof c);
        for (size_t i = 0; i < n; i++)
            c[seq[i * L + l]]++;
        for (size_t a = 0; a < DGM__Q; a++)
            tot += (double)c[a] * (double)(c[a] - (c[a] > 0));
    }
    return tot / ((double)L * (double)n * (double)(n - 1));
}

dgm_status dgm_assess_seq(dgm_assess_row *out, const dgm_assess_ref *ref, const uint8_t *seq,
                          size_t n, int weighted, dgm_err *err)
{
    row_clear(out);
    if (!ref->is_seq)
        return dgm_errf(err, DGM_ERR_ARG, "assess: %s: sequences against a reference of vectors",
                        out->name);
    if (n == 0)
        return dgm_errf(err, DGM_ERR_ARG, "assess: %s: no sequences", out->name);
    size_t L = ref->L;
    dgm_status s = check_letters(seq, n, L, out->name, err);
    if (s)
        return s;
    out->n = n;
    out->L = L;
    out->weighted = weighted;
    double *w = dgm_malloc_array(n, sizeof *w);
    uint64_t *bits = dgm__seqbits_pack(seq, n, L);
    unsigned *dmin = dgm_malloc_array(n, sizeof *dmin);
    double *sorted = dgm_malloc_array(n, sizeof *sorted);
    out->nearest_identity = dgm_malloc_array(n, sizeof *out->nearest_identity);
    out->nearest = dgm_malloc_array(n, sizeof *out->nearest);
    out->entropy = dgm_malloc_array(L, sizeof *out->entropy);
    out->scatter = dgm_malloc_array(ref->cfg.n_scatter ? ref->cfg.n_scatter : 1, 2 * sizeof(float));
    dgm__pairs p = {0};
    if (!w || !bits || !dmin || !sorted || !out->nearest_identity || !out->nearest ||
        !out->entropy || !out->scatter) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "assess: %s: out of memory for %zu sequences",
                     out->name, n);
        goto done;
    }
    /* diversity: the set's own weights at theta, and its mean pairwise identity */
    if ((s = dgm_seq_weights(w, &out->neff, seq, n, L, ref->cfg.theta, ref->cfg.rule, err)))
        goto done;
    out->neff_ratio = out->neff / (double)n;
    out->identity_mean = within_identity(seq, n, L);
    if (!weighted)
        for (size_t i = 0; i < n; i++)
            w[i] = 1.0;
    /* site and pair statistics */
    if ((s = dgm__pairs_count(&p, seq, w, n, L, err)))
        goto done;
    dgm__pairs_compare(&out->site_r, &out->site_slope, &out->pair_r, &out->pair_slope,
                       out->scatter, &out->n_scatter, ref->cfg.n_scatter, &ref->pairs, &p);
    entropy_profile(out->entropy, &p);
    /* novelty: identity to the nearest reference sequence */
    dgm__hamming_nearest(dmin, out->nearest, bits, n, ref->bits, ref->n, ref->W);
    size_t copies = 0, near = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double id = (double)(L - dmin[i]) / (double)L;
        out->nearest_identity[i] = sorted[i] = id;
        sum += id;
        copies += dmin[i] == 0;
        near += (double)(L - dmin[i]) >= 0.95 * (double)L - 1e-9;
    }
    qsort(sorted, n, sizeof *sorted, cmp_double);
    out->nearest_identity_mean = sum / (double)n;
    out->nearest_identity_q1 = dgm__quantile_sorted(sorted, n, 0.25);
    out->nearest_identity_median = dgm__quantile_sorted(sorted, n, 0.5);
    out->nearest_identity_q3 = dgm__quantile_sorted(sorted, n, 0.75);
    out->copy_fraction = (double)copies / (double)n;
    out->near_copy_fraction = (double)near / (double)n;
    /* precision, recall, 1-NN two-sample accuracy */
    s = neighbours(out, ref, bits, n, err);
done:
    dgm__pairs_free(&p);
    free(w);
    free(bits);
    free(dmin);
    free(sorted);
    if (s)
        dgm_assess_row_free(out);
    return s;
}

dgm_status dgm_assess_split(size_t *idx, size_t *n_held, size_t n, double fraction,
                            uint64_t seed, dgm_err *err)
{
    if (!(fraction > 0 && fraction < 1))
        return dgm_errf(err, DGM_ERR_ARG, "assess: split fraction %g is outside (0, 1)", fraction);
    size_t h = (size_t)llround(fraction * (double)n);
    if (h < 2 || n - h < 2)
        return dgm_errf(err, DGM_ERR_ARG, "assess: a split of %g of %zu rows leaves fewer than 2 "
                        "on a side", fraction, n);
    dgm_rng rng;
    dgm_rng_init(&rng, seed);
    dgm_rng_permutation(&rng, idx, n);
    *n_held = h;
    return DGM_OK;
}
