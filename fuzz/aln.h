/* The alignment harnesses' common body (fuzz_a2m.c, fuzz_stockholm.c): the input as an
 * alignment file, read with dgm_alignment_read (gap filters chosen by the last byte), then
 * weighted, then through dgm_data_load's format detection; the results must agree. */
#ifndef DGM_FUZZ_ALN_H
#define DGM_FUZZ_ALN_H

#include "fuzz.h"

#include <math.h>

static void check_alignment(const dgm_alignment *a)
{
    FUZZ_CHECK(a->n > 0 && a->L > 0 && a->seq && a->names && a->pos && a->focus_residues,
               "n %zu L %zu", a->n, a->L);
    FUZZ_CHECK(a->n <= a->n_read && a->L <= a->L_focus, "n %zu of %zu, L %zu of %zu", a->n,
               a->n_read, a->L, a->L_focus);
    FUZZ_CHECK(a->n + a->n_bad_letter + a->n_gappy == a->n_read, "%zu kept + %zu + %zu != %zu",
               a->n, a->n_bad_letter, a->n_gappy, a->n_read);
    for (size_t i = 0; i < a->n * a->L; i++)
        FUZZ_CHECK(a->seq[i] <= DGM_AA_GAP, "seq[%zu] = %u", i, a->seq[i]);
    size_t nres = strlen(a->focus_residues);
    for (size_t l = 0; l < a->L; l++)
        FUZZ_CHECK(a->pos[l] == -1 || (a->pos[l] >= a->focus_start &&
                                       a->pos[l] < a->focus_start + (long)nres),
                   "pos[%zu] = %ld, residues %ld..%ld", l, a->pos[l], a->focus_start,
                   a->focus_start + (long)nres - 1);
    for (size_t i = 0; i < a->n; i++)
        FUZZ_CHECK(a->names[i] != NULL, "name %zu", i);
}

static int fuzz_alignment_one(const uint8_t *data, size_t size, const char *tag)
{
    const char *path = fuzz_path(0, tag);
    fuzz_write(path, data, size);
    dgm_align_cfg cfg = dgm_align_defaults();
    if (size && data[size - 1] >= 0x80) { /* a byte text rarely ends with: filters on */
        cfg.max_seq_gap = (data[size - 1] & 0x0f) / 15.0;
        cfg.max_col_gap = ((data[size - 1] >> 4) & 0x07) / 7.0;
    }
    dgm_alignment a;
    dgm_err err = {0};
    dgm_status s = dgm_alignment_read(&a, path, &cfg, &err);
    fuzz_check_err(s, &err, path);
    if (s)
        return 0;
    check_alignment(&a);
    if (a.n * a.n * a.L <= (size_t)1 << 22) { /* weights are O(n^2 L) */
        double *w = malloc(a.n * sizeof *w), neff = 0;
        FUZZ_CHECK(w != NULL, "malloc");
        s = dgm_alignment_weights(w, &neff, &a, 0.2, DGM_SEQW_DEEPSEQ, &err);
        fuzz_check_err(s, &err, NULL);
        FUZZ_CHECK(s || (isfinite(neff) && neff > 0 && neff <= (double)a.n + 1e-9),
                   "Neff %g for %zu sequences", neff, a.n);
        free(w);
    }
    if (cfg.max_seq_gap == 1.0 && cfg.max_col_gap == 1.0) {
        dgm_dataset d;
        dgm_err derr = {0};
        dgm_status ds = dgm_data_load(&d, path, NULL, &derr);
        fuzz_check_err(ds, &derr, path);
        FUZZ_CHECK(!ds, "dgm_alignment_read succeeded, dgm_data_load failed: %s", derr.msg);
        FUZZ_CHECK(d.kind == DGM_DATA_SEQ && d.n == a.n && d.d == a.L &&
                   !memcmp(d.seq, a.seq, a.n * a.L), "dgm_data_load read another alignment");
        dgm_data_free(&d);
    }
    dgm_alignment_free(&a);
    return 0;
}

#endif
