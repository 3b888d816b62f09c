/* Alignment readers (src/data/alignment*.c, stockholm.c) and sequence weights
 * (src/data/seqweights.c): the BLAT_ECOLX slice against a plain re-parse written here,
 * A2M inserts, Stockholm blocks, the gap filters, every error with its file:line:char, and
 * the weights against a brute-force count of the definition; with ../shared/data, Neff of
 * the full BLAT_ECOLX alignment and plmc's own DHFR weights. */
#include "data/alignment.h"
#include "dgm_blocks.h"
#include "test.h"

#include <time.h>
#include <unistd.h>

#define SLICE "tests/data/protein/BLAT_ECOLX_test.a2m"

static char tmpdir[] = "/tmp/dgm_test_alnXXXXXX";

static const char *write_tmp(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* Plain re-parse: rows concatenated, focus columns where the first row is upper case or '-',
 * letters upper-cased, '.' a gap. Returns the row count; rows n x L into out. */
static size_t reparse(uint8_t *out, size_t *L, const char *path)
{
    FILE *f = fopen(path, "r");
    static char rows[64][1024];
    char line[4096];
    int n = -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '>')
            rows[++n][0] = 0;
        else
            strcat(rows[n], line);
    }
    fclose(f);
    const char *aa = "ACDEFGHIKLMNPQRSTVWY";
    *L = 0;
    for (size_t c = 0; rows[0][c]; c++) {
        char fc = rows[0][c];
        if (!((fc >= 'A' && fc <= 'Z') || fc == '-'))
            continue;
        for (int i = 0; i <= n; i++) {
            char ch = rows[i][c];
            ch = ch == '.' ? '-' : (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
            const char *p = strchr(aa, ch);
            out[i * 1024 + *L] = ch == '-' ? 20 : (uint8_t)(p - aa);
        }
        (*L)++;
    }
    return (size_t)n + 1;
}

static void test_blat_slice(void)
{
    dgm_alignment a;
    dgm_err err = {0};
    CHECK(dgm_alignment_read(&a, SLICE, NULL, &err) == DGM_OK);
    static uint8_t ref[64 * 1024];
    size_t L, n = reparse(ref, &L, SLICE);
    CHECK_EQ_INT(a.n, n);
    CHECK_EQ_INT(a.n_read, 46);
    CHECK_EQ_INT(a.L, L);
    CHECK_EQ_INT(a.L, 253);
    CHECK(!strcmp(a.focus_name, "BLAT_ECOLX"));
    CHECK_EQ_INT(a.focus_start, 24);
    CHECK_EQ_INT(strlen(a.focus_residues), 286 - 24 + 1); /* the header's range */
    CHECK(!strncmp(a.focus_residues, "HPETLVKVKD", 10));
    CHECK_EQ_INT(a.pos[0], 29); /* "hpetl" (24-28) are insert states */
    CHECK_EQ_INT(a.pos[a.L - 1], 283); /* "khw" (284-286) too */
    int same = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t l = 0; l < L; l++)
            same &= a.seq[i * L + l] == ref[i * 1024 + l];
    CHECK(same);
    /* positions count focus residues: the letter at pos[l] is the focus row's letter */
    int okpos = 1;
    for (size_t l = 0; l < a.L; l++)
        okpos &= a.focus_residues[a.pos[l] - a.focus_start] == DGM_AA_ALPHABET[a.seq[l]];
    CHECK(okpos);
    dgm_alignment_free(&a);
}

/* True A2M (rows differ in their inserts) and the same alignment padded to one width. */
static void test_a2m_inserts(void)
{
    const char *a2m = ">F/5-12 focus\nMKlVLA-TW\n>r2\nMKVLAGTW\n>r3\nMKaaVLA-TW\n>r4\nMK.VLA-TW\n"
                      ">bad\nMKVXAGTW\n>r6 x only in an insert\nMKxVLAGTW\n";
    const char *wide = ">F/5-12 focus\nMK.l.VLA-TW\n>r2\nMK...VLAGTW\n>r3\nMKaa.VLA-TW\n"
                       ">r4\nMK...VLA-TW\n>bad\nMK...VXAGTW\n>r6\nMKx..VLAGTW\n";
    dgm_alignment a, b;
    dgm_err err = {0};
    CHECK(dgm_alignment_read(&a, write_tmp("a.a2m", a2m), NULL, &err) == DGM_OK);
    CHECK(dgm_alignment_read(&b, write_tmp("w.a2m", wide), NULL, &err) == DGM_OK);
    CHECK_EQ_INT(a.n, 5);
    CHECK_EQ_INT(a.n_read, 6);
    CHECK_EQ_INT(a.n_bad_letter, 1);
    CHECK_EQ_INT(a.L, 8);
    CHECK(!strcmp(a.focus_residues, "MKLVLATW"));
    const long pos[8] = {5, 6, 8, 9, 10, -1, 11, 12};
    for (int l = 0; l < 8; l++)
        CHECK_EQ_INT(a.pos[l], pos[l]);
    const char *want[5] = {"MKVLA-TW", "MKVLAGTW", "MKVLA-TW", "MKVLA-TW", "MKVLAGTW"};
    for (int i = 0; i < 5; i++)
        for (int l = 0; l < 8; l++)
            CHECK_EQ_INT(DGM_AA_ALPHABET[a.seq[i * 8 + l]], want[i][l]);
    CHECK(!strcmp(a.names[4], "r6 x only in an insert"));
    CHECK(b.n == a.n && b.L == a.L && !memcmp(a.seq, b.seq, a.n * a.L));
    dgm_alignment_free(&a);
    dgm_alignment_free(&b);
}

static void test_stockholm(void)
{
    /* two blocks, markup, names with ranges; the equivalent FASTA */
    const char *sto = "# STOCKHOLM 1.0\n#=GF ID test\n\nF/3-9    MK.VLAT\nb/1-7    MKAVL-T\n"
                      "#=GC RF  xx.xxxx\n\nF/3-9    W-\nb/1-7    WY\n//\n";
    const char *fa = ">F/3-9\nMK.VLATW-\n>b/1-7\nMKAVL-TWY\n";
    dgm_alignment a, b;
    dgm_err err = {0};
    CHECK(dgm_alignment_read(&a, write_tmp("s.sto", sto), NULL, &err) == DGM_OK);
    CHECK(dgm_alignment_read(&b, write_tmp("s.fa", fa), NULL, &err) == DGM_OK);
    CHECK(a.n == 2 && b.n == 2 && a.L == 8 && b.L == 8);
    CHECK(!memcmp(a.seq, b.seq, 16));
    CHECK(!strcmp(a.names[1], "b/1-7") && a.focus_start == 3 && !strcmp(a.focus_name, "F"));
    dgm_alignment_free(&a);
    dgm_alignment_free(&b);
    /* HMMER's globins4: the focus HBB_HUMAN has '.' where it has no residue */
    CHECK(dgm_alignment_read(&a, "tests/data/protein/globins4.sto", NULL, &err) == DGM_OK);
    CHECK_EQ_INT(a.n, 4);
    CHECK(!strcmp(a.focus_name, "HBB_HUMAN") && a.focus_start == 1);
    CHECK_EQ_INT(a.L, strlen(a.focus_residues));
    CHECK_EQ_INT(a.L, 146); /* human beta globin without its initial Met */
    CHECK(!strncmp(a.focus_residues, "VHLTPEEKSAVTALWGKV", 18));
    CHECK(!strcmp(a.names[3], "GLB5_PETMA"));
    dgm_alignment_free(&a);
    /* a range start beyond any residue number is no range (fuzz_a2m: it overflowed) */
    CHECK(dgm_alignment_read(&a, write_tmp("big.fa", ">F/9223372036854775807-9\nMK\n>b\nMA\n"),
                             NULL, &err) == DGM_OK);
    CHECK(a.focus_start == 1 && !strcmp(a.focus_name, "F/9223372036854775807-9"));
    CHECK(a.pos[0] == 1 && a.pos[1] == 2);
    dgm_alignment_free(&a);
}

/* err.msg must start with the expected "path:line:char:" prefix */
static void expect_error(const char *name, const char *text, int line, int ch, const char *what)
{
    dgm_alignment a;
    dgm_err err = {0};
    const char *path = write_tmp(name, text);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s:%d:%d: ", path, line, ch);
    dgm_status s = dgm_alignment_read(&a, path, NULL, &err);
    CHECK_MSG(s == DGM_ERR_FORMAT, "%s: status %d", name, s);
    CHECK_MSG(!strncmp(err.msg, prefix, strlen(prefix)) && strstr(err.msg, what),
              "%s: got '%s', want '%s...%s'", name, err.msg, prefix, what);
}

static void test_errors(void)
{
    expect_error("short.fa", ">F\nMKVLA\n>r2\nMKVL\n", 4, 5, "ragged");
    expect_error("long.fa", ">F\nMKVLA\n>r2\nMK\nVLAG\n", 5, 4, "ragged");
    expect_error("empty.fa", "", 1, 1, "empty alignment");
    expect_error("blank.fa", "\n\n", 2, 1, "empty alignment");
    expect_error("nocols.a2m", ">F\nmkvla\n>r\nMKVLA\n", 1, 1, "empty alignment");
    expect_error("focusx.fa", ">F\nMKXLA\n>r\nMKVLA\n", 2, 3, "outside the alphabet");
    expect_error("ragged.sto", "# STOCKHOLM 1.0\nF MKVLA\nr MKVL\n//\n", 3, 7, "ragged");
    expect_error("nohdr.fa", "MKVLA\n", 1, 1, "before the first");
    /* a Stockholm file cut off before its "//": at a block boundary nothing else is wrong */
    expect_error("open.sto", "# STOCKHOLM 1.0\nF MKV\nr MKV\n\nF LA\nr LA\n", 6, 1,
                 "no closing '//' line; the last line read is 'r LA'");
    expect_error("cut.sto", "# STOCKHOLM 1.0\nF MKV\nr MKV\n\n", 3, 1,
                 "no closing '//' line; the last line read is 'r MKV'");
    expect_error("hdronly.sto", "# STOCKHOLM 1.0\n", 1, 1, "no closing '//'");
    dgm_alignment a;
    dgm_err err = {0};
    CHECK(dgm_alignment_read(&a, "/nonexistent/x.a2m", NULL, &err) == DGM_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/x.a2m") != NULL);
}

static void test_filters(void)
{
    /* 4 columns; r2 has half gaps, r3 three quarters; over F, r1, r2 the gap fractions of
     * the columns are 0, 1/3, 1/3, 0 */
    const char *t = ">F\nMKVL\n>r1\nMKVC\n>r2\nM--L\n>r3\n-K--\n";
    dgm_align_cfg c = {0.5, 1.0};
    dgm_alignment a;
    dgm_err err = {0};
    const char *path = write_tmp("gaps.fa", t);
    CHECK(dgm_alignment_read(&a, path, &c, &err) == DGM_OK);
    CHECK(a.n == 3 && a.n_gappy == 1 && a.L == 4);
    dgm_alignment_free(&a);
    c.max_col_gap = 0.3;
    CHECK(dgm_alignment_read(&a, path, &c, &err) == DGM_OK);
    CHECK(a.n == 3 && a.L == 2 && a.L_focus == 4);
    CHECK(a.pos[0] == 1 && a.pos[1] == 4 && a.seq[0] == 10 && a.seq[1] == 9 && a.seq[3] == 1);
    dgm_alignment_free(&a);
    c.max_col_gap = 0.34;
    CHECK(dgm_alignment_read(&a, path, &c, &err) == DGM_OK);
    CHECK(a.n == 3 && a.L == 4);
    dgm_alignment_free(&a);
    c.max_col_gap = 2;
    CHECK(dgm_alignment_read(&a, path, &c, &err) == DGM_ERR_ARG);
    /* the generic loader, directly and through format detection: a SEQ data set */
    dgm_dataset d;
    CHECK(dgm__alignment_load(&d, path, &err) == DGM_OK);
    CHECK(d.kind == DGM_DATA_SEQ && d.n == 4 && d.d == 4 && d.alphabet_size == 21);
    CHECK(!strcmp(d.alphabet, DGM_AA_ALPHABET) && !strcmp(d.names[2], "r2"));
    CHECK(d.seq[2 * 4 + 1] == DGM_AA_GAP && d.seq[3 * 4 + 1] == 8 /* K */);
    dgm_data_free(&d);
    CHECK(dgm_data_load(&d, SLICE, NULL, &err) == DGM_OK);
    CHECK(d.kind == DGM_DATA_SEQ && d.n == 46 && d.d == 253);
    dgm_data_free(&d);
}

static void test_onehot_fasta(void)
{
    dgm_alignment a;
    dgm_err err = {0};
    CHECK(dgm_alignment_read(&a, SLICE, NULL, &err) == DGM_OK);
    size_t n = a.n, L = a.L;
    float *x = malloc(n * L * DGM_AA_N * sizeof *x);
    uint8_t *back = malloc(n * L);
    dgm_seq_onehot(x, a.seq, n, L);
    double ones = dgm_sum(x, n * L * DGM_AA_N);
    size_t gaps = 0;
    for (size_t i = 0; i < n * L; i++)
        gaps += a.seq[i] == DGM_AA_GAP;
    CHECK_EQ_INT((size_t)ones, n * L - gaps); /* one 1 per non-gap position, gaps all zero */
    dgm_seq_from_onehot(back, x, n, L);
    CHECK(!memcmp(back, a.seq, n * L));
    /* FASTA out and back in: the same letters (all columns upper case now) */
    char path[300];
    snprintf(path, sizeof path, "%s/out.fasta", tmpdir);
    CHECK(dgm_fasta_write(path, a.seq, n, L, (const char *const *)a.names, &err) == DGM_OK);
    dgm_alignment b;
    CHECK(dgm_alignment_read(&b, path, NULL, &err) == DGM_OK);
    CHECK(b.n == n && b.L == L && !memcmp(b.seq, a.seq, n * L));
    CHECK(!strcmp(b.names[5], a.names[5]));
    dgm_alignment_free(&b);
    free(x);
    free(back);
    dgm_alignment_free(&a);
}

// ------------------------------------------------------------------------------- weights

/* The definitions, pair by pair. */
static double brute_weights(double *w, const uint8_t *x, size_t n, size_t L, double theta,
                            dgm_seqw_rule rule)
{
    double neff = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        for (size_t j = 0; j < n; j++) {
            size_t same = 0, count = 0;
            for (size_t l = 0; l < L; l++) {
                uint8_t a = x[i * L + l], b = x[j * L + l];
                if (rule == DGM_SEQW_PLMC) {
                    same += a == b;
                    count++;
                } else if (a != DGM_AA_GAP) {
                    same += a == b;
                    count++;
                }
            }
            /* exact rational comparisons: same/count > 1 - theta, same/L >= 1 - theta */
            int nb = rule == DGM_SEQW_PLMC ? (double)same >= (1 - theta) * (double)L - 1e-9
                                           : (double)same > (1 - theta) * (double)count + 1e-9;
            k += nb || i == j;
        }
        w[i] = 1.0 / (double)k;
        neff += w[i];
    }
    return neff;
}

static void check_weights(const uint8_t *x, size_t n, size_t L, const char *what)
{
    double *w = malloc(n * sizeof *w), *b = malloc(n * sizeof *b), *w1 = malloc(n * sizeof *w1);
    dgm_err err = {0};
    const double thetas[4] = {0.2, 0.5, 0.05, 1.0};
    for (int r = 0; r < 2; r++)
        for (int t = 0; t < 4; t++) {
            double neff, nb, neff1;
            dgm_set_threads(2);
            CHECK(dgm_seq_weights(w, &neff, x, n, L, thetas[t], (dgm_seqw_rule)r, &err) == DGM_OK);
            dgm_set_threads(1);
            CHECK(dgm_seq_weights(w1, &neff1, x, n, L, thetas[t], (dgm_seqw_rule)r, &err) == DGM_OK);
            nb = brute_weights(b, x, n, L, thetas[t], (dgm_seqw_rule)r);
            CHECK_MSG(!memcmp(w, b, n * sizeof *w), "%s rule %d theta %g: Neff %.4f, brute force %.4f",
                      what, r, thetas[t], neff, nb);
            CHECK(!memcmp(w, w1, n * sizeof *w) && neff == neff1);
            CHECK_NEAR(neff, nb, 1e-9 * nb);
        }
    dgm_set_threads(2);
    free(w);
    free(b);
    free(w1);
}

static void test_weights_slice(void)
{
    dgm_alignment a;
    dgm_err err = {0};
    CHECK(dgm_alignment_read(&a, SLICE, NULL, &err) == DGM_OK);
    check_weights(a.seq, a.n, a.L, "BLAT slice");
    dgm_alignment_free(&a);
}

/* Clusters of near copies with gaps, L = 130 (a partial last 64-bit word), and ties: with
 * L' = 125 non-gap positions, 100 identities is exactly 0.8. */
static void test_weights_synthetic(void)
{
    enum { n = 160, L = 130 };
    static uint8_t x[n * L];
    dgm_rng r;
    dgm_rng_init(&r, 77);
    for (size_t c = 0; c < 8; c++) {
        uint8_t base[L];
        for (size_t l = 0; l < L; l++)
            base[l] = (uint8_t)dgm_rng_below(&r, 21);
        for (size_t i = c * 20; i < c * 20 + 20; i++)
            for (size_t l = 0; l < L; l++) {
                double u = dgm_rng_uniform_d(&r);
                x[i * L + l] = u < 0.12 * (double)(i % 4) ? (uint8_t)dgm_rng_below(&r, 21) : base[l];
            }
    }
    /* an exact tie for theta 0.2: 125 non-gap letters, 100 shared with its neighbour */
    for (size_t l = 0; l < L; l++) {
        x[l] = l < 5 ? DGM_AA_GAP : (uint8_t)(l % 20);
        x[L + l] = l < 5 ? DGM_AA_GAP : l < 105 ? (uint8_t)(l % 20) : (uint8_t)((l + 1) % 20);
    }
    check_weights(x, n, L, "synthetic");
    dgm_err err = {0};
    double w[n], neff;
    CHECK(dgm_seq_weights(w, &neff, x, n, L, 1.5, DGM_SEQW_DEEPSEQ, &err) == DGM_ERR_ARG);
    x[7] = 21;
    CHECK(dgm_seq_weights(w, &neff, x, n, L, 0.2, DGM_SEQW_DEEPSEQ, &err) == DGM_ERR_ARG);
}

/* DeepSequence's BLAT_ECOLX alignment: 8,355 sequences after dropping, Neff = 2605.0. */
static void test_weights_blat_full(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/protein/BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_"
             "id100_b105.a2m", test_shared_data());
    if (access(path, R_OK)) {
        TEST_SKIP(test_weights_blat_full, "the full BLAT_ECOLX alignment is not in ../shared/data");
        return;
    }
    dgm_alignment a;
    dgm_err err = {0};
    CHECK(dgm_alignment_read(&a, path, NULL, &err) == DGM_OK);
    CHECK_EQ_INT(a.n_read, 8403);
    CHECK_EQ_INT(a.n, 8355);
    double *w = malloc(a.n * sizeof *w), neff;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(dgm_seq_weights(w, &neff, a.seq, a.n, a.L, 0.2, DGM_SEQW_DEEPSEQ, &err) == DGM_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_NEAR(neff, 2605.0, 0.05);
    fprintf(stderr, "BLAT_ECOLX: %zu sequences weighted in %.3f s, Neff %.4f\n", a.n,
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec), neff);
    free(w);
    dgm_alignment_free(&a);
}

/* plmc's weights for DHFR.a2m (its test file): its rule over the columns where the focus
 * has a residue; plmc gives sequences with letters outside its alphabet weight 0, which
 * dgm drops, so the zeros are exactly the dropped rows. */
static void test_weights_plmc(void)
{
    char path[512], wpath[512];
    snprintf(path, sizeof path, "%s/protein/plmc/DHFR.a2m", test_shared_data());
    snprintf(wpath, sizeof wpath, "%s/protein/plmc/DHFR_weights_raw.txt", test_shared_data());
    if (access(path, R_OK) || access(wpath, R_OK)) {
        TEST_SKIP(test_weights_plmc, "plmc's DHFR files are not in ../shared/data");
        return;
    }
    dgm_alignment a;
    dgm_err err = {0};
    CHECK(dgm_alignment_read(&a, path, NULL, &err) == DGM_OK);
    size_t L = 0;
    for (size_t l = 0; l < a.L; l++)
        L += a.pos[l] >= 0;
    uint8_t *x = malloc(a.n * L);
    for (size_t i = 0; i < a.n; i++)
        for (size_t l = 0, k = 0; l < a.L; l++)
            if (a.pos[l] >= 0)
                x[i * L + k++] = a.seq[i * a.L + l];
    double *w = malloc(a.n * sizeof *w), neff;
    CHECK(dgm_seq_weights(w, &neff, x, a.n, L, 0.2, DGM_SEQW_PLMC, &err) == DGM_OK);
    FILE *f = fopen(wpath, "r");
    size_t k = 0, zeros = 0, bad = 0;
    double v;
    while (fscanf(f, "%lf", &v) == 1) {
        if (v == 0) {
            zeros++;
            continue;
        }
        bad += k >= a.n || fabs(w[k] - v) > 1e-12 * v;
        k++;
    }
    fclose(f);
    CHECK_EQ_INT(k + zeros, a.n_read);
    CHECK_EQ_INT(zeros, a.n_bad_letter);
    CHECK_EQ_INT(k, a.n);
    CHECK_MSG(bad == 0, "%zu of %zu weights differ from plmc's", bad, k);
    free(x);
    free(w);
    dgm_alignment_free(&a);
}

int main(void)
{
    dgm_set_threads(2);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    TEST_RUN(test_blat_slice);
    TEST_RUN(test_a2m_inserts);
    TEST_RUN(test_stockholm);
    TEST_RUN(test_errors);
    TEST_RUN(test_filters);
    TEST_RUN(test_onehot_fasta);
    TEST_RUN(test_weights_slice);
    TEST_RUN(test_weights_synthetic);
    TEST_RUN(test_weights_blat_full);
    TEST_RUN(test_weights_plmc);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) { /* best effort */ }
    TEST_MAIN_END("test_alignment");
}
