/* The parameter store (llm.c's fill_in_parameter_sizes / malloc_and_point_parameters):
 * named tensors registered first, then one allocation each for values, gradients and the
 * two optimizer moments, all in the same layout, so that the optimizer, clipping,
 * checkpointing and gradient checks are flat loops over one buffer. */
#include "dgm_blocks.h"
#include "core/assert.h"
#include "core/par.h"
#include "nn/params.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char   name[96];
    size_t shape[4];
    int    ndim;
    size_t offset, numel;
} tensor_info;

struct dgm_params {
    tensor_info *t;
    int     n, cap;
    size_t  count;
    float  *data, *grad, *m, *v;
    int     borrowed;          /* data and grad belong to another store (dgm__params_share) */
    int     placed;            /* all four live in the caller's memory (dgm__params_place) */
};

dgm_params *dgm_params_create(void) { return calloc(1, sizeof(dgm_params)); }

void dgm_params_free(dgm_params *p)
{
    if (!p)
        return;
    free(p->t);
    if (!p->borrowed && !p->placed) {
        free(p->data);
        free(p->grad);
    }
    if (!p->placed) {
        free(p->m);
        free(p->v);
    }
    free(p);
}

int dgm_params_add(dgm_params *p, const char *name, const size_t *shape, int ndim)
{
    DGM_ASSERT(!p->data && ndim >= 1 && ndim <= 4 && strlen(name) < 96);
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        tensor_info *t = dgm_malloc_array((size_t)cap, sizeof *t);
        if (!t)
            return -1;
        if (p->n)
            memcpy(t, p->t, (size_t)p->n * sizeof *t);
        free(p->t);
        p->t = t;
        p->cap = cap;
    }
    tensor_info *ti = &p->t[p->n];
    memset(ti, 0, sizeof *ti);
    snprintf(ti->name, sizeof ti->name, "%s", name);
    ti->ndim = ndim;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        ti->shape[i] = shape[i];
        if (!dgm_size_mul(&numel, numel, shape[i]))
            return -1;
    }
    ti->numel = numel;
    ti->offset = p->count;
    if (p->count + numel < p->count)
        return -1;
    p->count += numel;
    return p->n++;
}

dgm_status dgm_params_alloc(dgm_params *p, dgm_err *err)
{
    DGM_ASSERT(!p->data);
    p->data = dgm_calloc_array(p->count, sizeof(float));
    p->grad = dgm_calloc_array(p->count, sizeof(float));
    p->m = dgm_calloc_array(p->count, sizeof(float));
    p->v = dgm_calloc_array(p->count, sizeof(float));
    if (!p->data || !p->grad || !p->m || !p->v)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for %zu parameters", p->count);
    return DGM_OK;
}

void dgm__params_share(dgm_params *p, float *data, float *grad)
{
    if (!p->borrowed) {
        free(p->data);
        free(p->grad);
        free(p->m);
        free(p->v);
        p->m = p->v = NULL;
    }
    p->borrowed = 1;
    p->data = data;
    p->grad = grad;
}

float *dgm__params_set_grad(dgm_params *p, float *grad)
{
    float *old = p->grad;
    p->grad = grad;
    return old;
}

size_t dgm__params_stride(const dgm_params *p) { return (p->count + 15) & ~(size_t)15; }

dgm_status dgm__params_place(dgm_params *p, float *mem, int copy, dgm_err *err)
{
    DGM_ASSERT(!p->borrowed && p->data);
    size_t st = dgm__params_stride(p), bytes = p->count * sizeof(float);
    float *own[4] = {NULL, NULL, NULL, NULL}, **cur[4] = {&p->data, &p->grad, &p->m, &p->v};
    if (!mem) {
        for (int i = 0; i < 4; i++)
            if (!(own[i] = dgm_malloc_array(p->count, sizeof(float)))) {
                for (int j = 0; j < i; j++)
                    free(own[j]);
                return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for %zu parameters",
                                p->count);
            }
    }
    for (int i = 0; i < 4; i++) {
        float *to = mem ? mem + (size_t)i * st : own[i];
        if (!mem || copy)
            memcpy(to, *cur[i], bytes);
        if (!p->placed)
            free(*cur[i]);
        *cur[i] = to;
    }
    p->placed = mem != NULL;
    return DGM_OK;
}

dgm_status dgm__params_enter_shm(dgm_params *p, float **bufs, size_t n, dgm__par_shm **out,
                                 dgm_err *err)
{
    size_t st = dgm__params_stride(p), extra = n ? n - 1 : 0;
    dgm_status s = dgm__par_shm_create(out, (4 + extra) * st * sizeof(float), err);
    if (s || !*out)
        return s;
    /* data, grad, m, v, then the buffers: rank 0 fills, the others follow */
    float *mem = dgm__par_shm_base(*out);
    int first = dgm__par_rank() == 0;
    dgm__params_place(p, mem, first, err); /* into memory: cannot fail */
    for (size_t i = 1; i < n; i++)
        bufs[i] = mem + (4 + i - 1) * st;
    if (first)
        memset(mem + 4 * st, 0, extra * st * sizeof(float));
    dgm__par_shm_fence(*out);
    return DGM_OK;
}

void dgm__params_leave_shm(dgm_params *p, dgm__par_shm *s)
{
    dgm_err e;
    if (!dgm__par_any(dgm__params_place(p, NULL, 0, &e) != DGM_OK))
        dgm__par_shm_free(s);
}

size_t dgm_params_count(const dgm_params *p) { return p->count; }
int dgm_params_n_tensors(const dgm_params *p) { return p->n; }
float *dgm_params_data(dgm_params *p) { return p->data; }
float *dgm_params_grad(dgm_params *p) { return p->grad; }
float *dgm_params_m(dgm_params *p) { return p->m; }
float *dgm_params_v(dgm_params *p) { return p->v; }

float *dgm_params_tensor(dgm_params *p, int i)
{
    DGM_ASSERT(i >= 0 && i < p->n && p->data);
    return p->data + p->t[i].offset;
}

float *dgm_params_tensor_grad(dgm_params *p, int i)
{
    DGM_ASSERT(i >= 0 && i < p->n && p->grad);
    return p->grad + p->t[i].offset;
}

const char *dgm_params_name(const dgm_params *p, int i)
{
    DGM_ASSERT(i >= 0 && i < p->n);
    return p->t[i].name;
}

int dgm_params_shape(const dgm_params *p, int i, size_t shape[4])
{
    DGM_ASSERT(i >= 0 && i < p->n);
    memcpy(shape, p->t[i].shape, sizeof p->t[i].shape);
    return p->t[i].ndim;
}

size_t dgm_params_offset(const dgm_params *p, int i)
{
    DGM_ASSERT(i >= 0 && i < p->n);
    return p->t[i].offset;
}

size_t dgm_params_numel(const dgm_params *p, int i)
{
    DGM_ASSERT(i >= 0 && i < p->n);
    return p->t[i].numel;
}

int dgm_params_find(const dgm_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->t[i].name, name))
            return i;
    return -1;
}

void dgm_params_zero_grad(dgm_params *p)
{
    /* in slices over the threads when large: the VAE clears 650k floats every step */
    size_t n = p->count;
#pragma omp parallel if (n >= DGM__PAR_MIN)
    {
        size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
        size_t a = n * id / nt, b = n * (id + 1) / nt;
        memset(p->grad + a, 0, (b - a) * sizeof(float));
    }
}
