/* An image grid with a text label at the left of each row (class names beside the rows
 * of a conditional sample grid): white text on a black margin, then the images with a
 * 1-pixel separator, written through dgm_png_write_rgb. */
#include "dgm.h"
#include "io/font.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dgm_status dgm_png_write_grid_labeled(const char *path, const float *img, size_t n, size_t h,
                                      size_t w, size_t cols, const char *const *labels,
                                      size_t n_labels, dgm_err *err)
{
    if (!n || !h || !w || !cols)
        return dgm_errf(err, DGM_ERR_ARG, "%s: an image grid needs n, h, w and cols > 0", path);
    size_t rows = (n + cols - 1) / cols;
    int scale = h >= 2 * DGM_FONT_HEIGHT + 4 ? 2 : 1;
    size_t margin = 0;
    for (size_t i = 0; i < n_labels && i < rows; i++) {
        size_t tw = labels[i] ? dgm__text_width(labels[i], scale) : 0;
        if (tw + 8 > margin)
            margin = tw + 8;
    }
    size_t H = rows * (h + 1) + 1, W = margin + cols * (w + 1) + 1, npx;
    if (!dgm_size_mul(&npx, H, W) || npx > ((size_t)1 << 31))
        return dgm_errf(err, DGM_ERR_ARG, "%s: the grid would be too large (%zu x %zu)", path, H, W);
    uint8_t *g = calloc(npx, 1), *rgb = malloc(npx * 3);
    if (!g || !rgb) {
        free(g);
        free(rgb);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    }
    memset(g + 0, 0, npx);
    for (size_t i = 0; i < n; i++) {
        size_t r = i / cols, c = i % cols;
        for (size_t y = 0; y < h; y++)
            for (size_t x = 0; x < w; x++) {
                float v = img[i * h * w + y * w + x];
                v = isfinite(v) ? (v < 0 ? 0 : v > 1 ? 1 : v) : 0;
                g[(1 + r * (h + 1) + y) * W + margin + 1 + c * (w + 1) + x] = (uint8_t)lrintf(v * 255.0f);
            }
    }
    for (size_t r = 0; r < rows && r < n_labels; r++)
        if (labels[r])
            dgm__draw_text(g, H, W, 4, 1 + r * (h + 1) + (h - (size_t)(DGM_FONT_HEIGHT * scale)) / 2,
                           labels[r], scale, 255);
    /* separators in mid-gray so the cells read as a grid */
    for (size_t y = 0; y < H; y++)
        for (size_t x = margin; x < W; x++)
            if ((y % (h + 1)) == 0 || ((x - margin) % (w + 1)) == 0)
                g[y * W + x] = 96;
    for (size_t i = 0; i < npx; i++)
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = g[i];
    dgm_status s = dgm_png_write_rgb(path, rgb, H, W, err);
    free(g);
    free(rgb);
    return s;
}
