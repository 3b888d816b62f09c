/* Matrix output in three interchange formats, each written atomically:
 *   NPY  — format 1.0 of numpy.lib.format: magic "\x93NUMPY", version 1 0, a 2-byte
 *          little-endian header length, a Python dict literal {'descr': '<f4',
 *          'fortran_order': False, 'shape': (rows, cols), } padded with spaces and a
 *          final '\n' so that the data starts at a multiple of 64 bytes (the spec's
 *          alignment), then the little-endian float32 data.
 *   CSV  — rows of comma-separated %.9g values (9 significant digits round-trip a float).
 *   IDX  — LeCun's MNIST format: magic 0x00000803 (u8, 3-D (rows, h, w)) or 0x00000802
 *          (u8, 2-D (rows, w) when h == 0), big-endian 32-bit sizes, then round(255 x)
 *          clamped to 0..255.
 * Left out: NPY v2.0 headers (only needed past 65,535 header bytes), CSV headers. */
#include "dgm.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PATH_TMP 4096

static dgm_status finish(FILE *f, const char *tmp, const char *path, int ok, dgm_err *err)
{
    if (!ok) {
        int e = errno;
        dgm_atomic_abort(f, tmp);
        return dgm_errf(err, DGM_ERR_IO, "%s: write failed: %s", path,
                        e ? strerror(e) : "i/o error");
    }
    return dgm_atomic_commit(f, tmp, path, err);
}

static int host_big_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 0;
}

dgm_status dgm_npy_write(const char *path, const float *x, size_t rows, size_t cols,
                         dgm_err *err)
{
    char dict[160];
    int len = snprintf(dict, sizeof dict,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows,
                       cols);
    /* magic (6) + version (2) + length (2) + dict + padding + '\n' = multiple of 64 */
    size_t total = (10 + (size_t)len + 1 + 63) / 64 * 64, hlen = total - 10;
    char hdr[256];
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (char)(hlen & 0xff);
    hdr[9] = (char)(hlen >> 8);
    memcpy(hdr + 10, dict, (size_t)len);
    memset(hdr + 10 + len, ' ', hlen - (size_t)len - 1);
    hdr[total - 1] = '\n';

    size_t n;
    if (!dgm_size_mul(&n, rows, cols))
        return dgm_errf(err, DGM_ERR_ARG, "%s: %zu x %zu is too large", path, rows, cols);
    char tmp[PATH_TMP];
    FILE *f = dgm_atomic_open(path, tmp, sizeof tmp, err);
    if (!f)
        return err ? err->code : DGM_ERR_IO;
    int ok = fwrite(hdr, 1, total, f) == total;
    if (!host_big_endian()) {
        ok = ok && (n == 0 || fwrite(x, sizeof *x, n, f) == n);
    } else {
        for (size_t i = 0; ok && i < n; i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8),
                                  (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
            ok = fwrite(b, 1, 4, f) == 4;
        }
    }
    return finish(f, tmp, path, ok, err);
}

dgm_status dgm_csv_write(const char *path, const float *x, size_t rows, size_t cols,
                         dgm_err *err)
{
    char tmp[PATH_TMP];
    FILE *f = dgm_atomic_open(path, tmp, sizeof tmp, err);
    if (!f)
        return err ? err->code : DGM_ERR_IO;
    int ok = 1;
    for (size_t r = 0; ok && r < rows; r++) {
        for (size_t c = 0; ok && c < cols; c++)
            ok = fprintf(f, c ? ",%.9g" : "%.9g", (double)x[r * cols + c]) > 0;
        ok = ok && fputc('\n', f) != EOF;
    }
    return finish(f, tmp, path, ok, err);
}

static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

dgm_status dgm_idx_write(const char *path, const float *x, size_t rows, size_t h, size_t w,
                         dgm_err *err)
{
    size_t cols = h ? h * w : w, n;
    if (w == 0)
        return dgm_errf(err, DGM_ERR_ARG, "%s: IDX output needs a row width (w = 0; pass h = 0, "
                        "w = columns for data that are not images)", path);
    if (rows > UINT32_MAX || h > UINT32_MAX || w > UINT32_MAX || (h && cols / h != w) ||
        !dgm_size_mul(&n, rows, cols))
        return dgm_errf(err, DGM_ERR_ARG, "%s: %zu x %zu x %zu does not fit IDX's 32-bit sizes",
                        path, rows, h, w);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return dgm_errf(err, DGM_ERR_NAN, "%s: value %zu (row %zu) is not finite", path, i,
                            i / (cols ? cols : 1));
    unsigned char hdr[16];
    int ndim = h ? 3 : 2;
    put_be32(hdr, 0x00000800u | (uint32_t)ndim);
    put_be32(hdr + 4, (uint32_t)rows);
    put_be32(hdr + 8, (uint32_t)(h ? h : w));
    if (h)
        put_be32(hdr + 12, (uint32_t)w);
    size_t hbytes = 4 + 4 * (size_t)ndim;

    char tmp[PATH_TMP];
    FILE *f = dgm_atomic_open(path, tmp, sizeof tmp, err);
    if (!f)
        return err ? err->code : DGM_ERR_IO;
    int ok = fwrite(hdr, 1, hbytes, f) == hbytes;
    unsigned char buf[4096];
    for (size_t i = 0; ok && i < n; i += sizeof buf) {
        size_t m = n - i < sizeof buf ? n - i : sizeof buf;
        for (size_t j = 0; j < m; j++) {
            float v = 255.0f * x[i + j];
            buf[j] = v <= 0 ? 0 : v >= 255 ? 255 : (unsigned char)lrintf(v);
        }
        ok = fwrite(buf, 1, m, f) == m;
    }
    return finish(f, tmp, path, ok, err);
}
