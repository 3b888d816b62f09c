/* Forward and backward pieces of the sequence VAE (docs/math.md, "Protein family models",
 * derives every gradient used here). Encoder: h1 = relu(b + sum_l E[(l, x_l)]), a gather of
 * one row of E per non-gap position (the one-hot product without the zeros), then an MLP to
 * (mu, log-variance). Decoder: MLP to h (sigmoid last layer), logits = h W^T + b (PLAIN) or
 * tau (h W_eff^T + b) with W_eff = sigmoid(S) * (D W_out) per position (BAYES, DeepSequence
 * model.py _decode_sparse: dictionary "convolve_patterns", "sparsity" tiled over
 * n_patterns, "final_pwm_scale"). Parallel loops split rows or columns so that every sum
 * is taken in the same order whatever the thread count. Left out: dropout, batch norm and
 * the other DeepSequence options that its published models do not use. */
#include "models/seq/seqvae.h"
#include "distributions/categorical.h"

#include <math.h>
#include <omp.h>
#include <string.h>

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
static float softplusf(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

static inline void add_to(float *restrict d, const float *restrict e, size_t n)
{
    #pragma omp simd
    for (size_t k = 0; k < n; k++)
        d[k] += e[k];
}

/* Rows of E for one position (20 x H1 floats) are reused by every sequence of the batch
 * while they sit in cache, so positions are the outer loop and the batch the inner one;
 * threads own column ranges, so no two write one element and sums keep their order. */
static void bag_rows(float *dst, const float *src, const uint8_t *x, size_t R, size_t L,
                     size_t H, int scatter)
{
    #pragma omp parallel
    {
        size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
        size_t c0 = H * t / nt, c1 = H * (t + 1) / nt;
        for (size_t l = 0; l < L; l++)
            for (size_t r = 0; r < R; r++) {
                unsigned c = x[r * L + l];
                if (c >= DGM_AA_N)
                    continue; /* a gap is the all-zero one-hot row: no column */
                size_t row = (l * DGM_AA_N + c) * H;
                if (scatter)
                    add_to(dst + row + c0, src + r * H + c0, c1 - c0);
                else
                    add_to(dst + r * H + c0, src + row + c0, c1 - c0);
            }
    }
}

const float *dgm__seqvae_encode(dgm__seqvae *v, const uint8_t *x, size_t R)
{
    const float *E = dgm_params_tensor(v->p, v->i_bag);
    const float *b = dgm_params_tensor(v->p, v->i_bag_b);
    size_t H = v->H1;
    for (size_t r = 0; r < R; r++)
        memcpy(v->h1pre + r * H, b, H * sizeof(float));
    bag_rows(v->h1pre, E, x, R, v->L, H, 0);
    dgm_act_forward(DGM_ACT_RELU, v->h1, v->h1pre, R * H);
    return dgm_mlp_forward(v->enc, v->h1, R);
}

void dgm__seqvae_touch(dgm__seqvae *v, const uint8_t *x, size_t R)
{
    size_t L = v->L;
    for (size_t i = 0; i < R * L; i++) {
        if (x[i] >= DGM_AA_N)
            continue;
        size_t row = (i % L) * DGM_AA_N + x[i];
        if (!v->touched[row]) {
            v->touched[row] = 1;
            v->rows[v->n_rows++] = row;
        }
    }
}

void dgm__seqvae_untouch(dgm__seqvae *v)
{
    for (size_t i = 0; i < v->n_rows; i++)
        v->touched[v->rows[i]] = 0;
    v->n_rows = 0;
}

void dgm__seqvae_encode_backward(dgm__seqvae *v, float *denc, const uint8_t *x, size_t R)
{
    size_t H = v->H1, L = v->L;
    memset(v->dh1, 0, R * H * sizeof(float));
    dgm_mlp_backward(v->enc, v->dh1, denc, R);
    for (size_t i = 0; i < R * H; i++)
        if (!(v->h1pre[i] > 0.0f))
            v->dh1[i] = 0.0f;
    dgm_sum_rows(dgm_params_tensor_grad(v->p, v->i_bag_b), v->dh1, R, H);
    dgm__seqvae_touch(v, x, R);
    /* dE[(l, x_rl)] += dh1[r] */
    bag_rows(dgm_params_tensor_grad(v->p, v->i_bag), v->dh1, x, R, L, H, 1);
}

// ------------------------------------------------------------------ Bayesian decoder draw

#define DRAW_CHUNK 16384

void dgm__seqvae_draw(dgm__seqvae *v, dgm_rng *rng)
{
    int nt = dgm_params_n_tensors(v->ps);
    for (int i = 0; i < nt; i++) {
        const float *mu = dgm_params_tensor(v->p, v->mu_idx[i]);
        const float *ls = dgm_params_tensor(v->p, v->ls_idx[i]);
        float *w = dgm_params_tensor(v->ps, i), *e = v->eps_w + dgm_params_offset(v->ps, i);
        size_t n = dgm_params_numel(v->ps, i);
        if (!rng) {
            memcpy(w, mu, n * sizeof *w);
            memset(e, 0, n * sizeof *e);
            continue;
        }
        size_t nc = (n + DRAW_CHUNK - 1) / DRAW_CHUNK;
        /* one stream per (tensor, chunk): the draw does not depend on the thread count */
        #pragma omp parallel for schedule(static)
        for (size_t c = 0; c < nc; c++) {
            dgm_rng r;
            dgm_rng_fork(&r, rng, ((uint64_t)i << 32) | c);
            size_t a = c * DRAW_CHUNK, b = a + DRAW_CHUNK < n ? a + DRAW_CHUNK : n;
            dgm_rng_fill_normal(&r, e + a, b - a);
            #pragma omp simd
            for (size_t j = a; j < b; j++)
                w[j] = mu[j] + dgm__expf(ls[j]) * e[j];
        }
    }
    const float *Wo = dgm_params_tensor(v->ps, v->i_out_w);
    const float *Dc = dgm_params_tensor(v->ps, v->i_dict);
    const float *S = dgm_params_tensor(v->ps, v->i_scale);
    size_t L = v->L, K = v->K, Hl = v->Hl, Hp = v->Hp, A = DGM_AA_N;
    /* sig[l, h] = sigmoid(S[h mod Hp, l]): the tiled scale laid out like a weight row */
    for (size_t l = 0; l < L; l++)
        for (size_t h = 0; h < Hl; h++)
            v->sig[l * Hl + h] = sigmoidf(S[(h % Hp) * L + l]);
    /* wun[(l, a), :] = sum_k D[a, k] W_out[(l, k), :]; one product per thread, so that no
     * BLAS splits a sum by the thread count (the draw is the same at any --threads) */
    #pragma omp parallel for schedule(static)
    for (size_t l = 0; l < L; l++)
        dgm_gemm(DGM_NOTRANS, DGM_NOTRANS, A, Hl, K, 1.0f, Dc, K, Wo + l * K * Hl, Hl, 0.0f,
                 v->wun + l * A * Hl, Hl);
    #pragma omp parallel for schedule(static)
    for (size_t l = 0; l < L; l++)
        for (size_t a = 0; a < A; a++) {
            const float *u = v->wun + (l * A + a) * Hl, *sg = v->sig + l * Hl;
            float *w = v->weff + (l * A + a) * Hl;
            #pragma omp simd
            for (size_t h = 0; h < Hl; h++)
                w[h] = u[h] * sg[h];
        }
    v->tau = softplusf(dgm_params_tensor(v->ps, v->i_temp)[0]);
}

// ------------------------------------------------------------------------------ decoder

void dgm__seqvae_decode(dgm__seqvae *v, const float *z, size_t R)
{
    const float *h = dgm_mlp_forward(v->dec, z, R);
    v->hdec = h;
    size_t D = v->D, Hl = v->Hl;
    if (v->cfg.variant == DGM_SEQVAE_PLAIN) {
        dgm_linear_forward(v->logits, h, dgm_params_tensor(v->p, v->i_out_w),
                           dgm_params_tensor(v->p, v->i_out_b), R, Hl, D);
        return;
    }
    const float *b = dgm_params_tensor(v->ps, v->i_out_b);
    dgm_gemm(DGM_NOTRANS, DGM_TRANS, R, D, Hl, v->tau, h, Hl, v->weff, Hl, 0.0f, v->logits, D);
    #pragma omp parallel for schedule(static)
    for (size_t r = 0; r < R; r++)
        dgm_axpy(v->logits + r * D, v->tau, b, D);
}

void dgm__seqvae_loglik(dgm__seqvae *v, double *ll, const uint8_t *x, size_t R, float dscale)
{
    size_t L = v->L, D = v->D;
    #pragma omp parallel for schedule(static)
    for (size_t r = 0; r < R; r++)
        ll[r] = dgm__categorical_loglik(v->logits + r * D, v->lse + r * 2 * L, x + r * L, L,
                                        DGM_AA_N, dscale);
}

void dgm__seqvae_decode_backward(dgm__seqvae *v, float *dz, size_t R)
{
    size_t D = v->D, Hl = v->Hl, L = v->L, K = v->K, Hp = v->Hp, A = DGM_AA_N;
    const float *g = v->logits, *h = v->hdec;
    if (v->cfg.variant == DGM_SEQVAE_PLAIN) {
        memset(v->dh, 0, R * Hl * sizeof(float));
        dgm_linear_backward(v->dh, dgm_params_tensor_grad(v->p, v->i_out_w),
                            dgm_params_tensor_grad(v->p, v->i_out_b), g, h,
                            dgm_params_tensor(v->p, v->i_out_w), R, Hl, D);
        dgm_mlp_backward(v->dec, dz, v->dh, R);
        return;
    }
    /* logits = tau (h W_eff^T + b): with G = dlogits^T h and c = column sums of dlogits,
     * dtau = <c, b> + <G, W_eff>, db = tau c, dW_eff = tau G, dh = tau dlogits W_eff. */
    const float *b = dgm_params_tensor(v->ps, v->i_out_b);
    float T = dgm_params_tensor(v->ps, v->i_temp)[0];
    dgm_gemm(DGM_TRANS, DGM_NOTRANS, D, Hl, R, 1.0f, g, D, h, Hl, 0.0f, v->gw, Hl);
    memset(v->csum, 0, D * sizeof(float));
    dgm_sum_rows(v->csum, g, R, D);
    double dtau = dgm_dot(v->csum, b, D) + dgm_dot(v->gw, v->weff, D * Hl);
    dgm_params_tensor_grad(v->ps, v->i_temp)[0] += (float)(dtau * (double)sigmoidf(T));
    dgm_axpy(dgm_params_tensor_grad(v->ps, v->i_out_b), v->tau, v->csum, D);
    dgm_gemm(DGM_NOTRANS, DGM_NOTRANS, R, Hl, D, v->tau, g, D, v->weff, Hl, 0.0f, v->dh, Hl);
    dgm_mlp_backward(v->dec, dz, v->dh, R);
    /* W_eff[(l,a),h] = s[l,h] U[(l,a),h] with s[l,h] = sigmoid(S[h mod Hp, l]):
     * dS[hp, l] += sum over a and h = hp (mod Hp) of tau G U s (1 - s); dU = tau G s (written
     * over gw); then U_l = D W_out_l gives dW_out_l = D^T dU_l and dD += dU_l W_out_l^T. */
    float *dS = dgm_params_tensor_grad(v->ps, v->i_scale);
    float tau = v->tau;
    #pragma omp parallel for schedule(static)
    for (size_t l = 0; l < L; l++) {
        float *acc = v->sacc + l * Hl;
        const float *sg = v->sig + l * Hl;
        memset(acc, 0, Hl * sizeof(float));
        for (size_t a = 0; a < A; a++) {
            float *gr = v->gw + (l * A + a) * Hl;
            const float *u = v->wun + (l * A + a) * Hl;
            #pragma omp simd
            for (size_t h2 = 0; h2 < Hl; h2++) {
                acc[h2] += gr[h2] * u[h2];
                gr[h2] *= tau * sg[h2];
            }
        }
        for (size_t h2 = 0; h2 < Hl; h2++)
            dS[(h2 % Hp) * L + l] += tau * acc[h2] * sg[h2] * (1.0f - sg[h2]);
    }
    const float *Wo = dgm_params_tensor(v->ps, v->i_out_w);
    const float *Dc = dgm_params_tensor(v->ps, v->i_dict);
    float *dWo = dgm_params_tensor_grad(v->ps, v->i_out_w);
    float *dDc = dgm_params_tensor_grad(v->ps, v->i_dict);
    for (size_t l = 0; l < L; l++) {
        const float *dU = v->gw + l * A * Hl;
        dgm_gemm(DGM_TRANS, DGM_NOTRANS, K, Hl, A, 1.0f, Dc, K, dU, Hl, 1.0f, dWo + l * K * Hl, Hl);
        dgm_gemm(DGM_NOTRANS, DGM_TRANS, A, K, Hl, 1.0f, dU, Hl, Wo + l * K * Hl, Hl, 1.0f, dDc, K);
    }
}

// --------------------------------------------------------------------------- regulariser

/* erf^-1 for |x| < 1: Giles' single-precision approximation ("Approximating the erfinv
 * function", GPU Computing Gems, 2011), then two Newton steps on erf(y) - x in double. */
static double erfinv_d(double x)
{
    double w = -log((1.0 - x) * (1.0 + x)), p;
    if (w < 5.0) {
        w -= 2.5;
        p = 2.81022636e-08;
        p = 3.43273939e-07 + p * w;
        p = -3.5233877e-06 + p * w;
        p = -4.39150654e-06 + p * w;
        p = 0.00021858087 + p * w;
        p = -0.00125372503 + p * w;
        p = -0.00417768164 + p * w;
        p = 0.246640727 + p * w;
        p = 1.50140941 + p * w;
    } else {
        w = sqrt(w) - 3.0;
        p = -0.000200214257;
        p = 0.000100950558 + p * w;
        p = 0.00134934322 + p * w;
        p = -0.00367342844 + p * w;
        p = 0.00573950773 + p * w;
        p = -0.0076224613 + p * w;
        p = 0.00943887047 + p * w;
        p = 1.00167406 + p * w;
        p = 2.83297682 + p * w;
    }
    double y = p * x;
    for (int i = 0; i < 2; i++) /* d erf / dy = 2/sqrt(pi) exp(-y^2) */
        y -= (erf(y) - x) / (1.1283791670955126 * exp(-y * y));
    return y;
}

#define KL_PARTS 64

double dgm__seqvae_regularise(dgm__seqvae *v)
{
    double neff = v->si.neff > 0 ? v->si.neff : 1.0, reg = 0;
    if (v->cfg.variant == DGM_SEQVAE_PLAIN) {
        /* (l2 / 2 Neff) ||W||^2 over the decoder's weight matrices (not biases) */
        float c = (float)(v->cfg.l2 / neff);
        for (int i = 0; i < dgm_params_n_tensors(v->p); i++) {
            const char *name = dgm_params_name(v->p, i);
            size_t nl = strlen(name);
            if (strncmp(name, "decoder.", 8) || nl < 7 || strcmp(name + nl - 7, ".weight"))
                continue;
            const float *w = dgm_params_tensor(v->p, i);
            size_t n = dgm_params_numel(v->p, i);
            reg += 0.5 * (double)c * dgm_sumsq(w, n);
            dgm_axpy(dgm_params_tensor_grad(v->p, i), c, w, n);
        }
        return reg;
    }
    /* Reparameterised draw w = mu + e^ls eps: dmu += dw, dls += dw eps e^ls. KL of
     * N(mu, e^2ls) from the prior N(m0, s0^2), divided by Neff:
     * log s0 - ls + (e^2ls + (mu - m0)^2) / (2 s0^2) - 1/2. */
    double lp = v->cfg.logit_p, s0s = v->cfg.logit_sigma;
    double mp = sqrt(2.0) * s0s * erfinv_d(2.0 * lp - 1.0);
    for (int i = 0; i < dgm_params_n_tensors(v->ps); i++) {
        double m0 = i == v->i_scale ? mp : 0.0, s0 = i == v->i_scale ? s0s : 1.0;
        double inv = 1.0 / (s0 * s0), ls0 = log(s0);
        const float *mu = dgm_params_tensor(v->p, v->mu_idx[i]);
        const float *ls = dgm_params_tensor(v->p, v->ls_idx[i]);
        float *gmu = dgm_params_tensor_grad(v->p, v->mu_idx[i]);
        float *gls = dgm_params_tensor_grad(v->p, v->ls_idx[i]);
        const float *gw = dgm_params_tensor_grad(v->ps, i);
        const float *e = v->eps_w + dgm_params_offset(v->ps, i);
        size_t n = dgm_params_numel(v->ps, i);
        float c_mu = (float)(inv / neff), c_ls = (float)(1.0 / neff), fi = (float)inv;
        float fm0 = (float)m0;
        /* the KL in chunks fixed by n, added in chunk order: its bits do not depend on the
         * thread count (an OpenMP reduction's order does) */
        double part[KL_PARTS] = {0}, kl = 0;
        size_t np = n < KL_PARTS ? n : KL_PARTS, cs = np ? (n + np - 1) / np : 0;
        #pragma omp parallel for schedule(static)
        for (size_t c = 0; c < np; c++) {
            size_t a = c * cs, b = a + cs < n ? a + cs : n;
            double acc = 0;
            #pragma omp simd reduction(+ : acc)
            for (size_t j = a; j < b; j++) {
                float sd = dgm__expf(ls[j]), d = mu[j] - fm0;
                acc += (double)((sd * sd + d * d) * 0.5f * fi - ls[j]);
                gmu[j] += gw[j] + d * c_mu;
                gls[j] += gw[j] * e[j] * sd + (sd * sd * fi - 1.0f) * c_ls;
            }
            part[c] = acc;
        }
        for (size_t c = 0; c < np; c++)
            kl += part[c];
        kl += (double)n * (ls0 - 0.5);
        reg += kl / neff;
    }
    return reg;
}
