/* PNG output with libpng: a grid of grayscale images (torchvision.utils.make_grid /
 * save_image do the same for tensors), and plain RGB images for figures.
 * Reference: libpng manual (libpng-manual.txt), "IV. Writing"; setjmp error handling.
 * Grid layout: cols images per row, a 1-pixel separator between images and around the
 * edge, drawn mid-gray (128) so that it shows on both black and white backgrounds.
 * Left out: colour maps, text chunks, 16-bit depth. */
#include "dgm.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#define GRID_SEP 128

typedef struct {
    char msg[200];
} png_errbuf;

/* libpng reports errors through these; printing is not allowed in the library, so the
 * message is kept for dgm_err and warnings are dropped. */
static void on_error(png_structp png, png_const_charp msg)
{
    png_errbuf *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Writes h rows of w pixels (channels bytes each) from pix to path, atomically. */
static dgm_status write_png(const char *path, const uint8_t *pix, size_t h, size_t w,
                            int color_type, size_t channels, dgm_err *err)
{
    if (h == 0 || w == 0 || h > 0x7fffffff || w > 0x7fffffff / channels)
        return dgm_errf(err, DGM_ERR_ARG, "%s: a PNG of %zu x %zu pixels cannot be written",
                        path, h, w);
    png_bytep *rows = dgm_malloc_array(h, sizeof *rows);
    if (!rows)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    for (size_t r = 0; r < h; r++)
        rows[r] = (png_bytep)(pix + r * w * channels);

    char tmp[4096];
    FILE *f = dgm_atomic_open(path, tmp, sizeof tmp, err);
    if (!f) {
        free(rows);
        return err ? err->code : DGM_ERR_IO;
    }
    png_errbuf ebuf = {""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ebuf, on_error,
                                              on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        dgm_atomic_abort(f, tmp);
        free(rows);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory in libpng", path);
    }
    /* Nothing that is read after a longjmp is modified between here and the png_ calls,
     * so no variable needs to be volatile. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        dgm_atomic_abort(f, tmp);
        free(rows);
        return dgm_errf(err, DGM_ERR_IO, "%s: libpng: %s", path, ebuf.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return dgm_atomic_commit(f, tmp, path, err);
}

static uint8_t to_byte(float v)
{
    if (!(v > 0.0f)) /* NaN lands here too */
        return 0;
    if (v >= 1.0f)
        return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

dgm_status dgm_png_write_grid(const char *path, const float *img, size_t n, size_t h,
                              size_t w, size_t cols, dgm_err *err)
{
    if (n == 0 || h == 0 || w == 0 || cols == 0)
        return dgm_errf(err, DGM_ERR_ARG, "%s: an image grid needs n, h, w and cols > 0 "
                        "(got %zu, %zu, %zu, %zu)", path, n, h, w, cols);
    if (cols > n)
        cols = n;
    size_t grid_rows = (n + cols - 1) / cols;
    size_t W, H, npix; /* W = cols (w + 1) + 1: a separator before each image and one last */
    if (h > 0xffffff || w > 0xffffff || !dgm_size_mul(&W, cols, w + 1) ||
        !dgm_size_mul(&H, grid_rows, h + 1) || !dgm_size_mul(&npix, W + 1, H + 1))
        return dgm_errf(err, DGM_ERR_ARG, "%s: image grid too large", path);
    W++;
    H++;
    uint8_t *pix = dgm_malloc_array(npix, 1);
    if (!pix)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for a %zu x %zu grid", path,
                        H, W);
    memset(pix, GRID_SEP, npix);
    for (size_t i = 0; i < n; i++) {
        size_t y0 = 1 + (i / cols) * (h + 1), x0 = 1 + (i % cols) * (w + 1);
        const float *src = img + i * h * w;
        for (size_t r = 0; r < h; r++)
            for (size_t c = 0; c < w; c++)
                pix[(y0 + r) * W + x0 + c] = to_byte(src[r * w + c]);
    }
    dgm_status s = write_png(path, pix, H, W, PNG_COLOR_TYPE_GRAY, 1, err);
    free(pix);
    return s;
}

dgm_status dgm_png_write_rgb(const char *path, const uint8_t *rgb, size_t h, size_t w,
                             dgm_err *err)
{
    return write_png(path, rgb, h, w, PNG_COLOR_TYPE_RGB, 3, err);
}
