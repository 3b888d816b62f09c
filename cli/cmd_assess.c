/* dgm assess REFERENCE SAMPLES...: how close each generator's samples are to real data,
 * one row per sample set, beside a held-out real set scored the same way (--heldout, or
 * --split of the reference). Everything is computed by dgm_assess_* (src/eval/assess_*.c);
 * this file reads the inputs, checks them all before anything is computed or written,
 * and prints the table, the JSON object, the figures and the report. docs/formats.md
 * lists the JSON keys, docs/math.md derives the metrics. */
#include "cli.h"
#include "par/par.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "assess"
#define MAX_SETS 32

typedef struct set {
    const char *path;
    dgm_assess_kind kind;
    uint8_t *seq;     /* sequences: n x L */
    float   *x;       /* vectors: n x d */
    size_t   n, n_bad;
    dgm_dataset ds;
} set;

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void set_free(set *s)
{
    free(s->seq);
    dgm_data_free(&s->ds);
}

/* Sequences aligned to the reference's L columns; the drop count goes to stderr. */
static int read_seqs(set *s, size_t L)
{
    dgm_err err = {0};
    if (dgm_alignment_read_columns(&s->seq, &s->n, &s->n_bad, s->path, L, &err))
        return cli_fail_err(CMD, &err);
    if (s->n_bad)
        fprintf(stderr, "dgm %s: %s: %zu sequences with letters outside %s dropped, %zu kept\n",
                CMD, s->path, s->n_bad, DGM_AA_ALPHABET, s->n);
    return 0;
}

/* Rows of the reference's dimension, in the reference's kind of format. */
static int read_vecs(set *s, const dgm_dataset *ref)
{
    dgm_err err = {0};
    if (dgm_data_load(&s->ds, s->path, NULL, &err))
        return cli_fail_err(CMD, &err);
    if (s->ds.kind != DGM_DATA_REAL)
        return cli_fail(CMD, "%s: an alignment, but the reference %s holds vectors", s->path,
                        ref->source);
    if (s->ds.d != ref->d)
        return cli_fail(CMD, "%s: rows of dimension %zu, the reference %s has %zu", s->path,
                        s->ds.d, ref->source, ref->d);
    if (s->ds.n == 0)
        return cli_fail(CMD, "%s: empty: no rows", s->path);
    s->x = s->ds.x;
    s->n = s->ds.n;
    return 0;
}

/* Posterior means of rows x (n x D) under a VAE's encoder, in batches. */
static float *encode(dgm_model *m, const float *x, size_t n, size_t D, size_t Z, dgm_err *err)
{
    float *mu = dgm_malloc_array(n, Z * sizeof *mu), *lv = dgm_malloc_array(1000, Z * sizeof *lv);
    for (size_t i = 0; mu && lv && i < n; i += 1000) {
        size_t b = n - i < 1000 ? n - i : 1000;
        if (dgm_vae_encode(m, mu + i * Z, lv, x + i * D, NULL, b, err)) {
            free(mu);
            mu = NULL;
        }
    }
    if (!lv && mu) {
        free(mu);
        mu = NULL;
    }
    free(lv);
    return mu;
}

static cJSON *row_json(const dgm_assess_row *r, int kinds)
{
    size_t nm;
    const dgm_assess_metric *m = dgm_assess_metric_list(&nm);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", r->name);
    cJSON_AddStringToObject(j, "kind", r->kind == DGM_ASSESS_HELDOUT ? "heldout" : "samples");
    cJSON_AddNumberToObject(j, "n", (double)r->n);
    cJSON_AddNumberToObject(j, "n_dropped", (double)r->n_dropped);
    cJSON_AddNumberToObject(j, "n_compared", (double)r->n_compared);
    if (kinds == 1)
        cJSON_AddBoolToObject(j, "weighted", r->weighted);
    for (size_t i = 0; i < nm; i++) {
        if (!(m[i].kinds & kinds))
            continue;
        double v = dgm_assess_value(r, &m[i]);
        if (isfinite(v))
            cJSON_AddNumberToObject(j, m[i].key, v);
        else
            cJSON_AddNullToObject(j, m[i].key);
    }
    return j;
}

/* The table: a compact set of columns per kind (the JSON has every metric). */
static const char *const seq_cols[] = {"site_r", "site_slope", "pair_r", "pair_slope",
    "nearest_identity_mean", "nearest_identity_median", "copy_fraction", "near_copy_fraction",
    "identity_mean", "neff_ratio", "precision", "recall", "nn1_accuracy", "nn1_accuracy_reference",
    "nn1_accuracy_samples"};
static const char *const vec_cols[] = {"precision", "recall", "nn1_accuracy", "kl_sr", "kl_rs",
    "mmd2", "mmd_p", "precision_feat", "recall_feat", "nn1_accuracy_feat", "frechet_feat"};

static void print_table(const dgm_assess_row *rows, size_t n, int kinds)
{
    size_t nm, nc = kinds == 1 ? sizeof seq_cols / sizeof *seq_cols
                               : sizeof vec_cols / sizeof *vec_cols;
    const char *const *cols = kinds == 1 ? seq_cols : vec_cols;
    const dgm_assess_metric *m = dgm_assess_metric_list(&nm);
    size_t wname = 4;
    for (size_t r = 0; r < n; r++)
        if (strlen(rows[r].name) > wname)
            wname = strlen(rows[r].name);
    printf("%-*s %-8s %7s", (int)wname, "name", "kind", "n");
    for (size_t c = 0; c < nc; c++)
        for (size_t i = 0; i < nm; i++)
            if (!strcmp(m[i].key, cols[c]))
                printf(" %12s", m[i].heading);
    printf("\n");
    for (size_t r = 0; r < n; r++) {
        printf("%-*s %-8s %7zu", (int)wname, rows[r].name,
               rows[r].kind == DGM_ASSESS_HELDOUT ? "heldout" : "samples", rows[r].n);
        for (size_t c = 0; c < nc; c++)
            for (size_t i = 0; i < nm; i++)
                if (!strcmp(m[i].key, cols[c])) {
                    double v = dgm_assess_value(&rows[r], &m[i]);
                    if (isfinite(v))
                        printf(" %12.4f", v);
                    else
                        printf(" %12s", "-");
                }
        printf("\n");
    }
}

int cmd_assess(int argc, char **argv)
{
    cli_common c;
    cli_common_defaults(&c);
    dgm_assess_cfg cfg = dgm_assess_defaults();
    const char *heldout = NULL, *split = NULL, *figures = NULL, *report = NULL;
    const char *rule = "deepseq", *score_with = NULL, *features = NULL;
    int weight_samples = 0, k = 3, ll_k = 20;
    long n_cmp = 0;
    double theta = cfg.theta;
    cli_opt opts[] = {
        {"--heldout", OPT_STR, &heldout, "FILE", "real data not used for training, scored as a generator", 1, 0},
        {"--split", OPT_STR, &split, "F", "without --heldout: hold out a seeded fraction F in (0, 1) of REFERENCE", 1, 0},
        {"--theta", OPT_DOUBLE, &theta, "T", "sequence weights: neighbours within identity 1 - T", 0, 1},
        {"--weights", OPT_STR, &rule, "RULE", "weights of the reference and held-out sets: deepseq, plmc or none", 1, 0},
        {"--weight-samples", OPT_FLAG, &weight_samples, NULL, "weigh sample sets too (they count 1 each otherwise)", 1, 0},
        {"--neighbours", OPT_INT, &k, "K", "k of the precision and recall balls", 1, 64},
        {"-n", OPT_LONG, &n_cmp, "N", "cap on the equal-sized sets of precision, recall and 1-NN (0: the smaller set)", 0, 1e12},
        {"--figures", OPT_STR, &figures, "DIR", "write PNG figures into DIR", 1, 0},
        {"--report", OPT_STR, &report, "FILE", "write a self-contained HTML report", 1, 0},
        {"--score-with", OPT_STR, &score_with, "MODELS", "comma-separated model files: mean log-likelihood of each set", 1, 0},
        {"--importance-samples", OPT_INT, &ll_k, "K", "importance samples of --score-with latent-variable models", 1, 100000},
        {"--features", OPT_STR, &features, "MODEL", "vectors: a model with an encoder; its posterior means are the feature space", 1, 0},
        CLI_COMMON_OPTS(&c),
        CLI_ALIAS("--k", "--importance-samples"),
    };
    const char *pos[MAX_SETS + 1];
    int npos, rc = cli_parse(CMD, "REFERENCE SAMPLES [SAMPLES...] [options]",
                             "Judge generators' samples against real data: one row per sample set, "
                             "beside a held-out real set (--heldout, or --split of REFERENCE).",
                             argc, argv, opts, sizeof opts / sizeof opts[0], pos, MAX_SETS + 1, &npos);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (npos < 2 && !(npos == 1 && (heldout || split)))
        return cli_fail(CMD, "needs REFERENCE and at least one SAMPLES file (or --heldout/--split)");
    double frac = 0;
    if (split) {
        char *end;
        errno = 0;
        frac = strtod(split, &end);
        if (end == split || *end || !(frac > 0 && frac < 1))
            return cli_usage(CMD, "--split: '%s' is not a fraction in (0, 1)", split);
        if (heldout)
            return cli_usage(CMD, "--split and --heldout exclude each other");
    }
    if (strcmp(rule, "deepseq") && strcmp(rule, "plmc") && strcmp(rule, "none"))
        return cli_usage(CMD, "--weights: '%s' is not deepseq, plmc or none", rule);
    cli_common_apply(&c);
    cfg.theta = theta;
    cfg.rule = strcmp(rule, "plmc") ? DGM_SEQW_DEEPSEQ : DGM_SEQW_PLMC;
    cfg.k = (size_t)k;
    cfg.n_compare = (size_t)n_cmp;
    cfg.seed = (uint64_t)c.seed;
    int weights = strcmp(rule, "none") != 0;

    /* ---- read and check every input before computing anything */
    dgm_err err = {0};
    dgm_dataset ref = {0};
    /* under mpirun every rank reads every input and runs the same steps (the neighbour
     * searches of sequences split their rows over the ranks, assess_hamming.c); a read
     * that fails on any rank stops all of them, and rank 0 alone writes files */
    if (dgm__par_agree(dgm_data_load(&ref, pos[0], NULL, &err), &err))
        return dgm__par_rank() ? 1 : cli_fail_err(CMD, &err);
    int writer = dgm__par_rank() == 0;
    int is_seq = ref.kind == DGM_DATA_SEQ;
    if (features && is_seq) {
        dgm_data_free(&ref);
        return cli_fail(CMD, "--features: %s is an alignment; feature spaces are for vectors", pos[0]);
    }
    set sets[MAX_SETS + 1];
    size_t ns = 0;
    memset(sets, 0, sizeof sets);
    if (heldout)
        sets[ns++] = (set){.path = heldout, .kind = DGM_ASSESS_HELDOUT};
    for (int i = 1; i < npos; i++)
        sets[ns++] = (set){.path = pos[i], .kind = DGM_ASSESS_SAMPLES};
    rc = 0;
    for (size_t i = 0; !rc && i < ns; i++)
        rc = is_seq ? read_seqs(&sets[i], ref.d) : read_vecs(&sets[i], &ref);
    if (!rc && !is_seq && !ref.x)
        rc = cli_fail(CMD, "%s: no rows", pos[0]);
    if (!rc && figures && writer) {
        if (mkdir(figures, 0777) && errno != EEXIST)
            rc = cli_fail(CMD, "%s: %s", figures, strerror(errno));
    }
    rc = dgm__par_any(rc);
    /* the reference, or the part of it not held out */
    size_t nref = ref.n, L = ref.d, nheld = 0;
    uint8_t *rseq = ref.seq;
    float *rx = ref.x;
    uint8_t *hseq = NULL;
    float *hx = NULL;
    size_t *perm = NULL;
    if (!rc && split) {
        perm = dgm_malloc_array(ref.n, sizeof *perm);
        if (!perm)
            rc = cli_fail(CMD, "out of memory");
        else if (dgm_assess_split(perm, &nheld, ref.n, frac, (uint64_t)c.seed, &err))
            rc = cli_fail_err(CMD, &err);
        if (!rc) {
            size_t w = is_seq ? L : ref.d, es = is_seq ? 1 : sizeof(float);
            char *tr = dgm_malloc_array(ref.n, w * es), *ho = tr;
            if (!tr)
                rc = cli_fail(CMD, "out of memory");
            /* held-out rows first, in index order within each part for readability */
            for (size_t i = 0; !rc && i < ref.n; i++) {
                const char *src = is_seq ? (const char *)ref.seq + perm[i] * w
                                         : (const char *)(ref.x + perm[i] * w);
                memcpy(tr + i * w * es, src, w * es);
            }
            if (!rc) {
                (void)ho;
                if (is_seq) {
                    hseq = (uint8_t *)tr;
                    rseq = hseq + nheld * L;
                } else {
                    hx = (float *)tr;
                    rx = hx + nheld * ref.d;
                }
                nref = ref.n - nheld;
            }
        }
    }
    dgm_model *fm = NULL;
    size_t Z = 0;
    float *rfeat = NULL;
    if (!rc && features) {
        if (dgm_model_load(&fm, features, &err))
            rc = cli_fail_err(CMD, &err);
        else if (!dgm_model_is_vae(fm) || dgm_model_n_classes(fm))
            rc = cli_fail(CMD, "--features: %s is a %s model, which has no (unconditional) encoder",
                          features, dgm_model_type(fm));
        else if (dgm_model_dim(fm) != ref.d)
            rc = cli_fail(CMD, "--features: %s encodes %zu dimensions, the reference %s has %zu",
                          features, dgm_model_dim(fm), pos[0], ref.d);
        else if (!(rfeat = encode(fm, rx, nref, ref.d, Z = dgm_vae_config(fm)->latent, &err)))
            rc = err.msg[0] ? cli_fail_err(CMD, &err) : cli_fail(CMD, "out of memory");
    }
    rc = dgm__par_any(rc);
    dgm_assess_ref *ar = NULL;
    if (!rc) {
        dgm_status s = is_seq ? dgm_assess_ref_seq(&ar, rseq, nref, L, weights, &cfg, &err)
                              : dgm_assess_ref_vec(&ar, rx, nref, ref.d, rfeat, Z, &cfg, &err);
        if (s)
            rc = cli_fail_err(CMD, &err);
    }
    if (!rc && is_seq) {
        double neff;
        dgm_assess_ref_entropy(ar, NULL, &neff);
        fprintf(stderr, "dgm %s: reference %s: %zu sequences x %zu columns, Neff %.1f (theta %g, %s)\n",
                CMD, pos[0], nref, L, neff, theta, rule);
    }

    /* ---- score each set */
    size_t nrows = ns + (split ? 1 : 0);
    dgm_assess_row *rows = calloc(nrows ? nrows : 1, sizeof *rows);
    if (!rc && !rows)
        rc = cli_fail(CMD, "out of memory");
    for (size_t r = 0; !rc && r < nrows; r++) {
        dgm_assess_row *row = &rows[r];
        int held = split ? r == 0 : sets[r].kind == DGM_ASSESS_HELDOUT;
        const set *st = split ? (r ? &sets[r - 1] : NULL) : &sets[r];
        if (st)
            snprintf(row->name, sizeof row->name, "%s", base(st->path));
        else
            snprintf(row->name, sizeof row->name, "split %g of %s", frac, base(pos[0]));
        row->kind = held ? DGM_ASSESS_HELDOUT : DGM_ASSESS_SAMPLES;
        size_t n = st ? st->n : nheld;
        float *feat = NULL;
        if (fm && !(feat = encode(fm, st ? st->x : hx, n, ref.d, Z, &err))) {
            rc = err.msg[0] ? cli_fail_err(CMD, &err) : cli_fail(CMD, "out of memory");
            break;
        }
        dgm_status s = is_seq ? dgm_assess_seq(row, ar, st ? st->seq : hseq, n,
                                               held ? weights : weight_samples, &err)
                              : dgm_assess_vec(row, ar, st ? st->x : hx, n, feat, &err);
        free(feat);
        if (s)
            rc = cli_fail_err(CMD, &err);
        else if (st)
            row->n_dropped = st->n_bad;
    }

    /* ---- --score-with: each set's mean log-likelihood (importance-sampled bound for
     * latent-variable models) under each model, with its standard error */
    #define MAX_MODELS 8
    const char *mpath[MAX_MODELS];
    dgm_loglik_result ll[MAX_MODELS][MAX_SETS + 1];
    size_t nmod = 0;
    char *mlist = score_with ? strdup(score_with) : NULL;
    for (char *tok = mlist ? strtok(mlist, ",") : NULL; !rc && tok; tok = strtok(NULL, ",")) {
        if (nmod == MAX_MODELS) {
            rc = cli_fail(CMD, "--score-with: at most %d models", MAX_MODELS);
            break;
        }
        dgm_model *m = NULL;
        if (dgm__par_agree(dgm_model_load(&m, tok, &err), &err)) {
            rc = cli_fail_err(CMD, &err);
            break;
        }
        for (size_t r = 0; !rc && r < nrows; r++) {
            const set *st = split ? (r ? &sets[r - 1] : NULL) : &sets[r];
            dgm_dataset v = {0};
            v.kind = is_seq ? DGM_DATA_SEQ : DGM_DATA_REAL;
            v.n = rows[r].n;
            v.d = ref.d;
            v.seq = is_seq ? (st ? st->seq : hseq) : NULL;
            v.x = is_seq ? NULL : (st ? st->x : hx);
            v.is_8bit = st && !is_seq ? st->ds.is_8bit : ref.is_8bit;
            v.height = ref.height;
            v.width = ref.width;
            snprintf(v.source, sizeof v.source, "%s", rows[r].name);
            dgm_rng rng;
            dgm_rng_init(&rng, (uint64_t)c.seed);
            if (dgm_loglik(&rng, &ll[nmod][r], NULL, m, &v, 0, ll_k, &err))
                rc = cli_fail(CMD, "--score-with %s: %s", tok, err.msg);
        }
        mpath[nmod++] = tok;
        dgm_model_free(m);
    }

    /* ---- outputs: figures and the report only once every row is there */
    char (*paths)[4096] = NULL;
    size_t npaths = 0;
    if (!rc && (figures || report) && writer) {
        paths = calloc(64, sizeof *paths);
        const char *dir = figures;
        char tmpdir[4096] = "";
        if (!figures) { /* the report alone: figures into a scratch folder beside it */
            snprintf(tmpdir, sizeof tmpdir, "%s.figures.tmp", report);
            if (mkdir(tmpdir, 0777) && errno != EEXIST)
                rc = cli_fail(CMD, "%s: %s", tmpdir, strerror(errno));
            dir = tmpdir;
        }
        const float **sx = calloc(nrows ? nrows : 1, sizeof *sx);
        for (size_t r = 0; sx && r < nrows; r++)
            sx[r] = split ? (r ? sets[r - 1].x : hx) : sets[r].x;
        if (!rc && (!paths || !sx))
            rc = cli_fail(CMD, "out of memory");
        if (!rc && dgm_assess_figures(paths, 64, &npaths, dir, ar, rows, nrows, is_seq ? NULL : rx,
                                      is_seq ? NULL : sx, ref.height, ref.width, &err))
            rc = cli_fail_err(CMD, &err);
        free(sx);
        if (!rc && report && dgm_assess_report(report, pos[0], rows, nrows, paths, npaths, &err))
            rc = cli_fail_err(CMD, &err);
        if (!figures && tmpdir[0]) {
            for (size_t i = 0; i < npaths; i++)
                remove(paths[i]);
            rmdir(tmpdir);
        }
    }
    if (!rc) {
        int kinds = is_seq ? 1 : 2;
        if (c.json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "reference", pos[0]);
            cJSON_AddStringToObject(j, "data", is_seq ? "sequences" : "vectors");
            cJSON_AddNumberToObject(j, "reference_n", (double)nref);
            if (is_seq) {
                double neff;
                dgm_assess_ref_entropy(ar, NULL, &neff);
                cJSON_AddNumberToObject(j, "reference_neff", neff);
                cJSON_AddNumberToObject(j, "columns", (double)L);
                cJSON_AddNumberToObject(j, "theta", theta);
            }
            cJSON_AddNumberToObject(j, "neighbours", (double)k);
            cJSON *arr = cJSON_AddArrayToObject(j, "rows");
            for (size_t r = 0; r < nrows; r++) {
                cJSON *rj = row_json(&rows[r], kinds);
                if (nmod) {
                    cJSON *sc = cJSON_AddArrayToObject(rj, "scores");
                    for (size_t i = 0; i < nmod; i++) {
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddStringToObject(o, "model", mpath[i]);
                        cJSON_AddNumberToObject(o, "loglik_mean", ll[i][r].mean);
                        cJSON_AddNumberToObject(o, "loglik_se", ll[i][r].se);
                        cJSON_AddBoolToObject(o, "exact", ll[i][r].exact);
                        cJSON_AddItemToArray(sc, o);
                    }
                }
                cJSON_AddItemToArray(arr, rj);
            }
            if (figures) {
                cJSON *f = cJSON_AddArrayToObject(j, "figures");
                for (size_t i = 0; i < npaths; i++)
                    cJSON_AddItemToArray(f, cJSON_CreateString(paths[i]));
            }
            cli_print_json(j);
        } else {
            print_table(rows, nrows, kinds);
            for (size_t i = 0; i < nmod; i++) {
                printf("\nmean log-likelihood under %s (%s):\n", mpath[i],
                       ll[i][0].exact ? "exact" : "importance-sampled lower bound");
                for (size_t r = 0; r < nrows; r++)
                    printf("  %-30s %14.4f +- %.4f\n", rows[r].name, ll[i][r].mean, ll[i][r].se);
            }
            for (size_t i = 0; figures && i < npaths; i++)
                fprintf(stderr, "wrote %s\n", paths[i]);
            if (report)
                fprintf(stderr, "wrote %s\n", report);
        }
    }
    for (size_t r = 0; rows && r < nrows; r++)
        dgm_assess_row_free(&rows[r]);
    free(rows);
    free(paths);
    free(mlist);
    dgm_assess_ref_free(ar);
    dgm_model_free(fm);
    free(rfeat);
    free(perm);
    free(hseq ? (void *)hseq : (void *)hx);
    for (size_t i = 0; i < ns; i++)
        set_free(&sets[i]);
    dgm_data_free(&ref);
    return rc;
}
