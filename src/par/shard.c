/* Micro-shards and the fixed-tree sum over them (par.h). The tree's shape depends on the
 * number of shards alone, and each node is left + right in IEEE float (or double), so
 * the sum has the same bits whoever computed the leaves and nodes. */
#include "par/par.h"
#include "core/par.h"

#include <limits.h>
#include <string.h>

static size_t micro = DGM__MICRO_DEFAULT;

static int micro_given;
size_t dgm__par_micro(void) { return micro; }
int dgm__par_micro_given(void) { return micro_given; }
void dgm__par_set_micro(size_t S)
{
    micro = S ? S : DGM__MICRO_DEFAULT;
    micro_given = S != 0;
}

size_t dgm__shard_count(size_t B, size_t S) { return B ? (B + S - 1) / S : 0; }

dgm_status dgm__par_check_shards(size_t B, size_t S, dgm_err *err)
{
    size_t n = dgm__shard_count(B, S), R = (size_t)dgm__par_size();
    if (R > n)
        return dgm_errf(err, DGM_ERR_ARG, "%zu ranks but a batch of %zu has only %zu "
                        "micro-shards of %zu: use at most %zu ranks, or a smaller "
                        "--micro-batch", R, B, n, S, n);
    return DGM_OK;
}

void dgm__shard_rows(size_t *r0, size_t *r1, size_t i, size_t B, size_t S)
{
    *r0 = i * S < B ? i * S : B;
    *r1 = *r0 + S < B ? *r0 + S : B;
}

/* The first shard of rank r of R over n shards. */
static size_t first_of(size_t n, size_t r, size_t R) { return n * r / R; }

void dgm__shard_mine(size_t *lo, size_t *hi, size_t n)
{
    size_t r = (size_t)dgm__par_rank(), R = (size_t)dgm__par_size();
    *lo = first_of(n, r, R);
    *hi = first_of(n, r + 1, R);
}

static size_t row_of(size_t block_i, size_t block, size_t n)
{
    return block_i * block < n ? block_i * block : n;
}

void dgm__par_rows_mine(size_t *r0, size_t *r1, size_t n, size_t block)
{
    size_t lo, hi;
    dgm__shard_mine(&lo, &hi, dgm__shard_count(n, block));
    *r0 = row_of(lo, block, n);
    *r1 = row_of(hi, block, n);
}

void dgm__par_share_rows(void *out, size_t n, size_t block, size_t row_bytes)
{
    size_t R = (size_t)dgm__par_size(), nb = dgm__shard_count(n, block);
    for (size_t r = 0; R > 1 && r < R; r++) {
        size_t a = row_of(first_of(nb, r, R), block, n), b = row_of(first_of(nb, r + 1, R), block, n);
        if (b > a)
            dgm__par_bcast_from((char *)out + a * row_bytes, (b - a) * row_bytes, (int)r);
    }
}

/* The rank that computes shard i. */
static size_t owner(size_t i, size_t n, size_t R)
{
    size_t r = i * R / n; /* a guess at most one off, then the exact answer */
    while (r > 0 && first_of(n, r, R) > i)
        r--;
    while (r + 1 < R && first_of(n, r + 1, R) <= i)
        r++;
    return r;
}

static size_t mid(size_t lo, size_t hi) { return lo + (hi - lo + 1) / 2; }

typedef struct {
    void *const *bufs;
    size_t n, R, elem;   /* shards, ranks, bytes per element */
    int dbl;
} tree;

/* x += y, and y (consumed) is left zero while it is in cache: the shard buffers are
 * ready for the next step without a pass of their own. */
static void add_f(float *restrict x, float *restrict y, size_t n)
{
#pragma omp simd
    for (size_t j = 0; j < n; j++) {
        x[j] = x[j] + y[j];
        y[j] = 0.0f;
    }
}

static void add_d(double *restrict x, double *restrict y, size_t n)
{
#pragma omp simd
    for (size_t j = 0; j < n; j++) {
        x[j] = x[j] + y[j];
        y[j] = 0.0;
    }
}

static void add(const tree *t, size_t a, size_t b, size_t off, size_t cnt)
{
    if (t->dbl)
        add_d((double *)t->bufs[a] + off, (double *)t->bufs[b] + off, cnt);
    else
        add_f((float *)t->bufs[a] + off, (float *)t->bufs[b] + off, cnt);
}

/* Adds the nodes of [lo, hi) that lie inside [a, b) (pass a = 0, b = n for all) and, with
 * skip_owned, skips those inside one rank's shards (already summed and broadcast). */
static void sum_nodes(const tree *t, size_t lo, size_t hi, size_t a, size_t b, int skip_owned,
                      size_t off, size_t cnt)
{
    if (hi - lo < 2 || hi <= a || lo >= b)
        return;
    if (skip_owned && owner(lo, t->n, t->R) == owner(hi - 1, t->n, t->R))
        return;
    size_t m = mid(lo, hi);
    sum_nodes(t, lo, m, a, b, skip_owned, off, cnt);
    sum_nodes(t, m, hi, a, b, skip_owned, off, cnt);
    if (a <= lo && hi <= b)
        add(t, lo, m, off, cnt);
}

/* Chunks of elements small enough to stay in cache while the whole tree is added. */
#define CHUNK 4096

/* The tree's adds over elements [off0, off0 + len). */
static void sum_all(const tree *t, size_t a, size_t b, int skip_owned, size_t off0, size_t len)
{
    long nc = (long)((len + CHUNK - 1) / CHUNK);
#pragma omp parallel for schedule(static) if (len * (t->n - 1) >= DGM__PAR_MIN)
    for (long c = 0; c < nc; c++) {
        size_t off = (size_t)c * CHUNK, cnt = len - off < CHUNK ? len - off : CHUNK;
        sum_nodes(t, 0, t->n, a, b, skip_owned, off0 + off, cnt);
    }
}

/* Broadcasts, from its owner, each largest node inside one rank's shards, in one order
 * that every rank walks alike. */
static void share_nodes(const tree *t, size_t lo, size_t hi, size_t len)
{
    size_t r = owner(lo, t->n, t->R);
    if (r == owner(hi - 1, t->n, t->R)) {
        dgm__par_bcast_from(t->bufs[lo], len * t->elem, (int)r);
        return;
    }
    size_t m = mid(lo, hi);
    share_nodes(t, lo, m, len);
    share_nodes(t, m, hi, len);
}

static dgm_status tree_sum(void *const *bufs, size_t n, size_t len, int dbl)
{
    if (n < 1)
        return DGM_OK;
    tree t = {bufs, n, (size_t)dgm__par_size(), dbl ? sizeof(double) : sizeof(float), dbl};
    size_t lo, hi;
    dgm__shard_mine(&lo, &hi, n);
    if (t.R == 1) {
        sum_all(&t, 0, n, 0, 0, len);
        return DGM_OK;
    }
    if (lo < hi)
        sum_all(&t, lo, hi, 0, 0, len);
    share_nodes(&t, 0, n, len);
    sum_all(&t, 0, n, 1, 0, len);
    return DGM_OK;
}

/* The first element of rank r's segment: an equal share rounded up to 16 elements (a
 * cache line of floats), so that segments start where the optimizer's slices would. */
static size_t seg_start(size_t len, size_t r, size_t R)
{
    size_t a = r >= R ? len : ((len / R) * r + (len % R) * r / R + 15) & ~(size_t)15;
    return a < len ? a : len;
}

void dgm__par_segment(size_t *off, size_t *cnt, size_t len, int rank)
{
    size_t R = (size_t)dgm__par_size(), a = seg_start(len, (size_t)rank, R);
    *off = a;
    *cnt = seg_start(len, (size_t)rank + 1, R) - a;
}

int dgm__par_segmented(size_t len)
{
    return dgm__par_size() > 1 && len / (size_t)dgm__par_size() < (size_t)INT_MAX - 16;
}

/* For each largest node inside one rank's shards, in one order that every rank walks
 * alike: post (its owner sends every other rank that rank's segment of it, and each other
 * rank receives its own segment), or clear (its owner zeroes what it sent, so that the
 * node's buffer starts the next step zero; the buffer of shard 0 is the caller's). */
static dgm_status walk_nodes(const tree *t, size_t lo, size_t hi, size_t len, int post,
                             dgm_err *err)
{
    size_t r = owner(lo, t->n, t->R), me = (size_t)dgm__par_rank(), off, cnt;
    char *b = t->bufs[lo];
    if (r != owner(hi - 1, t->n, t->R)) {
        size_t m = mid(lo, hi);
        dgm_status s = walk_nodes(t, lo, m, len, post, err);
        return s ? s : walk_nodes(t, m, hi, len, post, err);
    }
    if (r != me) {
        dgm__par_segment(&off, &cnt, len, (int)me);
        return post && cnt ? dgm__par_post(b + off * t->elem, cnt, t->elem, (int)r, 0, err)
                           : DGM_OK;
    }
    for (size_t j = 0; j < t->R; j++) {
        dgm__par_segment(&off, &cnt, len, (int)j);
        if (j == me || !cnt)
            continue;
        dgm_status s = DGM_OK;
        if (post)
            s = dgm__par_post(b + off * t->elem, cnt, t->elem, (int)j, 1, err);
        else if (lo > 0)
            memset(b + off * t->elem, 0, cnt * t->elem);
        if (s)
            return s;
    }
    return DGM_OK;
}

static dgm_status tree_sum_seg(void *const *bufs, size_t n, size_t len, int dbl,
                               size_t *off, size_t *cnt, dgm_err *err)
{
    tree t = {bufs, n, (size_t)dgm__par_size(), dbl ? sizeof(double) : sizeof(float), dbl};
    size_t lo, hi;
    dgm__shard_mine(&lo, &hi, n);
    dgm__par_segment(off, cnt, len, dgm__par_rank());
    if (n < 1)
        return DGM_OK;
    if (t.R == 1) {
        sum_all(&t, 0, n, 0, 0, len);
        return DGM_OK;
    }
    if (lo < hi)
        sum_all(&t, lo, hi, 0, 0, len);
    dgm_status s = walk_nodes(&t, 0, n, len, 1, err);
    dgm_status w = dgm__par_wait(err);
    if (s || w)
        return s ? s : w;
    walk_nodes(&t, 0, n, len, 0, err);
    sum_all(&t, 0, n, 1, *off, *cnt);
    return DGM_OK;
}

void dgm__par_tree_sum_shm_f(float *const *bufs, size_t n, size_t len, size_t *off,
                             size_t *cnt, dgm__par_shm *s)
{
    tree t = {(void *const *)bufs, n, (size_t)dgm__par_size(), sizeof(float), 0};
    dgm__par_segment(off, cnt, len, dgm__par_rank());
    dgm__par_shm_fence(s);
    if (n > 0)
        sum_all(&t, 0, n, 0, *off, *cnt);
}

dgm_status dgm__par_tree_sum_seg_f(float *const *bufs, size_t n, size_t len, size_t *off,
                                   size_t *cnt, dgm_err *err)
{
    return tree_sum_seg((void *const *)bufs, n, len, 0, off, cnt, err);
}

dgm_status dgm__par_tree_sum_f(float *const *bufs, size_t n, size_t len, dgm_err *err)
{
    (void)err;
    return tree_sum((void *const *)bufs, n, len, 0);
}

dgm_status dgm__par_tree_sum_d(double *const *bufs, size_t n, size_t len, dgm_err *err)
{
    (void)err;
    return tree_sum((void *const *)bufs, n, len, 1);
}
