/* Data preparation and output-format dispatch for the inference commands. */
#include "model_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

static const char *const fashion[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

const char *cli_class_name(int c, int n_classes)
{
    return n_classes == 10 && c >= 0 && c < 10 ? fashion[c] : NULL;
}

int cli_parse_class(const char *s, int n_classes)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end != s && !*end)
        return v >= 0 && v < n_classes ? (int)v : -1;
    for (int c = 0; c < n_classes; c++) {
        const char *name = cli_class_name(c, n_classes);
        if (name && !strcasecmp(name, s))
            return c;
    }
    return -1;
}

int cli_load_eval_data(const char *cmd, const dgm_model *m, const char *spec,
                       const char *labels, size_t limit, dgm_dataset *ds, float **x, size_t *n)
{
    dgm_err err = {0};
    memset(ds, 0, sizeof *ds);
    /* 8-bit images stay bytes (a quarter of the memory); dgm_eval_prepare reads them */
    if (dgm_data_load_8bit(ds, spec, labels, &err))
        return cli_fail_err(cmd, &err);
    if (dgm_model_n_classes(m) > 0) {
        if (!ds->y) {
            dgm_data_free(ds);
            return cli_fail(cmd, "%s: the model is class-conditional, and the data has no labels "
                            "(give --labels)", spec);
        }
        size_t lim = limit && limit < ds->n ? limit : ds->n;
        for (size_t i = 0; i < lim; i++)
            if (ds->y[i] < 0 || ds->y[i] >= dgm_model_n_classes(m)) {
                dgm_data_free(ds);
                return cli_fail(cmd, "%s: label %d of example %zu is outside the model's classes "
                                "0..%d", spec, (int)ds->y[i], i + 1, dgm_model_n_classes(m) - 1);
            }
    }
    dgm_status s;
    if (x) {
        s = dgm_eval_prepare(x, n, m, ds, limit, DGM_EVAL_PREP_SEED, &err);
    } else { /* the caller prepares batches itself: only check the rows */
        *n = limit && limit < ds->n ? limit : ds->n;
        s = *n ? dgm_eval_prepare_rows(NULL, m, ds, 0, *n, DGM_EVAL_PREP_SEED, &err)
               : dgm_errf(&err, DGM_ERR_ARG, "%s: no examples", ds->source);
    }
    if (s) {
        dgm_data_free(ds);
        return cli_fail_err(cmd, &err);
    }
    return 0;
}

void cli_geometry(const dgm_model *m, size_t *h, size_t *w)
{
    char *d = dgm_model_describe(m);
    cJSON *o = d ? cJSON_Parse(d) : NULL;
    const cJSON *hh = cJSON_GetObjectItemCaseSensitive(o, "height");
    const cJSON *ww = cJSON_GetObjectItemCaseSensitive(o, "width");
    size_t D = dgm_model_dim(m);
    if (cJSON_IsNumber(hh) && cJSON_IsNumber(ww) && hh->valuedouble * ww->valuedouble == (double)D) {
        *h = (size_t)hh->valuedouble;
        *w = (size_t)ww->valuedouble;
    } else {
        size_t s = (size_t)llround(sqrt((double)D));
        *h = s * s == D ? s : 1;
        *w = s * s == D ? s : D;
    }
    cJSON_Delete(o);
    free(d);
}

static const char *ext(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : "";
}

static int write_fasta(const char *cmd, const char *path, const float *x, size_t rows, size_t D)
{
    static const char aa[] = "ACDEFGHIKLMNPQRSTVWY";
    if (D % 20)
        return cli_fail(cmd, "%s: FASTA output needs one-hot sequences (the dimension %zu is not a "
                        "multiple of 20)", path, D);
    size_t L = D / 20;
    dgm_err err = {0};
    char tmp[4096];
    FILE *f = dgm_atomic_open(path, tmp, sizeof tmp, &err);
    if (!f)
        return cli_fail_err(cmd, &err);
    for (size_t i = 0; i < rows; i++) {
        fprintf(f, ">sample_%zu\n", i + 1);
        for (size_t p = 0; p < L; p++) {
            const float *v = x + i * D + p * 20;
            int best = -1;
            float bv = 0.5f;
            for (int a = 0; a < 20; a++)
                if (v[a] > bv)
                    bv = v[a], best = a;
            fputc(best < 0 ? '-' : aa[best], f);
        }
        fputc('\n', f);
    }
    if (dgm_atomic_commit(f, tmp, path, &err))
        return cli_fail_err(cmd, &err);
    return 0;
}

int cli_write_matrix(const char *cmd, const char *path, const float *x, size_t rows, size_t D,
                     size_t height, size_t width, size_t cols)
{
    dgm_err err = {0};
    const char *e = ext(path);
    dgm_status s;
    if (!strcasecmp(e, "png")) {
        if (!cols)
            cols = (size_t)ceil(sqrt((double)rows));
        if (height * width != D)
            return cli_fail(cmd, "%s: PNG output needs image data (dimension %zu is not %zu x %zu)",
                            path, D, height, width);
        s = dgm_png_write_grid(path, x, rows, height, width, cols, &err);
    } else if (!strcasecmp(e, "csv")) {
        s = dgm_csv_write(path, x, rows, D, &err);
    } else if (!strcasecmp(e, "npy")) {
        s = dgm_npy_write(path, x, rows, D, &err);
    } else if (!strcasecmp(e, "idx")) {
        s = height * width == D ? dgm_idx_write(path, x, rows, height, width, &err)
                                : dgm_idx_write(path, x, rows, 0, D, &err);
    } else if (!strcasecmp(e, "fasta") || !strcasecmp(e, "fa") || !strcasecmp(e, "a2m")) {
        return write_fasta(cmd, path, x, rows, D);
    } else {
        return cli_fail(cmd, "%s: unknown output format '.%s' (png, csv, npy, idx, fasta)", path, e);
    }
    return s ? cli_fail_err(cmd, &err) : 0;
}

int cli_apply_precision(const char *cmd, dgm_model *m, const char *path, const char *prec)
{
    if (!strcmp(prec, "fp32"))
        return 0;
    if (strcmp(prec, "bf16"))
        return cli_usage(cmd, "--precision: '%s' is not fp32 or bf16", prec);
    dgm_err err = {0};
    if (!strcmp(dgm_model_type(m), "seqvae"))
        return dgm_seqvae_set_precision(m, DGM_PREC_BF16, &err) ? cli_fail_err(cmd, &err) : 0;
    if (!dgm_model_is_vae(m))
        return cli_fail(cmd, "%s: --precision bf16 applies to VAE models (this is %s)", path,
                        dgm_model_type(m));
    return dgm_vae_set_precision(m, DGM_PREC_BF16, &err) ? cli_fail_err(cmd, &err) : 0;
}

int cli_resume_load(const char *cmd, const char *resume, dgm_model **m, char *ckpt,
                    char *model_path, size_t cap)
{
    const char *tag = ".ckpt.safetensors";
    size_t n = strlen(resume), t = strlen(tag);
    if (n > t && !strcmp(resume + n - t, tag)) {
        snprintf(ckpt, cap, "%s", resume);
        snprintf(model_path, cap, "%.*s.safetensors", (int)(n - t), resume);
    } else if (dgm_checkpoint_path(ckpt, cap, resume) == 0) {
        snprintf(model_path, cap, "%s", resume);
    } else {
        return cli_fail(cmd, "%s: path too long", resume);
    }
    if (access(ckpt, F_OK) != 0)
        return cli_fail(cmd, "%s: no training checkpoint to resume from (%s is absent)", resume,
                        ckpt);
    dgm_err err = {0};
    if (dgm_model_load(m, ckpt, &err))
        return cli_fail_err(cmd, &err);
    return 0;
}
