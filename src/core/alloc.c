/* Overflow-checked allocation (the stb habit: check n*size before every malloc). */
#include "dgm.h"

#include <stdlib.h>

int dgm_size_mul(size_t *out, size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

void *dgm_malloc_array(size_t n, size_t size)
{
    size_t bytes;
    if (!dgm_size_mul(&bytes, n, size))
        return NULL;
    return malloc(bytes ? bytes : 1);
}

void *dgm_calloc_array(size_t n, size_t size)
{
    size_t bytes;
    if (!dgm_size_mul(&bytes, n, size))
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void dgm_free(void *p) { free(p); }
