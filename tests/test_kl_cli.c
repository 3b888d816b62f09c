/* End-to-end checks of `dgm kl` and `dgm loglik`, running the dgm binary built beside this
 * test (BUILD/dgm for BUILD/tests/test_kl_cli): the exact discrete value, method inference
 * and its one-column ambiguity, JSON specs, the infinite case, k-NN output keys, closed
 * form vs Monte Carlo between two fitted Gaussian models, the log-likelihood of a Gaussian
 * fitted by maximum likelihood on its own data (closed form -1/2 (D log 2 pi e + log|S|)),
 * and bad input: each error is one line naming the file (and line). */
#include "dgm.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <libgen.h>
#include <unistd.h>

static char dgm_bin[1024], dir[64];
static char out[1 << 16], errtxt[4096];

static void slurp(char *buf, size_t cap, const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs `dgm ARGS` in the temporary folder; returns the exit status. */
static int run(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s >out.txt 2>err.txt", dir, dgm_bin, args);
    int rc = system(cmd);
    char p[128];
    snprintf(p, sizeof p, "%s/out.txt", dir);
    slurp(out, sizeof out, p);
    snprintf(p, sizeof p, "%s/err.txt", dir);
    slurp(errtxt, sizeof errtxt, p);
    return rc;
}

static void write_file(const char *name, const char *text)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

static int one_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return nl && nl[1] == '\0';
}

/* A failing command whose one-line message holds every needle. */
#define CHECK_FAILS(args, ...) do { \
    const char *needles_[] = {__VA_ARGS__}; \
    CHECK_MSG(run(args) != 0, "%s: exit 0", args); \
    CHECK_MSG(one_line(errtxt), "%s: not one line: %s", args, errtxt); \
    for (size_t i_ = 0; i_ < sizeof needles_ / sizeof *needles_; i_++) \
        CHECK_MSG(strstr(errtxt, needles_[i_]) != NULL, "%s: '%s' not in: %s", args, \
                  needles_[i_], errtxt); } while (0)

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_discrete(void)
{
    write_file("p.csv", "0.5\n0.5\n");
    write_file("q.csv", "0.9\n0.1\n");
    write_file("pq.csv", "p,q\n1,9\n1,1\n");
    CHECK(run("kl p.csv q.csv --method discrete --json") == 0);
    cJSON *o = cJSON_Parse(out);
    CHECK_MSG(o != NULL, "not JSON: %s", out);
    CHECK_NEAR(jnum(o, "kl_nats"), 0.5108256237659907, 1e-12);
    CHECK(jnum(o, "stderr") == 0 && jnum(o, "n") == 0);
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "method")), "discrete"));
    cJSON_Delete(o);
    CHECK(run("kl pq.csv --json") == 0); /* one file, two columns: P and Q as counts */
    o = cJSON_Parse(out);
    CHECK_NEAR(jnum(o, "kl_nats"), log(5.0 / 3.0), 1e-12);
    cJSON_Delete(o);
    /* the same tables written as one row each */
    write_file("pr.csv", "0.5,0.5\n");
    write_file("qr.csv", "0.9,0.1\n");
    CHECK(run("kl pr.csv qr.csv --method discrete --json") == 0);
    o = cJSON_Parse(out);
    CHECK_NEAR(jnum(o, "kl_nats"), 0.5108256237659907, 1e-12);
    cJSON_Delete(o);
    CHECK(run("kl p.csv q.csv --method discrete --bits") == 0);
    CHECK_MSG(strstr(out, "0.7369655942 bits") != NULL, "%s", out); /* log2(5/3) */
    write_file("z.csv", "1\n0\n");
    CHECK(run("kl p.csv z.csv --method discrete --json") == 0);
    o = cJSON_Parse(out);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "kl_nats")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(o, "kl_infinite")));
    cJSON_Delete(o);
    CHECK_FAILS("kl p.csv q.csv", "p.csv has one column", "--method");
    write_file("neg.csv", "0.5\n-0.5\n");
    CHECK_FAILS("kl p.csv neg.csv --method discrete", "dgm kl: neg.csv: line 2", "negative");
}

static void test_specs(void)
{
    write_file("a.json", "{\"family\":\"gaussian\",\"mean\":[0],\"var\":[1]}");
    write_file("b.json", "{\"family\":\"gaussian\",\"mean\":[1],\"cov\":[[4]]}");
    write_file("c.json", "{\"family\":\"bernoulli\",\"p\":[0.5]}");
    CHECK(run("kl a.json b.json --json") == 0);
    cJSON *o = cJSON_Parse(out);
    CHECK_NEAR(jnum(o, "kl_nats"), log(2.0) + 0.25 - 0.5, 1e-14);
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "method")), "closed"));
    cJSON_Delete(o);
    CHECK_FAILS("kl a.json c.json", "different supports");
    write_file("bad.json", "{\"family\":\"gaussian\",\n\"mean\":[0],\"var\":[-1]}");
    CHECK_FAILS("kl a.json bad.json", "bad.json: var[0] = -1 is not > 0");
}

static void test_knn(void)
{
    char *x = malloc(1 << 16), *y = malloc(1 << 16);
    size_t nx = 0, ny = 0;
    dgm_rng r;
    dgm_rng_init(&r, 3);
    for (int i = 0; i < 400; i++) {
        nx += (size_t)sprintf(x + nx, "%.6f,%.6f\n", dgm_rng_normal(&r), dgm_rng_normal(&r));
        ny += (size_t)sprintf(y + ny, "%.6f,%.6f\n", dgm_rng_normal(&r) + 1, dgm_rng_normal(&r));
    }
    write_file("x.csv", x);
    write_file("y.csv", y);
    CHECK(run("kl x.csv y.csv --json --neighbours 2") == 0); /* two columns: knn inferred */
    cJSON *o = cJSON_Parse(out);
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "method")), "knn"));
    double kl = jnum(o, "kl_nats"), se = jnum(o, "stderr");
    CHECK(jnum(o, "n") == 400 && se > 0);
    CHECK(jnum(o, "ci_low") < kl && kl < jnum(o, "ci_high"));
    CHECK_NEAR(kl, 0.5, 4 * se + 0.05); /* 2-D mean shift; bias at n = 400 is small */
    cJSON_Delete(o);
    write_file("rag.csv", "1,2\n3,4\n5\n");
    CHECK_FAILS("kl rag.csv y.csv", "rag.csv", "line 3");
    write_file("nan.csv", "1,2\nnan,4\n5,6\n");
    CHECK_FAILS("kl nan.csv y.csv", "nan.csv", "line 2");
    write_file("three.csv", "1,2,3\n4,5,6\n7,8,9\n");
    CHECK_FAILS("kl x.csv three.csv", "x.csv has 2 columns but three.csv has 3");
    write_file("few.csv", "1,2\n3,4\n");
    CHECK_FAILS("kl few.csv y.csv --neighbours 2", "few.csv: 2 samples, fewer than k + 1 = 3");
    CHECK_FAILS("kl x.csv a.json", "a.json is a JSON spec but x.csv is data");
    free(x), free(y);
}

static void test_models(void)
{
    /* 500 correlated 2-D Gaussian rows; S is their (1/n) covariance */
    char *x = malloc(1 << 16);
    size_t nx = 0, n = 500;
    double s1 = 0, s2 = 0, s11 = 0, s22 = 0, s12 = 0;
    dgm_rng r;
    dgm_rng_init(&r, 4);
    for (size_t i = 0; i < n; i++) {
        double a = dgm_rng_normal(&r), b = 0.6 * a + 0.8 * dgm_rng_normal(&r) + 2;
        char line[64];
        snprintf(line, sizeof line, "%.6f,%.6f\n", a, b);
        sscanf(line, "%lf,%lf", &a, &b); /* the values as written */
        nx += (size_t)sprintf(x + nx, "%s", line);
        s1 += a, s2 += b, s11 += a * a, s22 += b * b, s12 += a * b;
    }
    write_file("g.csv", x);
    double m1 = s1 / n, m2 = s2 / n, c11 = s11 / n - m1 * m1, c22 = s22 / n - m2 * m2;
    double c12 = s12 / n - m1 * m2, logdet = log(c11 * c22 - c12 * c12);
    CHECK_MSG(run("train --model gaussian --data g.csv -o g.safetensors --threads 1") == 0, "%s",
              errtxt);
    CHECK(run("loglik g.safetensors --data g.csv --json") == 0);
    cJSON *o = cJSON_Parse(out);
    /* MLE Gaussian on its own data: tr(S^-1 S) = D, so mean log p = -1/2 (D log 2 pi e +
     * log|S|); reg_covar 1e-6 on the diagonal moves this by ~1e-6 */
    CHECK_NEAR(jnum(o, "loglik_mean_nats"), -0.5 * (2 * log(2 * M_PI * M_E) + logdet), 1e-4);
    CHECK_NEAR(jnum(o, "loglik_total_nats"), n * jnum(o, "loglik_mean_nats"), 1e-6 * n);
    CHECK_NEAR(jnum(o, "bits_per_dim"), -jnum(o, "loglik_mean_nats") / (2 * log(2.0)), 1e-12);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(o, "exact")) && jnum(o, "n") == n);
    cJSON_Delete(o);
    CHECK_FAILS("loglik g.safetensors --data three.csv", "three.csv", "dimension is 2");

    /* a second model (diagonal) and the KL between them: closed vs Monte Carlo */
    for (size_t i = 0, nh = 0; i < n; i++)
        nh += (size_t)sprintf(x + nh, "%.6f,%.6f\n", 1.5 * dgm_rng_normal(&r),
                              0.7 * dgm_rng_normal(&r) + 2);
    write_file("h.csv", x);
    CHECK(run("train --model gaussian --covariance diag --data h.csv -o h.safetensors") == 0);
    CHECK(run("kl g.safetensors h.safetensors --json") == 0);
    o = cJSON_Parse(out);
    double closed = jnum(o, "kl_nats");
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "method")), "closed"));
    cJSON_Delete(o);
    CHECK(run("kl g.safetensors h.safetensors --method mc --n 20000 --json") == 0);
    o = cJSON_Parse(out);
    CHECK(jnum(o, "n") == 20000);
    CHECK_NEAR(jnum(o, "kl_nats"), closed, 4 * jnum(o, "stderr"));
    cJSON_Delete(o);
    free(x);
}

int main(int argc, char **argv)
{
    (void)argc;
    char self[1024];
    snprintf(self, sizeof self, "%s", argv[0]);
    char *d = dirname(self); /* BUILD/tests */
    snprintf(dgm_bin, sizeof dgm_bin, "%s/../dgm", d);
    if (dgm_bin[0] != '/') { /* the commands run in a temporary folder */
        char cwd[512], rel[sizeof dgm_bin];
        memcpy(rel, dgm_bin, sizeof rel);
        if (getcwd(cwd, sizeof cwd) && strlen(cwd) + strlen(rel) + 2 <= sizeof dgm_bin) {
            strcpy(dgm_bin, cwd);
            strcat(dgm_bin, "/");
            strcat(dgm_bin, rel);
        }
    }
    if (access(dgm_bin, X_OK)) {
        TEST_SKIP(test_kl_cli, "the dgm binary is not built beside the tests");
        TEST_MAIN_END("test_kl_cli");
    }
    snprintf(dir, sizeof dir, "/tmp/dgm_kl_cli_XXXXXX");
    if (!mkdtemp(dir)) {
        TEST_SKIP(test_kl_cli, "cannot create a temporary folder");
        TEST_MAIN_END("test_kl_cli");
    }
    TEST_RUN(test_discrete);
    TEST_RUN(test_specs);
    TEST_RUN(test_knn);
    TEST_RUN(test_models);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {
    }
    TEST_MAIN_END("test_kl_cli");
}
