/* Whole-file reading shared by the format readers (csv.c, npy.c): the file into one
 * NUL-terminated buffer, with errors that name the path. Its own file, below both the
 * readers and load.c, so that the readers never call up into load.c (format detection).
 * Left out: gzip (IDX reads through zlib itself; FASTA/Stockholm text has dgm__read_text
 * in alignment_fasta.c). */
#include "data/readers.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *dgm__read_file(const char *path, size_t *len, dgm_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        dgm_errf(err, DGM_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1)
            break;
        char *p = cap < SIZE_MAX / 2 ? realloc(buf, 2 * cap) : NULL;
        if (!p) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory reading the file", path);
        return NULL;
    }
    if (bad) {
        free(buf);
        dgm_errf(err, DGM_ERR_IO, "%s: read error", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}
