/* Empirical log-likelihood of a data set under a model: data preparation into the model's
 * space (shared with `dgm eval`), then the mean, total (the joint log-likelihood of the
 * data set), standard error and bits per dimension of log p(x).
 * Bits/dim convention (docs/math.md): nll / (D log 2) for binary and continuous data;
 * for 8-bit data dequantised to (k+u)/256 the density over [0,1)^D is converted to the
 * discrete 8-bit grid, bpd = (nll + D log 256) / (D log 2), as in PixelCNN/Glow/RealNVP
 * reports (Theis et al. 2016, "A note on the evaluation of generative models").
 * Left out: per-example weights of the data set (every example counts once), and sequence
 * data (the one-hot conversion belongs to the protein module). */
#include "dgm.h"
#include "core/par.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LL_BATCH 100

double dgm_bits_per_dim(double nll, size_t D, const char *likelihood)
{
    double bpd = nll / ((double)D * log(2.0));
    if (likelihood && !strcmp(likelihood, "dequantized"))
        bpd += 8.0; /* log(256) / log(2) per dimension */
    return bpd;
}

/* How data goes into m's data space (*how); checks the rows [first, first + n). */
static dgm_status prep_kind(dgm_prep *how, const dgm_model *m, const dgm_dataset *data,
                            size_t first, size_t n, dgm_err *err)
{
    const char *src = data->source[0] ? data->source : "data";
    const char *lik = dgm_model_likelihood(m);
    size_t D = dgm_model_dim(m);
    if (data->kind == DGM_DATA_SEQ) {
        /* protein-family models see sequences in their one-hot form (dgm_seq_onehot) */
        if (strcmp(lik, "sequence") || data->d * DGM_AA_N != D)
            return dgm_errf(err, DGM_ERR_SHAPE, "%s: %zu sequences of %zu letters need a "
                            "sequence model of dimension %zu (this one is %s, %zu)", src,
                            data->n, data->d, data->d * DGM_AA_N, lik, D);
        *how = DGM_PREP_COPY;
        return DGM_OK;
    }
    if (data->d != D)
        return dgm_errf(err, DGM_ERR_SHAPE, "%s: %zu values per example, but the model's "
                        "dimension is %zu", src, data->d, D);
    int binary = !strcmp(lik, "binary"), deq = !strcmp(lik, "dequantized");
    /* 8-bit levels (x8) are finite, in [0, 1] and on the grid: nothing to check */
    for (size_t i = first; !data->x8 && i < first + n; i++)
        for (size_t j = 0; j < D; j++) {
            float v = data->x[i * D + j];
            if (!isfinite(v))
                return dgm_errf(err, DGM_ERR_NAN, "%s: row %zu, column %zu: not a finite "
                                "number", src, i + 1, j + 1);
            if ((binary || deq) && (v < 0 || v > 1))
                return dgm_errf(err, DGM_ERR_ARG, "%s: row %zu, column %zu: %g is outside "
                                "[0, 1] (the model is over %s data)", src, i + 1, j + 1, v, lik);
            if (deq && !data->is_8bit && fabsf(v * 255.0f - roundf(v * 255.0f)) > 1e-3f)
                return dgm_errf(err, DGM_ERR_ARG, "%s: row %zu, column %zu: %g is not an 8-bit "
                                "level k/255 (the model is over dequantized 8-bit data)", src,
                                i + 1, j + 1, v);
        }
    *how = binary ? DGM_PREP_BINARIZE : deq ? DGM_PREP_DEQUANTIZE : DGM_PREP_COPY;
    return DGM_OK;
}

/* Rows [first, first + n), already checked by prep_kind, into out: example i from stream
 * fork(seed, i) whatever the batch, so batches and the whole set give the same values. */
static void fill_rows(float *out, const dgm_model *m, const dgm_dataset *data, size_t first,
                      size_t n, uint64_t seed, dgm_prep how)
{
    size_t D = dgm_model_dim(m);
    if (data->kind == DGM_DATA_SEQ) {
        dgm_seq_onehot(out, data->seq + first * data->d, n, data->d);
        return;
    }
    dgm_rng root;
    dgm_rng_init(&root, seed);
    long N = (long)n;
#pragma omp parallel for schedule(static) if (n * D > DGM__PAR_MIN_ROWS)
    for (long il = 0; il < N; il++) {
        size_t i = first + (size_t)il;
        dgm_rng r;
        dgm_rng_fork(&r, &root, (uint64_t)i);
        dgm_data_example(&r, out + (size_t)il * D, data, i, how);
    }
}

dgm_status dgm_eval_prepare_rows(float *out, const dgm_model *m, const dgm_dataset *data,
                                 size_t first, size_t n, uint64_t seed, dgm_err *err)
{
    if (first > data->n || n > data->n - first)
        return dgm_errf(err, DGM_ERR_ARG, "%s: rows %zu..%zu of %zu examples",
                        data->source[0] ? data->source : "data", first + 1, first + n, data->n);
    dgm_prep how;
    dgm_status s = prep_kind(&how, m, data, first, n, err);
    if (!s && out)
        fill_rows(out, m, data, first, n, seed, how);
    return s;
}

dgm_status dgm_eval_prepare(float **out, size_t *n_out, const dgm_model *m,
                            const dgm_dataset *data, size_t limit, uint64_t seed,
                            dgm_err *err)
{
    *out = NULL;
    *n_out = 0;
    const char *src = data->source[0] ? data->source : "data";
    size_t D = dgm_model_dim(m), n = limit && limit < data->n ? limit : data->n;
    if (n == 0)
        return dgm_errf(err, DGM_ERR_ARG, "%s: no examples", src);
    /* checked before the allocation, so that a wrong file fails with its own message */
    dgm_prep how;
    dgm_status s = prep_kind(&how, m, data, 0, n, err);
    if (s)
        return s;
    float *x = dgm_malloc_array(n, D * sizeof *x);
    if (!x)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu x %zu values", src, n, D);
    fill_rows(x, m, data, 0, n, seed, how);
    *out = x;
    *n_out = n;
    return DGM_OK;
}

dgm_status dgm_loglik(dgm_rng *rng, dgm_loglik_result *out, double *per_example,
                      dgm_model *m, const dgm_dataset *data, size_t limit, int k,
                      dgm_err *err)
{
    size_t n = limit && limit < data->n ? limit : data->n, D = dgm_model_dim(m);
    if (n == 0)
        return dgm_errf(err, DGM_ERR_ARG, "%s: no examples",
                        data->source[0] ? data->source : "data");
    /* every row is checked before any work; then each batch is prepared as it is needed
     * (the same values as dgm_eval_prepare's), so only one batch of floats exists */
    dgm_prep how;
    dgm_status s = prep_kind(&how, m, data, 0, n, err);
    if (s)
        return s;
    const int32_t *y = dgm_model_n_classes(m) > 0 ? data->y : NULL;
    double *lp = per_example ? per_example : dgm_malloc_array(n, sizeof *lp);
    float *x = dgm_malloc_array(n < LL_BATCH ? n : LL_BATCH, D * sizeof *x);
    if (!lp || !x) {
        if (!per_example)
            free(lp);
        free(x);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    /* batch b draws from stream fork(rng, b) whoever computes it, so under mpirun each
     * rank scores its own batches and the rows are then shared: the one-process values */
    size_t r0, r1;
    dgm__par_rows_mine(&r0, &r1, n, LL_BATCH);
    for (size_t i0 = r0; i0 < r1 && !s; i0 += LL_BATCH) {
        size_t nb = n - i0 < LL_BATCH ? n - i0 : LL_BATCH;
        dgm_rng r;
        dgm_rng_fork(&r, rng, i0 / LL_BATCH);
        fill_rows(x, m, data, i0, nb, DGM_EVAL_PREP_SEED, how);
        s = dgm_model_log_prob(m, &r, lp + i0, x, y ? y + i0 : NULL, nb, k, err);
    }
    if (!(s = dgm__par_agree(s, err)))
        dgm__par_share_rows(lp, n, LL_BATCH, sizeof *lp);
    double mean = 0.0, m2 = 0.0, total = 0.0;
    for (size_t i = 0; i < n && !s; i++) {
        if (isnan(lp[i]) || lp[i] == INFINITY) {
            s = dgm_errf(err, DGM_ERR_NAN, "%s: row %zu: the model's log-density is %g",
                         data->source[0] ? data->source : "data", i + 1, lp[i]);
            break;
        }
        total += lp[i];
        double delta = lp[i] - mean;
        mean += delta / (double)(i + 1);
        m2 += delta * (lp[i] - mean);
    }
    if (!s) {
        out->mean = isfinite(total) ? total / (double)n : total;
        out->total = total;
        out->se = n > 1 && isfinite(total) ? sqrt(m2 / (double)(n - 1) / (double)n) : NAN;
        out->dims = data->d;
        out->bits_per_dim = dgm_bits_per_dim(-out->mean, out->dims, dgm_model_likelihood(m));
        out->n = n;
        out->exact = dgm_model_exact(m);
    }
    if (!per_example)
        free(lp);
    free(x);
    return s;
}
