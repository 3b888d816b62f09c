/* dgm couplings MODEL -o scores.csv: a Potts model's coupling scores for every pair of
 * columns, plmc's APC-corrected Frobenius norms (dgm_potts_couplings), with plmc's columns:
 * residue number i, focus letter at i, residue number j, focus letter at j, 0, score. CSV
 * with a header by default, or plmc's own space-separated lines with --plmc; pairs in plmc's
 * order (i < j, row by row) unless --sort (highest score first). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define CMD "couplings"

typedef struct { double s; size_t i, j; } pair_score;

static int by_score(const void *a, const void *b)
{
    const pair_score *x = a, *y = b;
    if (x->s != y->s)
        return x->s < y->s ? 1 : -1;
    return x->i != y->i ? (x->i < y->i ? -1 : 1) : (x->j < y->j ? -1 : x->j > y->j);
}

int cmd_couplings(int argc, char **argv)
{
    const char *out = NULL;
    int sort = 0, plmc = 0;
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {
        {"-o", OPT_STR, &out, "PATH", "output file (required)", 1, 0},
        {"--sort", OPT_FLAG, &sort, NULL, "highest score first", 1, 0},
        {"--plmc", OPT_FLAG, &plmc, NULL, "plmc's format: 'i A j B 0 score' lines, no header", 1, 0},
        CLI_COMMON_OPTS(&c),
    };
    const char *pos[1];
    int np;
    int r = cli_parse(CMD, "MODEL -o SCORES [options]", "Coupling scores of a Potts model: the "
                      "Frobenius norm of each J_ij with the average product correction, as plmc "
                      "writes them.", argc, argv, table, (int)(sizeof table / sizeof table[0]),
                      pos, 1, &np);
    if (r)
        return r == 1 ? 0 : 2;
    if (np != 1 || !out)
        return cli_fail(CMD, "a model file and -o are required (dgm couplings MODEL -o SCORES)");
    dgm_err err = {0};
    dgm_model *m = NULL;
    if (dgm_model_load(&m, pos[0], &err))
        return cli_fail_err(CMD, &err);
    dgm_seqfocus f;
    size_t L = 0, P = 0;
    const float *h, *J;
    int rc = 0;
    if (dgm_potts_params(m, &L, &h, &J, &err) || dgm_model_seqfocus(&f, m, &err))
        rc = cli_fail_err(CMD, &err);
    P = rc ? 0 : L * (L - 1) / 2;
    double *score = dgm_malloc_array(P ? P : 1, sizeof *score);
    pair_score *ps = dgm_malloc_array(P ? P : 1, sizeof *ps);
    if (!rc && (!score || !ps))
        rc = cli_fail(CMD, "out of memory");
    if (!rc && dgm_potts_couplings(score, m, &err))
        rc = cli_fail_err(CMD, &err);
    for (size_t i = 0, k = 0; !rc && i < L; i++)
        for (size_t j = i + 1; j < L; j++, k++)
            ps[k] = (pair_score){score[k], i, j};
    if (!rc && sort)
        qsort(ps, P, sizeof *ps, by_score);
    char tmp[4096 + 64];
    FILE *fp = NULL;
    if (!rc && strlen(out) + 40 >= sizeof tmp)
        rc = cli_fail(CMD, "%s: path too long", out);
    if (!rc && !(fp = dgm_atomic_open(out, tmp, sizeof tmp, &err)))
        rc = cli_fail_err(CMD, &err);
    if (fp) {
        if (!plmc)
            fprintf(fp, "i,focus_i,j,focus_j,zero,score\n");
        for (size_t k = 0; k < P; k++)
            fprintf(fp, plmc ? "%ld %c %ld %c 0 %f\n" : "%ld,%c,%ld,%c,0,%.9g\n", f.pos[ps[k].i],
                    DGM_AA_ALPHABET[f.wt[ps[k].i]], f.pos[ps[k].j], DGM_AA_ALPHABET[f.wt[ps[k].j]],
                    ps[k].s);
        if (dgm_atomic_commit(fp, tmp, out, &err))
            rc = cli_fail_err(CMD, &err);
    }
    if (!rc) {
        if (c.json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "model", pos[0]);
            cJSON_AddStringToObject(o, "out", out);
            cJSON_AddNumberToObject(o, "pairs", (double)P);
            cJSON_AddNumberToObject(o, "L", (double)L);
            cJSON_AddBoolToObject(o, "sorted", sort);
            cli_print_json(o);
        } else {
            printf("wrote %zu pair scores of %s (%zu columns) to %s\n", P, pos[0], L, out);
        }
    }
    free(score);
    free(ps);
    dgm_model_free(m);
    return rc;
}
