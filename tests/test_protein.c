/* Rank correlation (src/eval/spearman.c), mutant parsing and scan tables
 * (src/eval/mutations.c), and the site-independent model (src/models/seq/independent.c):
 * hand-computed and brute-force references, every error with its file:line:char, and with
 * ../shared/data the BLAT_ECOLX baseline against its published Spearman. */
#include "dgm.h"
#include "test.h"

#include <unistd.h>

#define SLICE "tests/data/protein/BLAT_ECOLX_test.a2m"

/* Ranks by counting: 1 + #{j: x_j < x_i} + #{j != i: x_j == x_i} / 2. */
static double pearson_of_count_ranks(const double *x, const double *y, size_t n)
{
    double *rx = malloc(n * sizeof *rx), *ry = malloc(n * sizeof *ry);
    for (size_t i = 0; i < n; i++) {
        double a = 1, b = 1;
        for (size_t j = 0; j < n; j++) {
            a += (x[j] < x[i]) + 0.5 * (j != i && x[j] == x[i]);
            b += (y[j] < y[i]) + 0.5 * (j != i && y[j] == y[i]);
        }
        rx[i] = a, ry[i] = b;
    }
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++)
        mx += rx[i] / n, my += ry[i] / n;
    for (size_t i = 0; i < n; i++) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    free(rx);
    free(ry);
    return sxy / sqrt(sxx * syy);
}

static void test_spearman(void)
{
    dgm_err err = {0};
    double rho;
    /* by hand: ranks of y are 1, 2, 3.5, 5, 3.5; centred dot 8, norms 10 and 9.5 */
    const double x[5] = {1, 2, 3, 4, 5}, y[5] = {5, 6, 7, 8, 7};
    CHECK(dgm_spearman(&rho, x, y, 5, &err) == DGM_OK);
    CHECK_NEAR(rho, 8 / sqrt(95.0), 1e-15);
    double r[5];
    CHECK(dgm_rank_average(r, y, 5, &err) == DGM_OK);
    CHECK(r[0] == 1 && r[1] == 2 && r[2] == 3.5 && r[3] == 5 && r[4] == 3.5);
    /* random data with many ties against the counting definition */
    dgm_rng g;
    dgm_rng_init(&g, 4);
    enum { n = 500 };
    double a[n], b[n], c[n];
    for (int i = 0; i < n; i++) {
        a[i] = (double)dgm_rng_below(&g, 30);
        b[i] = a[i] + (double)dgm_rng_below(&g, 20);
        c[i] = exp(b[i] / 7) - 3; /* monotone in b */
    }
    CHECK(dgm_spearman(&rho, a, b, n, &err) == DGM_OK);
    CHECK_NEAR(rho, pearson_of_count_ranks(a, b, n), 1e-12);
    double rho2;
    CHECK(dgm_spearman(&rho2, a, c, n, &err) == DGM_OK);
    CHECK(rho2 == rho);
    CHECK(dgm_spearman(&rho, b, c, n, &err) == DGM_OK);
    CHECK_NEAR(rho, 1.0, 1e-14);
    for (int i = 0; i < n; i++)
        c[i] = -c[i];
    CHECK(dgm_spearman(&rho, b, c, n, &err) == DGM_OK);
    CHECK_NEAR(rho, -1.0, 1e-14);
    for (int i = 0; i < n; i++)
        c[i] = 2;
    CHECK(dgm_spearman(&rho, b, c, n, &err) == DGM_OK);
    CHECK(isnan(rho));
    CHECK(dgm_spearman(&rho, b, c, 1, &err) == DGM_OK && isnan(rho));
    c[3] = NAN;
    CHECK(dgm_spearman(&rho, b, c, n, &err) == DGM_ERR_NAN);
}

// ------------------------------------------------------------------------------- mutants

static dgm_model *slice_model(double pc)
{
    dgm_alignment a;
    dgm_err err = {0};
    dgm_model *m = NULL;
    if (dgm_alignment_read(&a, SLICE, NULL, &err))
        return NULL;
    double *w = malloc(a.n * sizeof *w), neff;
    if (!dgm_seq_weights(w, &neff, a.seq, a.n, a.L, 0.2, DGM_SEQW_DEEPSEQ, &err))
        dgm_indep_fit(&m, &a, w, 0.2, pc, &err);
    free(w);
    dgm_alignment_free(&a);
    return m;
}

static void expect_mut_error(const dgm_seqfocus *f, const char *text, size_t col, const char *prefix,
                             const char *what)
{
    dgm_mutant mu;
    dgm_err err = {0};
    dgm_status s = dgm_mutant_parse(&mu, text, f, "dms.csv", 3, col, &err);
    CHECK_MSG(s != DGM_OK && !strncmp(err.msg, prefix, strlen(prefix)) && strstr(err.msg, what),
              "'%s': got '%s', want '%s...%s'", text, err.msg, prefix, what);
}

static void test_mutants(void)
{
    dgm_model *m = slice_model(0.5);
    CHECK(m != NULL);
    if (!m)
        return;
    dgm_seqfocus f;
    dgm_err err = {0};
    CHECK(dgm_model_seqfocus(&f, m, &err) == DGM_OK);
    CHECK(f.L == 253 && f.start == 24 && !strcmp(f.name, "BLAT_ECOLX"));
    dgm_mutant mu;
    /* V29 is the first focus column; H24 is an insert state (lower case in the focus) */
    CHECK(dgm_mutant_parse(&mu, "V29A", &f, "x", 1, 1, &err) == DGM_OK);
    CHECK(mu.n == 1 && mu.scorable && mu.col[0] == 0 && mu.aa[0] == 0 && mu.resnum[0] == 29);
    CHECK(dgm_mutant_parse(&mu, "H24A", &f, "x", 1, 1, &err) == DGM_OK);
    CHECK(mu.n == 1 && !mu.scorable);
    CHECK(dgm_mutant_parse(&mu, " V29A:K30W ", &f, "x", 1, 1, &err) == DGM_OK);
    CHECK(mu.n == 2 && mu.scorable && mu.col[1] == 1 && mu.aa[1] == 18);
    CHECK(dgm_mutant_parse(&mu, "WT", &f, "x", 1, 1, &err) == DGM_OK && mu.n == 0);
    uint8_t s[253];
    CHECK(dgm_mutant_parse(&mu, "V29A:K30W", &f, "x", 1, 1, &err) == DGM_OK);
    dgm_mutant_apply(s, &mu, &f);
    CHECK(s[0] == 0 && s[1] == 18 && !memcmp(s + 2, f.wt + 2, 251));
    /* errors: file, line and the character where the bad substitution starts */
    expect_mut_error(&f, "V29", 5, "dms.csv:3:5: ", "unknown mutation syntax");
    expect_mut_error(&f, "29A", 5, "dms.csv:3:5: ", "unknown mutation syntax");
    expect_mut_error(&f, "V29A:K30", 5, "dms.csv:3:10: ", "unknown mutation syntax");
    expect_mut_error(&f, "V29A;K30W", 1, "dms.csv:3:1: ", "unknown mutation syntax");
    expect_mut_error(&f, "V29B", 1, "dms.csv:3:1: ", "unknown mutation syntax");
    expect_mut_error(&f, "v29a", 1, "dms.csv:3:1: ", "unknown mutation syntax");
    expect_mut_error(&f, "V29A:", 1, "dms.csv:3:6: ", "unknown mutation syntax");
    expect_mut_error(&f, "A300G", 2, "dms.csv:3:3: ", "outside the focus sequence");
    expect_mut_error(&f, "V23A", 1, "dms.csv:3:2: ", "outside the focus sequence");
    expect_mut_error(&f, "A29V", 1, "dms.csv:3:1: ", "does not match");
    expect_mut_error(&f, "V29A:V29C", 1, "dms.csv:3:7: ", "twice");
    dgm_model_free(m);
}

static void test_dms_read(void)
{
    char path[] = "/tmp/dgm_test_dmsXXXXXX";
    int fd = mkstemp(path);
    const char *text = "# comment\nid,mutant,score,other\n1,V29A,0.5,x\n2,K30W,,y\n3,V29A:K30W,NA,z\n"
                       "4, \"H24A\" ,-1e-3,w\n";
    if (write(fd, text, strlen(text)) < 0)
        CHECK(0);
    close(fd);
    dgm_dms d;
    dgm_err err = {0};
    CHECK(dgm_dms_read(&d, path, "score", &err) == DGM_OK);
    CHECK_EQ_INT(d.n, 4);
    CHECK(!strcmp(d.mutant[0], "V29A") && !strcmp(d.mutant[3], "H24A"));
    CHECK(d.value[0] == 0.5 && isnan(d.value[1]) && isnan(d.value[2]) && d.value[3] == -1e-3);
    CHECK(d.line[0] == 3 && d.line[3] == 6 && d.mut_col[0] == 3 && d.mut_col[3] == 5);
    dgm_dms_free(&d);
    CHECK(dgm_dms_read(&d, path, "2500", &err) == DGM_ERR_ARG);
    CHECK(strstr(err.msg, ":2: no column '2500'") != NULL);
    CHECK(dgm_dms_read(&d, "/nonexistent.csv", NULL, &err) == DGM_ERR_IO);
    unlink(path);
}

// -------------------------------------------------------------------- independent model

static void test_independent(void)
{
    dgm_alignment a;
    dgm_err err = {0};
    CHECK(dgm_alignment_read(&a, SLICE, NULL, &err) == DGM_OK);
    size_t L = a.L, n = a.n;
    double *w = malloc(n * sizeof *w), neff;
    CHECK(dgm_seq_weights(w, &neff, a.seq, n, L, 0.2, DGM_SEQW_DEEPSEQ, &err) == DGM_OK);
    dgm_model *m = NULL;
    CHECK(dgm_indep_fit(&m, &a, w, 0.2, 0.5, &err) == DGM_OK);
    dgm_model *bad = NULL;
    CHECK(dgm_indep_fit(&bad, &a, w, 0.2, 0.0, &err) == DGM_ERR_ARG && !bad);
    CHECK(strstr(err.msg, "pseudocount") != NULL);
    CHECK(m != NULL);
    if (!m) {
        free(w);
        dgm_alignment_free(&a);
        return;
    }
    CHECK(!strcmp(dgm_model_type(m), "independent") && dgm_model_exact(m));
    CHECK_EQ_INT(dgm_model_dim(m), L * 20);
    /* log p of sequence 3 from the frequencies counted here */
    double want = 0;
    for (size_t l = 0; l < L; l++) {
        uint8_t c = a.seq[3 * L + l];
        if (c == DGM_AA_GAP)
            continue;
        double num = 0.5, den = 20 * 0.5;
        for (size_t i = 0; i < n; i++) {
            num += w[i] * (a.seq[i * L + l] == c);
            den += w[i] * (a.seq[i * L + l] != DGM_AA_GAP);
        }
        want += log(num / den);
    }
    float *x = malloc(L * 20 * sizeof *x);
    dgm_seq_onehot(x, a.seq + 3 * L, 1, L);
    double lp;
    dgm_rng rng;
    dgm_rng_init(&rng, 1);
    CHECK(dgm_model_log_prob(m, &rng, &lp, x, NULL, 1, 1, &err) == DGM_OK);
    CHECK_NEAR(lp, want, 1e-5 * fabs(want));
    /* effects of single mutants are exact log ratios at one column */
    dgm_seqfocus f;
    CHECK(dgm_model_seqfocus(&f, m, &err) == DGM_OK);
    dgm_mutant mu;
    CHECK(dgm_mutant_parse(&mu, "K30W", &f, "x", 1, 1, &err) == DGM_OK);
    uint8_t *s = malloc(L);
    dgm_mutant_apply(s, &mu, &f);
    double d, se;
    CHECK(dgm_mutation_effects(m, &rng, &d, &se, s, 1, 1, &err) == DGM_OK);
    double cw = 0.5, ck = 0.5;
    for (size_t i = 0; i < n; i++) {
        cw += w[i] * (a.seq[i * L + 1] == 18);
        ck += w[i] * (a.seq[i * L + 1] == 8);
    }
    CHECK_NEAR(d, log(cw / ck), 1e-5);
    CHECK(se == 0.0);
    /* samples: column frequencies within 4 standard errors of the model's */
    enum { S = 4000 };
    float *xs = malloc((size_t)S * L * 20 * sizeof *xs);
    CHECK(dgm_model_sample(m, &rng, xs, NULL, S, 0, &err) == DGM_OK);
    double mean_p[20] = {0};
    CHECK(dgm_model_sample(m, &rng, x, NULL, 1, 1, &err) == DGM_OK); /* mean: the frequencies */
    int within = 1;
    for (int c = 0; c < 20; c++) {
        double k = 0, p = x[1 * 20 + c];
        for (int i = 0; i < S; i++)
            k += xs[(size_t)i * L * 20 + 20 + c];
        mean_p[c] = p;
        within &= fabs(k / S - p) <= 4 * sqrt(p * (1 - p) / S) + 1e-9;
    }
    CHECK(within);
    double tot = 0;
    for (int c = 0; c < 20; c++)
        tot += mean_p[c];
    CHECK_NEAR(tot, 1.0, 1e-5);
    /* file round trip */
    char path[] = "/tmp/dgm_test_indepXXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(dgm_model_save(m, path, &err) == DGM_OK);
    dgm_model *m2 = NULL;
    CHECK(dgm_model_load(&m2, path, &err) == DGM_OK);
    unlink(path);
    if (m2) {
        double lp2;
        dgm_seq_onehot(x, a.seq + 3 * L, 1, L);
        CHECK(dgm_model_log_prob(m2, &rng, &lp2, x, NULL, 1, 1, &err) == DGM_OK);
        CHECK(lp2 == lp);
        dgm_seqfocus f2;
        CHECK(dgm_model_seqfocus(&f2, m2, &err) == DGM_OK);
        CHECK(f2.L == L && f2.start == 24 && !memcmp(f2.wt, f.wt, L) && !strcmp(f2.residues, f.residues));
        dgm_model_free(m2);
    }
    free(xs);
    free(s);
    free(x);
    free(w);
    dgm_model_free(m);
    dgm_alignment_free(&a);
}

/* The published site-independent Spearman for BLAT_ECOLX against column 2500 is 0.614
 * (Riesselman et al. 2018); with DeepSequence's weights and a pseudocount of 0.5 the
 * model here must land within 0.02 of it. */
static void test_independent_blat(void)
{
    char aln[512], csv[512];
    snprintf(aln, sizeof aln, "%s/protein/BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_"
             "id100_b105.a2m", test_shared_data());
    snprintf(csv, sizeof csv, "%s/protein/BLAT_ECOLX_Ranganathan2015.csv", test_shared_data());
    if (access(aln, R_OK) || access(csv, R_OK)) {
        TEST_SKIP(test_independent_blat, "BLAT_ECOLX files are not in ../shared/data");
        return;
    }
    dgm_alignment a;
    dgm_err err = {0};
    CHECK(dgm_alignment_read(&a, aln, NULL, &err) == DGM_OK);
    double *w = malloc(a.n * sizeof *w), neff;
    CHECK(dgm_seq_weights(w, &neff, a.seq, a.n, a.L, 0.2, DGM_SEQW_DEEPSEQ, &err) == DGM_OK);
    dgm_model *m = NULL;
    CHECK(dgm_indep_fit(&m, &a, w, 0.2, 0.5, &err) == DGM_OK);
    dgm_dms d;
    CHECK(dgm_dms_read(&d, csv, "2500", &err) == DGM_OK);
    dgm_seqfocus f;
    CHECK(dgm_model_seqfocus(&f, m, &err) == DGM_OK);
    uint8_t *s = malloc(d.n * a.L);
    double *val = malloc(d.n * sizeof *val), *eff = malloc(d.n * sizeof *eff), *se = malloc(d.n * sizeof *se);
    size_t k = 0;
    for (size_t i = 0; i < d.n; i++) {
        dgm_mutant mu;
        CHECK(dgm_mutant_parse(&mu, d.mutant[i], &f, csv, d.line[i], d.mut_col[i], &err) == DGM_OK);
        if (!mu.scorable)
            continue;
        dgm_mutant_apply(s + k * a.L, &mu, &f);
        val[k++] = d.value[i];
    }
    CHECK_EQ_INT(k, 4807);
    dgm_rng rng;
    dgm_rng_init(&rng, 1);
    double rho;
    CHECK(dgm_mutation_effects(m, &rng, eff, se, s, k, 1, &err) == DGM_OK);
    CHECK(dgm_spearman(&rho, eff, val, k, &err) == DGM_OK);
    CHECK_MSG(fabs(rho - 0.614) <= 0.02, "site-independent Spearman %.4f", rho);
    fprintf(stderr, "BLAT_ECOLX site-independent: Spearman %.4f over %zu mutants\n", rho, k);
    free(s);
    free(val);
    free(eff);
    free(se);
    dgm_dms_free(&d);
    dgm_model_free(m);
    free(w);
    dgm_alignment_free(&a);
}

int main(void)
{
    dgm_set_threads(2);
    TEST_RUN(test_spearman);
    TEST_RUN(test_mutants);
    TEST_RUN(test_dms_read);
    TEST_RUN(test_independent);
    TEST_RUN(test_independent_blat);
    TEST_MAIN_END("test_protein");
}
