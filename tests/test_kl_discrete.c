/* Discrete KL, Jensen-Shannon and entropy: the exact value of the issue (log(5/3)), the
 * asymmetry, the infinite case, 0 log 0, count normalisation, smoothing; the table reader's
 * layouts and its errors, which name the file and line. */
#include "dgm.h"
#include "test.h"

#include <unistd.h>

static void test_exact_and_asymmetry(void)
{
    double p[2] = {0.5, 0.5}, q[2] = {0.9, 0.1}, kl;
    dgm_err e;
    CHECK(dgm_kl_discrete(&kl, p, q, 2, 0, &e) == DGM_OK);
    CHECK_NEAR(kl, 0.5108256237659907, 1e-12);
    CHECK_NEAR(kl, log(5.0 / 3.0), 1e-15); /* 1/2 log(1/4 / (9/100)) = log(5/3) */
    CHECK(dgm_kl_discrete(&kl, q, p, 2, 0, &e) == DGM_OK);
    CHECK_NEAR(kl, 0.9 * log(1.8) + 0.1 * log(0.2), 1e-15);
    CHECK(fabs(kl - log(5.0 / 3.0)) > 0.1);
    /* counts give the same tables after normalisation */
    double cp[2] = {7, 7}, cq[2] = {90, 10};
    CHECK(dgm_kl_discrete(&kl, cp, cq, 2, 0, &e) == DGM_OK);
    CHECK_NEAR(kl, log(5.0 / 3.0), 1e-15);
    CHECK(dgm_kl_discrete(&kl, p, p, 2, 0, &e) == DGM_OK);
    CHECK(kl == 0.0);
}

static void test_infinite_and_zeros(void)
{
    double p[3] = {0.5, 0.5, 0.0}, q[3] = {1.0, 0.0, 0.0}, r[3] = {0.25, 0.25, 0.5}, kl;
    dgm_err e;
    CHECK(dgm_kl_discrete(&kl, p, q, 3, 0, &e) == DGM_OK);
    CHECK(isinf(kl) && kl > 0); /* q = 0 < p: +inf, never NaN */
    CHECK(dgm_kl_discrete(&kl, q, p, 3, 0, &e) == DGM_OK);
    CHECK_NEAR(kl, log(2.0), 1e-15); /* 0 log(0/0.5) and 0 log(0/0) count as 0 */
    CHECK(dgm_kl_discrete(&kl, p, r, 3, 0, &e) == DGM_OK);
    CHECK_NEAR(kl, log(2.0), 1e-15);
    /* smoothing turns the infinite case finite: alpha added to every count */
    double a = 0.5, want = 0;
    double ps[3] = {0.5 + a, 0.5 + a, a}, qs[3] = {1 + a, a, a};
    double sp = ps[0] + ps[1] + ps[2], sq = qs[0] + qs[1] + qs[2];
    for (int i = 0; i < 3; i++)
        want += ps[i] / sp * log((ps[i] / sp) / (qs[i] / sq));
    CHECK(dgm_kl_discrete(&kl, p, q, 3, a, &e) == DGM_OK);
    CHECK_NEAR(kl, want, 1e-15);
}

static void test_js_entropy(void)
{
    double p[4] = {0.5, 0.5, 0, 0}, q[4] = {0, 0, 0.25, 0.75}, u[4] = {1, 1, 1, 1}, v;
    dgm_err e;
    CHECK(dgm_js_discrete(&v, p, q, 4, 0, &e) == DGM_OK);
    CHECK_NEAR(v, log(2.0), 1e-15); /* disjoint supports: the maximum */
    CHECK(dgm_js_discrete(&v, p, p, 4, 0, &e) == DGM_OK);
    CHECK(v == 0.0);
    double a[3] = {0.2, 0.3, 0.5}, b[3] = {0.6, 0.3, 0.1}, js1, js2, m[3], want = 0;
    for (int i = 0; i < 3; i++)
        m[i] = (a[i] + b[i]) / 2, want += 0.5 * (a[i] * log(a[i] / m[i]) + b[i] * log(b[i] / m[i]));
    CHECK(dgm_js_discrete(&js1, a, b, 3, 0, &e) == DGM_OK);
    CHECK(dgm_js_discrete(&js2, b, a, 3, 0, &e) == DGM_OK);
    CHECK_NEAR(js1, want, 1e-15);
    CHECK(js1 == js2);
    CHECK(dgm_entropy_discrete(&v, u, 4, 0, &e) == DGM_OK);
    CHECK_NEAR(v, log(4.0), 1e-15);
    CHECK(dgm_entropy_discrete(&v, p, 4, 0, &e) == DGM_OK);
    CHECK_NEAR(v, log(2.0), 1e-15);
}

static void test_bad_tables(void)
{
    double p[3] = {0.5, -0.1, 0.6}, q[3] = {0.3, 0.3, 0.4}, n[2] = {NAN, 1}, z[2] = {0, 0}, kl;
    dgm_err e;
    CHECK(dgm_kl_discrete(&kl, p, q, 3, 0, &e) == DGM_ERR_ARG);
    CHECK_MSG(strstr(e.msg, "p: entry 2 is negative") != NULL, "%s", e.msg);
    CHECK(dgm_kl_discrete(&kl, q, n, 2, 0, &e) == DGM_ERR_NAN);
    CHECK_MSG(strstr(e.msg, "q: entry 1 is not finite") != NULL, "%s", e.msg);
    CHECK(dgm_kl_discrete(&kl, z, z, 2, 0, &e) == DGM_ERR_ARG);
    CHECK(dgm_kl_discrete(&kl, q, q, 2, -1, &e) == DGM_ERR_ARG);
}

/* Writes text to a fresh temporary file; returns its path (static buffer per call slot). */
static const char *tmpfile_with(char *path, const char *text)
{
    strcpy(path, "/tmp/dgm_test_kl_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_table_load(void)
{
    char path[64];
    double *t;
    size_t R, C;
    dgm_err e;
    CHECK(tmpfile_with(path, "0.5\n0.5\n") != NULL);
    CHECK(dgm_kl_table_load(&t, &R, &C, path, &e) == DGM_OK);
    CHECK_EQ_INT(R, 2);
    CHECK_EQ_INT(C, 1);
    CHECK(t[0] == 0.5 && t[1] == 0.5);
    free(t);
    unlink(path);
    /* header, comment, blank line, two columns, large counts kept exact in double */
    tmpfile_with(path, "p,q\n# comment\n0.1, 0.9\n\n16777217,3\n");
    CHECK(dgm_kl_table_load(&t, &R, &C, path, &e) == DGM_OK);
    CHECK_EQ_INT(R, 2);
    CHECK_EQ_INT(C, 2);
    CHECK(t[0] == 0.1 && t[1] == 0.9 && t[2] == 16777217.0 && t[3] == 3.0);
    free(t);
    unlink(path);
    tmpfile_with(path, "1 2\n3\t4\n");
    CHECK(dgm_kl_table_load(&t, &R, &C, path, &e) == DGM_OK);
    CHECK(R == 2 && C == 2 && t[2] == 3.0);
    free(t);
    unlink(path);

    struct { const char *text, *want; } bad[] = {
        {"0.1,0.2\n0.3,0.4\n0.5\n", "line 3: 1 values, but line 1 has 2"},
        {"0.5\n-0.5\n", "line 2, column 1: -0.5 is negative"},
        {"0.5\nnan\n", "line 2, column 1: 'nan' is not a finite number"},
        {"0.5\n0.5x\n", "line 2, column 1: '0.5x' is not a number"},
        {"1,,2\n", "line 1, column 2: '' is not a number"},
        {"# nothing\n", "no numbers"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tmpfile_with(path, bad[i].text);
        t = (double *)1;
        CHECK(dgm_kl_table_load(&t, &R, &C, path, &e) != DGM_OK);
        CHECK(t == NULL);
        CHECK_MSG(strstr(e.msg, path) != NULL && strstr(e.msg, bad[i].want) != NULL,
                  "case %zu: '%s'", i, e.msg);
        unlink(path);
    }
    CHECK(dgm_kl_table_load(&t, &R, &C, "/nonexistent/table.csv", &e) == DGM_ERR_IO);
    CHECK(strstr(e.msg, "/nonexistent/table.csv") != NULL);
}

int main(void)
{
    TEST_RUN(test_exact_and_asymmetry);
    TEST_RUN(test_infinite_and_zeros);
    TEST_RUN(test_js_entropy);
    TEST_RUN(test_bad_tables);
    TEST_RUN(test_table_load);
    TEST_MAIN_END("test_kl_discrete");
}
