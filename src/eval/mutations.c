/* Mutation effects from protein-family models: parsing "H24A" / "H24A:G25C" against the
 * focus sequence, reading deep-mutational-scan tables, and scoring each mutant as the
 * change in (expected) log-likelihood from the wild type. Reference: Riesselman et al.,
 * Nature Methods 2018, "Mutation effect prediction": the effect is E ELBO(mutant) -
 * E ELBO(wild type); for an exact model it is log p(mutant) - log p(wild type) (Hopf et al.
 * 2017). Left out: insertions and deletions, and mutant syntaxes other than
 * <wt letter><residue number><new letter> joined by ':'. */
#include "models/seq/seqfamily.h"
#include "par/par.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

static int aa20(int c)
{
    int a = isupper(c) ? dgm_aa_index(c) : -1;
    return a >= 0 && a < DGM_AA_N ? a : -1;
}

dgm_status dgm_mutant_parse(dgm_mutant *out, const char *text, const dgm_seqfocus *f,
                            const char *file, size_t line, size_t col, dgm_err *err)
{
    memset(out, 0, sizeof *out);
    out->scorable = 1;
    size_t lead = 0, len = strlen(text);
    while (lead < len && isspace((unsigned char)text[lead]))
        lead++;
    while (len > lead && isspace((unsigned char)text[len - 1]))
        len--;
    const char *t = text + lead;
    len -= lead;
    if ((len == 2 && !strncasecmp(t, "wt", 2)) || (len == 3 && !strncasecmp(t, "_wt", 3)))
        return DGM_OK; /* the wild type itself: no substitutions */
    long nres = (long)strlen(f->residues);
    size_t i = 0;
    while (i <= len) {
        size_t a = i, b = i;
        while (b < len && t[b] != ':')
            b++;
        /* one substitution in t[a..b): letter, digits, letter */
        size_t k = a + 1;
        while (k < b && isdigit((unsigned char)t[k]))
            k++;
        int wt = b > a ? aa20((unsigned char)t[a]) : -1;
        int mt = k + 1 == b ? aa20((unsigned char)t[k]) : -1;
        size_t ch = col + lead + a;
        if (wt < 0 || k == a + 1 || k - a > 10 || mt < 0)
            return dgm_errf(err, DGM_ERR_FORMAT, "%s:%zu:%zu: unknown mutation syntax '%.*s' "
                            "(expected a wild-type letter, a residue number and one of the 20 "
                            "amino acids, like H24A, joined by ':' for multi-mutants)", file, line,
                            ch, (int)(b - a), t + a);
        if (out->n == DGM_MUT_MAX)
            return dgm_errf(err, DGM_ERR_ARG, "%s:%zu:%zu: more than %d substitutions in one "
                            "mutant", file, line, ch, DGM_MUT_MAX);
        long r = strtol(t + a + 1, NULL, 10);
        if (r < f->start || r >= f->start + nres)
            return dgm_errf(err, DGM_ERR_ARG, "%s:%zu:%zu: position %ld in '%.*s' is outside the "
                            "focus sequence %s (%ld-%ld)", file, line, ch + 1, r, (int)(b - a),
                            t + a, f->name, f->start, f->start + nres - 1);
        char have = f->residues[r - f->start];
        if (have != t[a])
            return dgm_errf(err, DGM_ERR_ARG, "%s:%zu:%zu: wild-type letter '%c' in '%.*s' does "
                            "not match the focus sequence %s, which has '%c' at %ld", file, line,
                            ch, t[a], (int)(b - a), t + a, f->name, have, r);
        for (size_t s = 0; s < out->n; s++)
            if (out->resnum[s] == r)
                return dgm_errf(err, DGM_ERR_ARG, "%s:%zu:%zu: position %ld appears twice in "
                                "one mutant", file, line, ch + 1, r);
        size_t c = f->L;
        for (size_t j = 0; j < f->L; j++)
            if (f->pos[j] == r)
                c = j;
        if (c == f->L)
            out->scorable = 0; /* a residue outside the model's columns (insert state) */
        out->resnum[out->n] = r;
        out->col[out->n] = c;
        out->aa[out->n] = (uint8_t)mt;
        out->n++;
        i = b + 1;
    }
    return DGM_OK;
}

void dgm_mutant_apply(uint8_t *seq, const dgm_mutant *mut, const dgm_seqfocus *f)
{
    memcpy(seq, f->wt, f->L);
    for (size_t s = 0; s < mut->n; s++)
        if (mut->col[s] < f->L)
            seq[mut->col[s]] = mut->aa[s];
}

// ---------------------------------------------------------------------------- DMS tables

void dgm_dms_free(dgm_dms *d)
{
    if (!d)
        return;
    if (d->mutant)
        for (size_t i = 0; i < d->n; i++)
            free(d->mutant[i]);
    free(d->mutant);
    free(d->value);
    free(d->line);
    free(d->mut_col);
    memset(d, 0, sizeof *d);
}

/* Splits line s (not modified) into at most max fields by sep; start[k] and len[k] give
 * field k without surrounding quotes. Returns the field count. */
static size_t split(const char *s, size_t n, char sep, size_t *start, size_t *len, size_t max)
{
    size_t k = 0, a = 0;
    for (size_t i = 0; i <= n && k < max; i++) {
        if (i < n && s[i] != sep)
            continue;
        size_t b = i;
        while (a < b && isspace((unsigned char)s[a]))
            a++;
        while (b > a && isspace((unsigned char)s[b - 1]))
            b--;
        if (b - a >= 2 && s[a] == '"' && s[b - 1] == '"')
            a++, b--;
        start[k] = a;
        len[k++] = b - a;
        a = i + 1;
    }
    return k;
}

#define MAX_FIELDS 512

dgm_status dgm_dms_read(dgm_dms *out, const char *path, const char *column, dgm_err *err)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return dgm_errf(err, DGM_ERR_IO, "%s: cannot open", path);
    char *buf = NULL;
    size_t cap = 0, line = 0, nrow_cap = 0;
    long mcol = -1, vcol = -1;
    char sep = ',';
    size_t st[MAX_FIELDS], ln[MAX_FIELDS];
    dgm_status s = DGM_OK;
    ssize_t got;
    while ((got = getline(&buf, &cap, fp)) >= 0) {
        line++;
        size_t n = (size_t)got;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        if (n == 0 || buf[0] == '#')
            continue;
        if (mcol < 0) { /* header */
            if (!memchr(buf, ',', n) && memchr(buf, '\t', n))
                sep = '\t';
            size_t k = split(buf, n, sep, st, ln, MAX_FIELDS);
            mcol = 0;
            for (size_t j = 0; j < k; j++) {
                if (ln[j] == 6 && !strncasecmp(buf + st[j], "mutant", 6))
                    mcol = (long)j;
                if (column && ln[j] == strlen(column) && !strncmp(buf + st[j], column, ln[j]))
                    vcol = (long)j;
            }
            if (column && vcol < 0) {
                s = dgm_errf(err, DGM_ERR_ARG, "%s:%zu: no column '%s' in the header", path,
                             line, column);
                break;
            }
            continue;
        }
        size_t k = split(buf, n, sep, st, ln, MAX_FIELDS);
        if ((long)k <= mcol || (vcol >= 0 && (long)k <= vcol)) {
            s = dgm_errf(err, DGM_ERR_FORMAT, "%s:%zu:%zu: only %zu fields, the header has more",
                         path, line, n + 1, k);
            break;
        }
        if (out->n == nrow_cap) {
            size_t c = nrow_cap ? nrow_cap * 2 : 1024;
            char **m = realloc(out->mutant, c * sizeof *m);
            if (m)
                out->mutant = m;
            double *v = realloc(out->value, c * sizeof *v);
            if (v)
                out->value = v;
            size_t *l = realloc(out->line, c * sizeof *l);
            if (l)
                out->line = l;
            size_t *mc = realloc(out->mut_col, c * sizeof *mc);
            if (mc)
                out->mut_col = mc;
            if (!m || !v || !l || !mc) {
                s = dgm_errf(err, DGM_ERR_NOMEM, "%s:%zu: out of memory", path, line);
                break;
            }
            nrow_cap = c;
        }
        size_t i = out->n;
        out->mutant[i] = strndup(buf + st[mcol], ln[mcol]);
        if (!out->mutant[i]) {
            s = dgm_errf(err, DGM_ERR_NOMEM, "%s:%zu: out of memory", path, line);
            break;
        }
        out->line[i] = line;
        out->mut_col[i] = st[mcol] + 1;
        out->value[i] = NAN;
        if (vcol >= 0 && ln[vcol] > 0) {
            char tmp[64], *end;
            snprintf(tmp, sizeof tmp, "%.*s", (int)(ln[vcol] < 63 ? ln[vcol] : 63), buf + st[vcol]);
            double v = strtod(tmp, &end);
            if (end != tmp && *end == '\0')
                out->value[i] = v; /* anything else (NA, nan, text) stays missing */
        }
        out->n++;
    }
    free(buf);
    fclose(fp);
    if (!s && mcol < 0)
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s:1:1: empty table: no header", path);
    if (s)
        dgm_dms_free(out);
    return s;
}

// ------------------------------------------------------------------------------- scoring

/* A Potts model: E(mutant) - E(wild type) (Hopf et al. 2017), exact, so se = 0. */
static dgm_status potts_effects(const dgm_model *m, double *delta, double *se,
                                const uint8_t *seqs, size_t n, dgm_err *err)
{
    dgm_seqfocus f;
    double ewt;
    dgm_status s = dgm_model_seqfocus(&f, m, err);
    if (!s)
        s = dgm_potts_energy(&ewt, m, f.wt, 1, err);
    if (!s && n)
        s = dgm_potts_energy(delta, m, seqs, n, err);
    for (size_t i = 0; !s && i < n; i++) {
        delta[i] -= ewt;
        se[i] = 0.0;
    }
    return s;
}

dgm_status dgm_mutation_effects(dgm_model *m, dgm_rng *rng, double *delta, double *se,
                                const uint8_t *seqs, size_t n, int samples, dgm_err *err)
{
    return dgm_mutation_effects_progress(m, rng, delta, se, seqs, n, samples, NULL, NULL, err);
}

dgm_status dgm_mutation_effects_progress(dgm_model *m, dgm_rng *rng, double *delta,
                                         double *se, const uint8_t *seqs, size_t n,
                                         int samples, dgm_progress_fn progress, void *ctx,
                                         dgm_err *err)
{
    if (!strcmp(dgm_model_type(m), "potts"))
        return potts_effects(m, delta, se, seqs, n, err);
    /* the focus of any protein-family model, also of a family outside seq/ (made) */
    dgm_seqfocus fo;
    if (dgm_model_seqfocus(&fo, m, NULL))
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "a %s model cannot score mutations: it is "
                        "not a protein-family model", dgm_model_type(m));
    for (size_t i = 0; i < n * fo.L; i++)
        if (seqs[i] > DGM_AA_GAP)
            return dgm_errf(err, DGM_ERR_ARG, "mutant %zu has letter index %d", i / fo.L,
                            seqs[i]);
    if (m->ops == &dgm__seqvae_ops)
        return dgm__seqvae_effects(m, rng, delta, se, seqs, n, samples, progress, ctx, err);
    if (!dgm_model_exact(m))
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "mutation effects for %s models",
                        dgm_model_type(m));
    /* Exact models: log p(mutant) - log p(wt), in chunks to bound the one-hot buffer. */
    size_t L = fo.L, D = L * DGM_AA_N, chunk = 256;
    float *x = dgm_malloc_array(chunk, D * sizeof *x);
    double *lp = dgm_malloc_array(chunk, sizeof *lp), lwt;
    dgm_status s = DGM_OK;
    if (!x || !lp)
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory scoring %zu mutants", n);
    if (!s) {
        dgm_seq_onehot(x, fo.wt, 1, L);
        s = dgm_model_log_prob(m, rng, &lwt, x, NULL, 1, 1, err);
    }
    /* under mpirun each rank scores its chunks, then shares them */
    size_t r0, r1;
    dgm__par_rows_mine(&r0, &r1, n, chunk);
    for (size_t a = r0; !s && a < r1; a += chunk) {
        size_t b = a + chunk < n ? a + chunk : n;
        dgm_seq_onehot(x, seqs + a * L, b - a, L);
        s = dgm_model_log_prob(m, rng, lp, x, NULL, b - a, 1, err);
        for (size_t i = a; !s && i < b; i++) {
            delta[i] = lp[i - a] - lwt;
            se[i] = 0.0;
        }
        if (progress && !s)
            progress(ctx, b - r0, r1 - r0);
    }
    if (!(s = dgm__par_agree(s, err))) {
        dgm__par_share_rows(delta, n, chunk, sizeof *delta);
        dgm__par_share_rows(se, n, chunk, sizeof *se);
    }
    free(x);
    free(lp);
    return s;
}
