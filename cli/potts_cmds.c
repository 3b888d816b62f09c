/* The Potts model behind the generic commands: dgm loglik (energies and pseudo-log-
 * likelihoods, never a log p: the partition function is intractable) and dgm sample
 * (Gibbs chains with their mixing figures on stderr). cmd_loglik.c and cmd_sample.c hand a
 * model of type "potts" to these. */
#include "cli.h"
#include "potts_cmds.h"
#include "progress.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The sequences of an alignment file in the model's L columns: all its focus columns when
 * there are L of them, else those where its first row has a residue (a training alignment
 * with focus-gap columns). */
static int read_seqs(const char *cmd, const char *path, size_t L, dgm_alignment *a,
                     uint8_t **seq)
{
    dgm_err err = {0};
    if (dgm_alignment_read(a, path, NULL, &err))
        return cli_fail_err(cmd, &err);
    size_t Lr = 0;
    for (size_t l = 0; l < a->L; l++)
        Lr += a->pos[l] >= 0;
    if (a->L != L && Lr != L) {
        cli_fail(cmd, "%s: %zu columns (%zu where the first sequence has a residue), but the "
                 "model has %zu", path, a->L, Lr, L);
        dgm_alignment_free(a);
        return 1;
    }
    if (!(*seq = dgm_malloc_array(a->n, L))) {
        dgm_alignment_free(a);
        return cli_fail(cmd, "out of memory");
    }
    for (size_t s = 0; s < a->n; s++)
        for (size_t l = 0, k = 0; l < a->L; l++)
            if (a->L == L || a->pos[l] >= 0)
                (*seq)[s * L + k++] = a->seq[s * a->L + l];
    return 0;
}

int cli_potts_loglik(dgm_model *m, const char *model_path, const char *data, const char *out,
                     size_t limit, int json)
{
    const char *cmd = "loglik";
    dgm_seqfocus f;
    dgm_err err = {0};
    if (dgm_model_seqfocus(&f, m, &err))
        return cli_fail_err(cmd, &err);
    dgm_alignment a;
    uint8_t *seq = NULL;
    int bad = read_seqs(cmd, data, f.L, &a, &seq);
    if (dgm__par_any(bad)) { /* under mpirun: every rank stops if any could not read */
        if (!bad) {
            free(seq);
            dgm_alignment_free(&a);
            return cli_fail(cmd, "%s: another MPI rank could not read it", data);
        }
        return 1;
    }
    size_t n = limit && limit < a.n ? limit : a.n, r0, r1;
    double *E = dgm_malloc_array(n, sizeof *E), *pll = dgm_malloc_array(n, sizeof *pll);
    int rc = dgm__par_any(!E || !pll) ? cli_fail(cmd, "out of memory") : 0;
    /* each sequence's numbers are its own: under mpirun each rank scores its blocks of 64
     * sequences and the values go to every rank (the one-process numbers) */
    dgm__par_rows_mine(&r0, &r1, n, 64);
    dgm_status s = DGM_OK;
    if (!rc && r1 > r0 && !(s = dgm_potts_energy(E + r0, m, seq + r0 * f.L, r1 - r0, &err)))
        s = dgm_potts_pll(pll + r0, m, seq + r0 * f.L, r1 - r0, &err);
    if (!rc && dgm__par_agree(s, &err))
        rc = cli_fail_err(cmd, &err);
    if (!rc) {
        dgm__par_share_rows(E, n, 64, sizeof *E);
        dgm__par_share_rows(pll, n, 64, sizeof *pll);
    }
    if (!rc && out && dgm__par_rank() == 0) {
        char tmp[4096 + 64];
        FILE *fp = strlen(out) + 40 < sizeof tmp ? dgm_atomic_open(out, tmp, sizeof tmp, &err) : NULL;
        if (!fp)
            rc = err.msg[0] ? cli_fail_err(cmd, &err) : cli_fail(cmd, "%s: path too long", out);
        if (fp) {
            fprintf(fp, "name,energy,pseudo_loglik\n");
            for (size_t k = 0; k < n; k++)
                fprintf(fp, "\"%s\",%.9g,%.9g\n", a.names[k], E[k], pll[k]);
            if (dgm_atomic_commit(fp, tmp, out, &err))
                rc = cli_fail_err(cmd, &err);
        }
    }
    if (!rc) {
        double me = 0, mp = 0, se = 0, sp = 0;
        for (size_t k = 0; k < n; k++)
            me += E[k] / (double)n, mp += pll[k] / (double)n;
        for (size_t k = 0; k < n; k++)
            se += (E[k] - me) * (E[k] - me), sp += (pll[k] - mp) * (pll[k] - mp);
        se = n > 1 ? sqrt(se / (double)(n - 1) / (double)n) : NAN;
        sp = n > 1 ? sqrt(sp / (double)(n - 1) / (double)n) : NAN;
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "model", model_path);
            cJSON_AddStringToObject(o, "data", data);
            cJSON_AddNumberToObject(o, "n", (double)n);
            cJSON_AddNumberToObject(o, "energy_mean", me);
            cJSON_AddNumberToObject(o, "energy_stderr", se);
            cJSON_AddNumberToObject(o, "pseudo_loglik_mean", mp);
            cJSON_AddNumberToObject(o, "pseudo_loglik_stderr", sp);
            cJSON_AddBoolToObject(o, "exact", 0);
            cJSON_AddStringToObject(o, "note", "Potts model: unnormalised energies E(x) and "
                                    "pseudo-log-likelihoods sum_i log P(x_i | x_rest); log p(x) "
                                    "needs the intractable partition function");
            if (out)
                cJSON_AddStringToObject(o, "out", out);
            cli_print_json(o);
        } else {
            printf("%s (potts) on %s: %zu sequences\n", model_path, data, n);
            printf("  mean energy E(x)            %.6f  +- %.3g (stderr)\n", me, se);
            printf("  mean pseudo-log-likelihood  %.6f nats  +- %.3g\n", mp, sp);
            printf("  note: log p(x) = E(x) - log Z needs the partition function Z, which is "
                   "intractable; these are not log-likelihoods\n");
            if (out)
                printf("wrote %s\n", out);
        }
    }
    free(E);
    free(pll);
    free(seq);
    dgm_alignment_free(&a);
    return rc;
}

int cli_potts_sample(dgm_model *m, const char *out, size_t n, uint64_t seed, long burn_in,
                     long thin, long chains, int json)
{
    const char *cmd = "sample";
    const char *dot = strrchr(out, '.');
    if (!dot || (strcmp(dot, ".fasta") && strcmp(dot, ".fa") && strcmp(dot, ".a2m")))
        return cli_fail(cmd, "%s: a Potts model samples sequences: give a .fasta, .fa or .a2m "
                        "output", out);
    dgm_seqfocus f;
    dgm_err err = {0};
    if (dgm_model_seqfocus(&f, m, &err))
        return cli_fail_err(cmd, &err);
    dgm_gibbs_cfg g = dgm_gibbs_defaults();
    if (burn_in >= 0)
        g.burn_in = burn_in;
    if (thin >= 0)
        g.thin = thin;
    if (chains >= 0)
        g.chains = chains;
    uint8_t *seq = dgm_malloc_array(n, f.L);
    if (!seq)
        return cli_fail(cmd, "out of memory for %zu sequences", n);
    dgm_rng rng;
    dgm_rng_init(&rng, seed);
    dgm_gibbs_stats st;
    double t0 = cli_now();
    int rc = 0;
    if (dgm_potts_sample(&rng, seq, &st, m, n, &g, &err))
        rc = cli_fail_err(cmd, &err);
    double secs = cli_now() - t0;
    if (!rc && dgm_fasta_write(out, seq, n, f.L, NULL, &err))
        rc = cli_fail_err(cmd, &err);
    if (!rc) {
        long C = g.chains < (long)n ? g.chains : (long)n;
        fprintf(stderr, "gibbs: %zu sequences from %ld chains (burn-in %ld sweeps, every %ld-th "
                "sweep kept), %ld sweeps in %.2f s; energy %.3f +- %.3f (sd); energy "
                "autocorrelation time %.2f kept samples; R-hat %.3f; %.1f%% of site updates "
                "changed the letter\n", n, C, g.burn_in, g.thin, st.sweeps, secs, st.mean_energy,
                st.energy_sd, st.tau, st.r_hat, 100 * st.accept);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "output", out);
            cJSON_AddNumberToObject(o, "n", (double)n);
            cJSON_AddNumberToObject(o, "seconds", secs);
            cJSON_AddNumberToObject(o, "chains", (double)C);
            cJSON_AddNumberToObject(o, "burn_in", (double)g.burn_in);
            cJSON_AddNumberToObject(o, "thin", (double)g.thin);
            cJSON_AddNumberToObject(o, "sweeps", (double)st.sweeps);
            cJSON_AddNumberToObject(o, "energy_mean", st.mean_energy);
            cJSON_AddNumberToObject(o, "energy_sd", st.energy_sd);
            if (isnan(st.tau))
                cJSON_AddNullToObject(o, "autocorr_time");
            else
                cJSON_AddNumberToObject(o, "autocorr_time", st.tau);
            if (isnan(st.r_hat))
                cJSON_AddNullToObject(o, "r_hat");
            else
                cJSON_AddNumberToObject(o, "r_hat", st.r_hat);
            cJSON_AddNumberToObject(o, "changed_fraction", st.accept);
            cli_print_json(o);
        } else {
            printf("wrote %zu samples to %s (%.3f s)\n", n, out, secs);
        }
    }
    free(seq);
    return rc;
}
