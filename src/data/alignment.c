/* Protein alignments reduced to their focus columns, as DeepSequence's preprocessing does
 * (Riesselman et al. 2018, Methods "Sequence alignments"; helper.py DataHelper): the first
 * sequence is the focus, columns where it has an upper-case letter or '-' are kept, their
 * letters upper-cased and '.' read as a gap, and sequences with a letter outside the 20
 * amino acids and the gap are dropped. Also: optional gap filters (sequences, then
 * columns), the generic-loader entry dgm__alignment_load, one-hot conversion and FASTA
 * output. Left out: numbering from anything but the focus header's "/start-end", and
 * letters beyond the 20 standard amino acids (X, B, Z, U, O drop a sequence). */
#include "data/alignment.h"
#include "data/alignment_raw.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int dgm_aa_index(int c)
{
    static const char *aa = DGM_AA_ALPHABET;
    if (c == '-' || c == '.')
        return DGM_AA_GAP;
    c = toupper((unsigned char)c);
    for (int i = 0; i < DGM_AA_N; i++)
        if (aa[i] == c)
            return i;
    return -1;
}

dgm_align_cfg dgm_align_defaults(void)
{
    dgm_align_cfg c = {1.0, 1.0};
    return c;
}

/* Match state (A2M) or, equally, focus column when it is the focus row's character. */
static int is_match(char c) { return !islower((unsigned char)c) && c != '.'; }

/* "NAME/24-286 description" -> NAME, 24; without a parsable range the start is 1. A start
 * beyond 10^9 is no residue number (fuzz_a2m: NAME/9223372036854775807- overflowed the
 * residue numbers counted from it) and leaves the header unparsed too. */
static void parse_focus_header(const char *hdr, char *name, size_t cap, long *start)
{
    size_t n = strcspn(hdr, " \t");
    const char *slash = memchr(hdr, '/', n);
    *start = 1;
    if (slash) {
        char *end;
        long s = strtol(slash + 1, &end, 10);
        if (end > slash + 1 && *end == '-' && s >= 0 && s <= 1000000000L) {
            *start = s;
            n = (size_t)(slash - hdr);
        }
    }
    snprintf(name, cap, "%.*s", (int)n, hdr);
}

void dgm_alignment_free(dgm_alignment *a)
{
    if (!a)
        return;
    if (a->names)
        for (size_t i = 0; i < a->n; i++)
            free(a->names[i]);
    free(a->names);
    free(a->seq);
    free(a->pos);
    free(a->focus_residues);
    memset(a, 0, sizeof *a);
}

/* Finds, for row i of an A2M whose rows differ in width, the row index of each of its Lf
 * match states (cols); fails with a file:line:char message if it has more or fewer. */
static dgm_status match_columns(size_t *cols, const dgm__aln_row *r, size_t Lf,
                                const char *path, dgm_err *err)
{
    size_t j = 0, k;
    for (k = 0; k < r->len; k++) {
        if (!is_match(r->text[k]))
            continue;
        if (j == Lf)
            break;
        cols[j++] = k;
    }
    if (j < Lf || k < r->len) {
        size_t line, col;
        dgm__aln_locate(r, j < Lf ? r->len : k, &line, &col);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s:%zu:%zu: ragged alignment: sequence '%s' has "
                        "%s %zu aligned (match) columns, the focus has %zu", path, line, col,
                        r->name, j < Lf ? "only" : "more than", j, Lf);
    }
    return DGM_OK;
}

static dgm_status build(dgm_alignment *out, const dgm__aln_raw *raw, const dgm_align_cfg *cfg,
                        const char *path, dgm_err *err)
{
    const dgm__aln_row *f = &raw->row[0];
    size_t W = f->len, line, col;
    int column_mode = 1;
    for (size_t i = 1; i < raw->n; i++)
        if (raw->row[i].len != W)
            column_mode = 0;
    for (size_t i = 1; !column_mode && raw->stockholm && i < raw->n; i++) {
        const dgm__aln_row *r = &raw->row[i];
        if (r->len == W)
            continue;
        dgm__aln_locate(r, r->len < W ? r->len : W, &line, &col);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s:%zu:%zu: ragged alignment: sequence '%s' has "
                        "%zu columns, the first has %zu", path, line, col, r->name, r->len, W);
    }
    size_t Lf = 0;
    for (size_t k = 0; k < W; k++)
        Lf += is_match(f->text[k]);
    if (Lf == 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s:%zu:1: empty alignment: the focus sequence '%s' "
                        "has no focus (upper-case or '-') columns", path, f->line, f->name);
    dgm_status s = DGM_ERR_NOMEM;
    size_t *fcols = dgm_malloc_array(Lf, sizeof *fcols);
    size_t *cols = dgm_malloc_array(Lf, sizeof *cols);
    uint8_t *tmp = dgm_malloc_array(raw->n, Lf);
    size_t *keep = dgm_malloc_array(raw->n, sizeof *keep);
    size_t *colgaps = dgm_calloc_array(Lf, sizeof *colgaps);
    out->pos = dgm_malloc_array(Lf, sizeof *out->pos);
    out->focus_residues = malloc(W + 1);
    if (!fcols || !cols || !tmp || !keep || !colgaps || !out->pos || !out->focus_residues) {
        dgm_errf(err, s, "%s: out of memory for %zu sequences", path, raw->n);
        goto done;
    }
    size_t nres = 0;
    for (size_t k = 0, j = 0; k < W; k++) {
        char c = f->text[k];
        if (is_match(c)) {
            out->pos[j] = isalpha((unsigned char)c) ? out->focus_start + (long)nres : -1;
            fcols[j++] = k;
        }
        if (isalpha((unsigned char)c))
            out->focus_residues[nres++] = (char)toupper((unsigned char)c);
    }
    out->focus_residues[nres] = '\0';

    size_t n = 0;
    for (size_t i = 0; i < raw->n; i++) {
        const dgm__aln_row *r = &raw->row[i];
        uint8_t *x = tmp + n * Lf;
        size_t gaps = 0, bad = Lf;
        const size_t *c = fcols;
        if (!column_mode) {
            if ((s = match_columns(cols, r, Lf, path, err)))
                goto done;
            c = cols;
        }
        for (size_t j = 0; j < Lf; j++) {
            int a = dgm_aa_index(r->text[c[j]]);
            if (a < 0) {
                bad = j;
                break;
            }
            x[j] = (uint8_t)a;
            gaps += a == DGM_AA_GAP;
        }
        if (bad < Lf && i == 0) {
            dgm__aln_locate(r, c[bad], &line, &col);
            s = dgm_errf(err, DGM_ERR_FORMAT, "%s:%zu:%zu: the focus sequence '%s' has '%c' in "
                         "a focus column: outside the alphabet %s", path, line, col, r->name,
                         r->text[c[bad]], DGM_AA_ALPHABET);
            goto done;
        }
        if (bad < Lf) {
            out->n_bad_letter++;
            continue;
        }
        if (i > 0 && (double)gaps > cfg->max_seq_gap * (double)Lf) {
            out->n_gappy++;
            continue;
        }
        keep[n++] = i;
        for (size_t j = 0; j < Lf; j++)
            colgaps[j] += x[j] == DGM_AA_GAP;
    }
    size_t L = 0;
    for (size_t j = 0; j < Lf; j++)
        if ((double)colgaps[j] <= cfg->max_col_gap * (double)n)
            fcols[L++] = j; /* reused: kept focus-column indices */
    if (L == 0) {
        s = dgm_errf(err, DGM_ERR_ARG, "%s: every focus column has more than %g gaps: nothing "
                     "left (raise the column gap limit)", path, cfg->max_col_gap);
        goto done;
    }
    out->seq = dgm_malloc_array(n, L);
    out->names = dgm_calloc_array(n, sizeof *out->names);
    if (!out->seq || !out->names) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu sequences", path, n);
        goto done;
    }
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < L; j++)
            out->seq[i * L + j] = tmp[i * Lf + fcols[j]];
        if (!(out->names[i] = strdup(raw->row[keep[i]].name))) {
            s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
    }
    for (size_t j = 0; j < L; j++)
        out->pos[j] = out->pos[fcols[j]];
    out->L = L;
    out->L_focus = Lf;
    s = DGM_OK;
done:
    free(fcols);
    free(cols);
    free(tmp);
    free(keep);
    free(colgaps);
    return s;
}

dgm_status dgm_alignment_read(dgm_alignment *out, const char *path, const dgm_align_cfg *cfg,
                              dgm_err *err)
{
    memset(out, 0, sizeof *out);
    dgm_align_cfg def = dgm_align_defaults();
    if (!cfg)
        cfg = &def;
    if (!(cfg->max_seq_gap >= 0 && cfg->max_seq_gap <= 1 && cfg->max_col_gap >= 0 &&
          cfg->max_col_gap <= 1))
        return dgm_errf(err, DGM_ERR_ARG, "%s: gap-fraction limits must lie in [0, 1]", path);
    char *text;
    size_t len;
    dgm_status s = dgm__read_text(&text, &len, path, err);
    if (s)
        return s;
    dgm__aln_raw raw = {0};
    s = dgm__is_stockholm(text) ? dgm__stockholm_parse(&raw, text, path, err)
                                : dgm__fasta_parse(&raw, text, path, err);
    free(text);
    if (!s && raw.n == 0)
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s:%zu:1: empty alignment: no sequences", path,
                     raw.n_lines ? raw.n_lines : 1);
    if (!s) {
        snprintf(out->source, sizeof out->source, "%s", path);
        out->n_read = raw.n;
        parse_focus_header(raw.row[0].name, out->focus_name, sizeof out->focus_name,
                           &out->focus_start);
        s = build(out, &raw, cfg, path, err);
    }
    dgm__aln_raw_free(&raw);
    if (s)
        dgm_alignment_free(out);
    return s;
}

dgm_status dgm__alignment_load(dgm_dataset *out, const char *path, dgm_err *err)
{
    memset(out, 0, sizeof *out);
    dgm_alignment a;
    dgm_status s = dgm_alignment_read(&a, path, NULL, err);
    if (s)
        return s;
    out->kind = DGM_DATA_SEQ;
    out->n = a.n;
    out->d = a.L;
    out->seq = a.seq;
    out->names = a.names;
    snprintf(out->alphabet, sizeof out->alphabet, "%s", DGM_AA_ALPHABET);
    out->alphabet_size = DGM_AA_N + 1;
    snprintf(out->source, sizeof out->source, "%s", path);
    a.seq = NULL;
    a.names = NULL;
    a.n = 0;
    dgm_alignment_free(&a);
    return DGM_OK;
}

void dgm_seq_onehot(float *out, const uint8_t *seq, size_t n, size_t L)
{
    memset(out, 0, n * L * DGM_AA_N * sizeof *out);
    for (size_t i = 0; i < n * L; i++)
        if (seq[i] < DGM_AA_N)
            out[i * DGM_AA_N + seq[i]] = 1.0f;
}

void dgm_seq_from_onehot(uint8_t *seq, const float *x, size_t n, size_t L)
{
    for (size_t i = 0; i < n * L; i++) {
        const float *b = x + i * DGM_AA_N;
        uint8_t best = DGM_AA_GAP;
        float bv = 0.0f;
        for (int a = 0; a < DGM_AA_N; a++)
            if (b[a] > bv) {
                bv = b[a];
                best = (uint8_t)a;
            }
        seq[i] = best;
    }
}

dgm_status dgm_fasta_write(const char *path, const uint8_t *seq, size_t n, size_t L,
                           const char *const *names, dgm_err *err)
{
    char tmp[4096 + 32];
    if (strlen(path) + 32 > sizeof tmp)
        return dgm_errf(err, DGM_ERR_ARG, "%s: path too long", path);
    FILE *f = dgm_atomic_open(path, tmp, sizeof tmp, err);
    if (!f)
        return err ? err->code : DGM_ERR_IO;
    for (size_t i = 0; i < n; i++) {
        if (names)
            fprintf(f, ">%s\n", names[i]);
        else
            fprintf(f, ">seq%zu\n", i + 1);
        for (size_t j = 0; j < L; j++) {
            fputc(DGM_AA_ALPHABET[seq[i * L + j] <= DGM_AA_GAP ? seq[i * L + j] : DGM_AA_GAP], f);
            if ((j + 1) % 60 == 0 || j + 1 == L)
                fputc('\n', f);
        }
    }
    return dgm_atomic_commit(f, tmp, path, err);
}
