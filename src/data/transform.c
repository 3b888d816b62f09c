/* Operations on loaded data sets: row subsets, dynamic binarization, uniform
 * dequantization, examples of the compact 8-bit form as floats, and freeing.
 * References: dynamic binarization as in Salakhutdinov & Murray (ICML 2008) and the IWAE
 * paper (Burda et al., ICLR 2016, sec. 5.1): a fresh Bernoulli(x) draw each time the
 * pixel is used. Uniform dequantization as in Theis, van den Oord, Bethge (ICLR 2016),
 * eq. 5: for 8-bit k, y = (k + u) / 256 with u ~ U[0, 1), so that a continuous density
 * on [0,1)^D lower-bounds the discrete model's log-likelihood (docs/math.md, "Data").
 * Left out: splits and batching (callers draw permutations with dgm_rng_permutation). */
#include "dgm.h"
#include "core/assert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void dgm_data_free(dgm_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->x8);
    free(d->y);
    free(d->seq);
    free(d->weights);
    if (d->names)
        for (size_t i = 0; i < d->n; i++)
            free(d->names[i]);
    free(d->names);
    memset(d, 0, sizeof *d);
}

/* Copies rows idx[0..n) of a (n_src x width) array of elem-byte items. */
static void *gather(const void *src, const size_t *idx, size_t n, size_t width, size_t elem)
{
    size_t row, total;
    if (!dgm_size_mul(&row, width, elem) || !dgm_size_mul(&total, row, n))
        return NULL;
    unsigned char *out = malloc(total ? total : 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * row, (const unsigned char *)src + idx[i] * row, row);
    return out;
}

dgm_status dgm_data_subset(dgm_dataset *out, const dgm_dataset *src, const size_t *idx,
                           size_t n, dgm_err *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= src->n)
            return dgm_errf(err, DGM_ERR_ARG, "%s: subset index %zu is out of range (%zu "
                            "examples)", src->source, idx[i], src->n);
    *out = *src;
    out->n = n;
    out->x = NULL;
    out->x8 = NULL;
    out->y = NULL;
    out->seq = NULL;
    out->weights = NULL;
    out->names = NULL;
    int ok = 1;
    if (src->x)
        ok = (out->x = gather(src->x, idx, n, src->d, sizeof(float))) != NULL;
    if (ok && src->x8)
        ok = (out->x8 = gather(src->x8, idx, n, src->d, 1)) != NULL;
    if (ok && src->seq)
        ok = (out->seq = gather(src->seq, idx, n, src->d, 1)) != NULL;
    if (ok && src->y)
        ok = (out->y = gather(src->y, idx, n, 1, sizeof(int32_t))) != NULL;
    if (ok && src->weights)
        ok = (out->weights = gather(src->weights, idx, n, 1, sizeof(double))) != NULL;
    if (ok && src->names) {
        ok = (out->names = dgm_calloc_array(n, sizeof(char *))) != NULL;
        for (size_t i = 0; ok && i < n; i++)
            ok = !src->names[idx[i]] || (out->names[i] = strdup(src->names[idx[i]])) != NULL;
    }
    if (!ok) {
        dgm_data_free(out);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for a subset of %zu examples",
                        src->source, n);
    }
    return DGM_OK;
}

void dgm_data_binarize(dgm_rng *rng, float *out, const float *x, size_t n)
{
    /* u < x with u uniform on [0, 1): P = x exactly for x on the 2^-24 grid, 0 and 1 kept.
     * Uniforms are drawn in bulk (the same numbers as one at a time), in chunks on the
     * stack; out may alias x. */
    float u[256];
    for (size_t i0 = 0; i0 < n; i0 += 256) {
        size_t b = n - i0 < 256 ? n - i0 : 256;
        dgm_rng_fill_uniform(rng, u, b);
        for (size_t i = 0; i < b; i++)
            out[i0 + i] = u[i] < x[i0 + i] ? 1.0f : 0.0f;
    }
}

void dgm_data_dequantize(dgm_rng *rng, float *out, const float *x, size_t n)
{
    /* In float, k + u rounds up to k + 1 when u is within half a float spacing of 1 (for
     * k near 255 that spacing is 2^-16), which would put the value into the next bin, or
     * at exactly 1. The sum is formed in double, and a value that still rounds to the bin's
     * upper edge is held one float below it, so that out lies in [k/256, (k+1)/256). */
    for (size_t i = 0; i < n; i++) {
        long k = lrintf(255.0f * x[i]);
        k = k < 0 ? 0 : k > 255 ? 255 : k;
        float hi = (float)(k + 1) * (1.0f / 256.0f);
        float v = (float)(((double)k + (double)dgm_rng_uniform(rng)) * (1.0 / 256.0));
        out[i] = v < hi ? v : nextafterf(hi, 0.0f);
    }
}

// ------------------------------------------------------------ the compact 8-bit form

/* The value of level k: the float form's value bit for bit (the IDX and NPY readers divide
 * the same way), so comparisons and draws match the float path. */
static inline float level(uint8_t k) { return (float)k / 255.0f; }

static void binarize_8bit(dgm_rng *rng, float *out, const uint8_t *k, size_t n)
{
    /* the same chunks of uniforms as dgm_data_binarize, so the stream advances alike */
    float u[256];
    for (size_t i0 = 0; i0 < n; i0 += 256) {
        size_t b = n - i0 < 256 ? n - i0 : 256;
        dgm_rng_fill_uniform(rng, u, b);
        for (size_t i = 0; i < b; i++)
            out[i0 + i] = u[i] < level(k[i0 + i]) ? 1.0f : 0.0f;
    }
}

static void dequantize_8bit(dgm_rng *rng, float *out, const uint8_t *k, size_t n)
{
    /* dgm_data_dequantize with the level known: lrintf(255 * (k / 255.0f)) is k for every
     * k (tests/test_data.c checks), so the values are the same */
    for (size_t i = 0; i < n; i++) {
        float hi = (float)(k[i] + 1) * (1.0f / 256.0f);
        float v = (float)(((double)k[i] + (double)dgm_rng_uniform(rng)) * (1.0 / 256.0));
        out[i] = v < hi ? v : nextafterf(hi, 0.0f);
    }
}

void dgm_data_example(dgm_rng *rng, float *out, const dgm_dataset *d, size_t i, dgm_prep how)
{
    DGM_ASSERT(d->kind == DGM_DATA_REAL && i < d->n && (d->x || d->x8));
    const size_t D = d->d;
    if (d->x8) {
        const uint8_t *k = d->x8 + i * D;
        if (how == DGM_PREP_BINARIZE)
            binarize_8bit(rng, out, k, D);
        else if (how == DGM_PREP_DEQUANTIZE)
            dequantize_8bit(rng, out, k, D);
        else
            for (size_t j = 0; j < D; j++)
                out[j] = level(k[j]);
        return;
    }
    const float *x = d->x + i * D;
    if (how == DGM_PREP_BINARIZE)
        dgm_data_binarize(rng, out, x, D);
    else if (how == DGM_PREP_DEQUANTIZE)
        dgm_data_dequantize(rng, out, x, D);
    else
        memcpy(out, x, D * sizeof *out);
}
