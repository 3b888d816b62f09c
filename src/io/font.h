/* Text for figure labels (src/io/font.c). */
#ifndef DGM_IO_FONT_H
#define DGM_IO_FONT_H

#include <stddef.h>
#include <stdint.h>

#define DGM_FONT_ADVANCE 6 /* 5 columns and a space */
#define DGM_FONT_HEIGHT 7

size_t dgm__text_width(const char *s, int scale);
/* Draws s into a grayscale image (h x w bytes) with its top-left corner at (x0, y0);
 * pixels outside the image are clipped. */
void dgm__draw_text(uint8_t *img, size_t h, size_t w, size_t x0, size_t y0, const char *s,
                    int scale, uint8_t value);

#endif
