/* Sequences aligned to someone else's columns: a generator's samples, or held-out natural
 * sequences, read against a reference that fixes the number of columns L. Every row must
 * have exactly L match states (A2M: upper-case letters and '-'; lower-case letters and
 * '.' are insert states and dropped), so plain aligned FASTA of width L and an A2M of the
 * reference's family both read. There is no focus row: the first sequence is like any
 * other. Rows with a letter outside the alphabet are counted and dropped, as training
 * drops them; a row of another length is an error naming file and line.
 * Left out: re-aligning sequences (they must already be in the reference's columns). */
#include "data/alignment_raw.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int is_match(char c) { return !islower((unsigned char)c) && c != '.'; }

static int looks_aligned(const char *t)
{
    while (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')
        t++;
    return *t == '>' || dgm__is_stockholm(t);
}

dgm_status dgm_alignment_read_columns(uint8_t **seq, size_t *n, size_t *n_bad, const char *path,
                                      size_t L, dgm_err *err)
{
    *seq = NULL;
    *n = 0;
    *n_bad = 0;
    char *text;
    size_t len;
    dgm_status s = dgm__read_text(&text, &len, path, err);
    if (s)
        return s;
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", text[i]))
        i++;
    if (i == len) {
        free(text);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: empty file: no sequences", path);
    }
    if (!looks_aligned(text)) {
        free(text);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: not an alignment (FASTA/A2M or Stockholm), "
                        "as the reference is", path);
    }
    dgm__aln_raw raw = {0};
    s = dgm__is_stockholm(text + i) ? dgm__stockholm_parse(&raw, text, path, err)
                                    : dgm__fasta_parse(&raw, text, path, err);
    free(text);
    if (!s && raw.n == 0)
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s: empty alignment: no sequences", path);
    uint8_t *out = NULL;
    if (!s && !(out = dgm_malloc_array(raw.n, L)))
        s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu sequences", path, raw.n);
    size_t kept = 0;
    for (size_t r = 0; !s && r < raw.n; r++) {
        const dgm__aln_row *row = &raw.row[r];
        uint8_t *x = out + kept * L;
        size_t j = 0;
        int bad = 0;
        for (size_t k = 0; k < row->len; k++) {
            if (!is_match(row->text[k]))
                continue;
            int a = dgm_aa_index(row->text[k]);
            bad |= a < 0;
            if (j < L)
                x[j] = (uint8_t)(a < 0 ? 0 : a);
            j++;
        }
        if (j != L) {
            s = dgm_errf(err, DGM_ERR_SHAPE, "%s:%zu: sequence '%s' has %zu aligned columns, the "
                         "reference has %zu", path, row->line, row->name, j, L);
            break;
        }
        if (bad)
            ++*n_bad;
        else
            kept++;
    }
    if (!s && kept == 0)
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s: all %zu sequences have letters outside the "
                     "alphabet %s: nothing left", path, raw.n, DGM_AA_ALPHABET);
    dgm__aln_raw_free(&raw);
    if (s) {
        free(out);
        *n_bad = 0;
        return s;
    }
    *seq = out;
    *n = kept;
    return DGM_OK;
}
