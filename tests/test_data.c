/* Tests for src/data: IDX (plain and gzip, labels found beside images), CSV and NPY
 * readers on hand-written files (the bytes are built here, not by dgm's writers), numpy-
 * written NPY files when /usr/bin/python3 has numpy, every bad-input case giving the right
 * status and a message naming the file (and line for CSV), label files, format detection,
 * the Fashion-MNIST loader (checked against a direct zlib decode; skipped when the data
 * set is not installed), subsets, binarization/dequantization moments, and the compact
 * 8-bit form (dgm_data_load_8bit, dgm_data_example) agreeing bit for bit with the float
 * form, random draws included. */
#include "dgm.h"
#include "test.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static char tdir[256];

static const char *tp(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tdir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "cannot write fixture %s\n", path);
        exit(2);
    }
    fclose(f);
}

static void write_text(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

static void write_gz(const char *path, const void *p, size_t n)
{
    gzFile g = gzopen(path, "wb");
    if (!g || gzwrite(g, p, (unsigned)n) != (int)n) {
        fprintf(stderr, "cannot write fixture %s\n", path);
        exit(2);
    }
    gzclose(g);
}

static int has(const char *msg, const char *s) { return strstr(msg, s) != NULL; }

static void remove_tdir(void)
{
    DIR *d = opendir(tdir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            remove(tp(e->d_name));
    if (d)
        closedir(d);
    rmdir(tdir);
}

/* Loads path expecting failure `want` with every word of `words` (NULL-terminated) in the
 * message; the data set must come back empty. */
static void expect_fail(const char *path, const char *labels, dgm_status want,
                        const char *const *words, int line)
{
    dgm_dataset d;
    dgm_err err = {0};
    dgm_status s = dgm_data_load(&d, path, labels, &err);
    CHECK_MSG(s == want, "line %d: status %d, want %d (%s)", line, s, want, err.msg);
    CHECK_MSG(d.x == NULL && d.y == NULL && d.n == 0, "line %d: data set not left empty", line);
    for (int i = 0; words && words[i]; i++)
        CHECK_MSG(has(err.msg, words[i]), "line %d: '%s' not in: %s", line, words[i], err.msg);
    dgm_data_free(&d);
}

#define EXPECT_FAIL(path, labels, want, ...) \
    expect_fail(path, labels, want, (const char *const[]){__VA_ARGS__, NULL}, __LINE__)

// --------------------------------------------------------------------------------- IDX

/* IDX bytes: u8 magic type 0x08, ndim, big-endian dims, then `data`. */
static size_t idx_bytes(unsigned char *out, int ndim, const uint32_t *dims,
                        const unsigned char *data, size_t n)
{
    out[0] = out[1] = 0;
    out[2] = 8;
    out[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++)
        for (int k = 0; k < 4; k++)
            out[4 + 4 * i + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
    memcpy(out + 4 + 4 * ndim, data, n);
    return 4 + 4 * (size_t)ndim + n;
}

/* Three 2x2 images and their labels as an IDX pair, plain or gzip-compressed. */
static void write_idx_pair(const char *img, const char *lp, int gz, const unsigned char *pix,
                           const unsigned char *lab)
{
    unsigned char buf[256];
    const uint32_t di[3] = {3, 2, 2}, dl[1] = {3};
    size_t n = idx_bytes(buf, 3, di, pix, 12);
    gz ? write_gz(img, buf, n) : write_bytes(img, buf, n);
    n = idx_bytes(buf, 1, dl, lab, 3);
    gz ? write_gz(lp, buf, n) : write_bytes(lp, buf, n);
}

static void test_idx(void)
{
    unsigned char pix[3 * 2 * 2], lab[3] = {4, 0, 2};
    for (int i = 0; i < 12; i++)
        pix[i] = (unsigned char)(i * 23);
    for (int gz = 0; gz < 2; gz++) {
        const char *img = tp(gz ? "a-images-idx3-ubyte.gz" : "b-images-idx3-ubyte");
        const char *lp = tp(gz ? "a-labels-idx1-ubyte.gz" : "b-labels-idx1-ubyte");
        write_idx_pair(img, lp, gz, pix, lab);

        dgm_dataset d;
        dgm_err err = {0};
        CHECK_EQ_INT(dgm_data_load(&d, img, NULL, &err), DGM_OK);
        CHECK(d.kind == DGM_DATA_REAL && d.n == 3 && d.d == 4 && d.height == 2 &&
              d.width == 2 && d.is_8bit);
        for (int i = 0; d.x && i < 12; i++)
            CHECK(d.x[i] == (float)pix[i] / 255.0f);
        CHECK(d.y && d.y[0] == 4 && d.y[1] == 0 && d.y[2] == 2);
        CHECK_EQ_INT(d.n_classes, 5); /* max + 1 */
        CHECK(strcmp(d.source, img) == 0);
        CHECK(dgm_data_class_name(&d, 0) == NULL);
        dgm_data_free(&d);
    }
}

static void test_idx_errors(void)
{
    unsigned char pix[12] = {0}, buf[256];
    const uint32_t di[3] = {3, 2, 2}, dl[1] = {2};
    const char *p = tp("bad-images-idx3-ubyte");

    size_t n = idx_bytes(buf, 3, di, pix, 12);
    buf[2] = 0x0D; /* float elements */
    write_bytes(p, buf, n);
    EXPECT_FAIL(p, NULL, DGM_ERR_UNSUPPORTED, p, "0x0d", "float");
    buf[2] = 0x42;
    write_bytes(p, buf, n);
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "0x42");
    buf[2] = 8;
    write_bytes(p, buf, n - 2); /* truncated data: 10 of 12 bytes */
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "truncated", "12", "10");
    write_gz(p, buf, n - 2);
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "truncated", "12", "10");
    write_bytes(p, buf, 10); /* truncated header */
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "header");
    buf[n] = 7;
    write_bytes(p, buf, n + 1);
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "more data");

    const uint32_t zero[3] = {0, 28, 28}, huge[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
    write_bytes(p, buf, idx_bytes(buf, 3, zero, pix, 0));
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "zero");
    write_bytes(p, buf, idx_bytes(buf, 3, huge, pix, 12));
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "implausible");
    const uint32_t big[3] = {1000000, 28, 28}; /* plausible header, little data */
    write_bytes(p, buf, idx_bytes(buf, 3, big, pix, 12));
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "784000000", "12");

    /* A damaged gzip stream (bytes flipped inside the deflate data). */
    unsigned char rnd[4096];
    dgm_rng rng;
    dgm_rng_init(&rng, 3);
    for (size_t i = 0; i < sizeof rnd; i++)
        rnd[i] = (unsigned char)dgm_rng_u32(&rng);
    const uint32_t dr[3] = {4, 32, 32};
    n = idx_bytes(buf, 3, dr, rnd, 0);
    unsigned char *whole = malloc(n + sizeof rnd);
    memcpy(whole, buf, n);
    memcpy(whole + n, rnd, sizeof rnd);
    write_gz(p, whole, n + sizeof rnd);
    free(whole);
    FILE *f = fopen(p, "r+b");
    fseek(f, 200, SEEK_SET);
    fwrite("\xff\x00\xff\x00\xff\x00\xff\x00", 1, 8, f);
    fclose(f);
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p);

    /* Image and label counts that differ; a 1-D file given as data. */
    write_bytes(p, buf, idx_bytes(buf, 3, di, pix, 12));
    const char *lp = tp("bad-labels-idx1-ubyte");
    write_bytes(lp, buf + 64, idx_bytes(buf + 64, 1, dl, pix, 2));
    EXPECT_FAIL(p, NULL, DGM_ERR_SHAPE, lp, "2 labels", "3 examples");
    EXPECT_FAIL(lp, NULL, DGM_ERR_FORMAT, lp, "1-D");
    EXPECT_FAIL(p, p, DGM_ERR_FORMAT, p, "label");
    EXPECT_FAIL(tp("nonexistent-images-idx3-ubyte"), NULL, DGM_ERR_IO, "nonexistent");
}

// --------------------------------------------------------------------------------- CSV

static void test_csv(void)
{
    const char *p = tp("ok.csv");
    write_text(p, "# made by hand\n"
                  "a, b ,\"c\"\n"
                  "\n"
                  "1, 2.5, -3e2\r\n"
                  "   # indented comment\n"
                  "0x10,\"4\",  .5\n"
                  "7,8,9"); /* no final newline */
    dgm_dataset d;
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_data_load(&d, p, NULL, &err), DGM_OK);
    const float want[9] = {1, 2.5f, -300, 16, 4, 0.5f, 7, 8, 9};
    CHECK(d.n == 3 && d.d == 3 && !d.y && !d.is_8bit && d.height == 0);
    for (int i = 0; d.x && i < 9; i++)
        CHECK(d.x[i] == want[i]);
    dgm_data_free(&d);

    /* pandas' DataFrame.to_csv(): an index column under an empty header field, here
     * with pandas' default column names 0, 1 */
    write_text(p, ",0,1\n0,0.5,0.25\n1,1.5,2\n2,-1,3\n");
    CHECK_EQ_INT(dgm_data_load(&d, p, NULL, &err), DGM_OK);
    CHECK_MSG(d.n == 3 && d.d == 2 && d.x && d.x[0] == 0.5f && d.x[1] == 0.25f && d.x[5] == 3,
              "n %zu d %zu", d.n, d.d);
    dgm_data_free(&d);
    write_text(p, ",a,b\nr1,1,2\nr2,3\n"); /* a row short of the header's fields */
    CHECK(dgm_data_load(&d, p, NULL, &err) == DGM_ERR_FORMAT &&
          strstr(err.msg, "line 3 has 2 fields, expected 3"));

    write_text(p, "5\n6\n"); /* no header, one column */
    CHECK_EQ_INT(dgm_data_load(&d, p, NULL, &err), DGM_OK);
    CHECK(d.n == 2 && d.d == 1 && d.x && d.x[1] == 6);
    dgm_data_free(&d);
}

static void test_csv_errors(void)
{
    const char *p = tp("bad.csv");
    write_text(p, "x,y,z,w\n1,2,3,4\n\n# c\n5,6,7,8\n1,2,3,4\n1,2,3\n");
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "line 7 has 3 fields, expected 4");
    write_text(p, "1,2\n3,4\n5,6\n7,8\n9,nan\n");
    EXPECT_FAIL(p, NULL, DGM_ERR_NAN, p, "line 5, column 2: NaN");
    write_text(p, "1,nan\n3,4\n"); /* a bad number in the first row is not a header */
    EXPECT_FAIL(p, NULL, DGM_ERR_NAN, p, "line 1, column 2: NaN");
    write_text(p, "1,,3\n3,4,5\n");
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "line 1, column 2", "empty");
    write_text(p, "1,2\n3,-inf\n");
    EXPECT_FAIL(p, NULL, DGM_ERR_NAN, p, "line 2, column 2", "infinite");
    write_text(p, "1,2\n3,1e39\n");
    EXPECT_FAIL(p, NULL, DGM_ERR_NAN, p, "line 2, column 2", "float range");
    write_text(p, "a,b\n1,2\n3,x7\n");
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "line 3, column 2", "'x7' is not a number");
    write_text(p, "1,2\n3,\n");
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "line 2, column 2", "empty");
    write_text(p, "1,2\n3,4 5\n");
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "line 2, column 2");
    write_text(p, "# only a comment\nx,y\n\n");
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "no data");
    write_text(p, "   \n");
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "no data");
    write_text(p, "");
    EXPECT_FAIL(p, NULL, DGM_ERR_FORMAT, p, "empty");
    EXPECT_FAIL(tp("no-such.csv"), NULL, DGM_ERR_IO, "no-such.csv");
}

// --------------------------------------------------------------------------------- NPY

/* NPY bytes with header dict `dict` (version major), padded per the spec, then data. */
static size_t npy_bytes(unsigned char *out, int major, const char *dict, const void *data,
                        size_t n)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hl = total - pre;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    for (size_t k = 0; k < pre - 8; k++)
        out[8 + k] = (unsigned char)(hl >> (8 * k));
    memcpy(out + pre, dict, dl);
    memset(out + pre + dl, ' ', hl - dl - 1);
    out[total - 1] = '\n';
    memcpy(out + total, data, n);
    return total + n;
}

static void test_npy(void)
{
    unsigned char buf[1024];
    dgm_dataset d;
    dgm_err err = {0};
    const char *p = tp("a.npy");

    const double f8[6] = {0.5, -1.25, 3, 1e-3, 2, -7};
    write_bytes(p, buf, npy_bytes(buf, 1, "{'descr': '<f8', 'fortran_order': False, "
                                  "'shape': (2, 3), }", f8, sizeof f8));
    CHECK_EQ_INT(dgm_data_load(&d, p, NULL, &err), DGM_OK);
    CHECK(d.n == 2 && d.d == 3 && !d.is_8bit);
    for (int i = 0; d.x && i < 6; i++)
        CHECK(d.x[i] == (float)f8[i]);
    dgm_data_free(&d);

    /* Fortran order: element (i, j) is stored at i + 2 j. */
    write_bytes(p, buf, npy_bytes(buf, 2, "{'descr': '<f8', 'fortran_order': True, "
                                  "'shape': (2, 3), }", f8, sizeof f8));
    CHECK_EQ_INT(dgm_data_load(&d, p, NULL, &err), DGM_OK);
    for (int i = 0; d.x && i < 2; i++)
        for (int j = 0; j < 3; j++)
            CHECK(d.x[i * 3 + j] == (float)f8[i + 2 * j]);
    dgm_data_free(&d);

    const unsigned char u1[8] = {0, 255, 1, 128, 7, 9, 200, 3};
    write_bytes(p, buf, npy_bytes(buf, 1, "{'descr': '|u1', 'fortran_order': False, "
                                  "'shape': (2, 2, 2), }", u1, 8));
    CHECK_EQ_INT(dgm_data_load(&d, p, NULL, &err), DGM_OK);
    CHECK(d.n == 2 && d.d == 4 && d.height == 2 && d.width == 2 && d.is_8bit);
    for (int i = 0; d.x && i < 8; i++)
        CHECK(d.x[i] == (float)u1[i] / 255.0f);
    dgm_data_free(&d);

    const int64_t i8[3] = {-5, 0, 1LL << 40};
    write_bytes(p, buf, npy_bytes(buf, 1, "{'descr': '<i8', 'fortran_order': False, "
                                  "'shape': (3,), }", i8, sizeof i8));
    CHECK_EQ_INT(dgm_data_load(&d, p, NULL, &err), DGM_OK);
    CHECK(d.n == 3 && d.d == 1 && d.x && d.x[0] == -5 && d.x[2] == 1099511627776.0f);
    dgm_data_free(&d);

    const int32_t i4[2] = {-2147483647 - 1, 17};
    const float f4[2] = {1.5f, -2};
    write_bytes(p, buf, npy_bytes(buf, 3, "{'shape': (1, 2), 'fortran_order': False, "
                                  "'descr': '<i4'}", i4, sizeof i4));
    CHECK_EQ_INT(dgm_data_load(&d, p, NULL, &err), DGM_OK);
    CHECK(d.n == 1 && d.d == 2 && d.x && d.x[0] == -2147483648.0f && d.x[1] == 17);
    dgm_data_free(&d);

    const char *bad = tp("bad.npy");
    const float nan4[4] = {1, 2, NAN, 4};
    write_bytes(bad, buf, npy_bytes(buf, 1, "{'descr': '<f4', 'fortran_order': False, "
                                    "'shape': (2, 2), }", nan4, 16));
    EXPECT_FAIL(bad, NULL, DGM_ERR_NAN, bad, "element 2 (row 1, column 0) is NaN");
    write_bytes(bad, buf, npy_bytes(buf, 1, "{'descr': '>f4', 'fortran_order': False, "
                                    "'shape': (2,), }", f4, 8));
    EXPECT_FAIL(bad, NULL, DGM_ERR_UNSUPPORTED, bad, "'>f4'");
    write_bytes(bad, buf, npy_bytes(buf, 1, "{'descr': '<f4', 'fortran_order': False, "
                                    "'shape': (2, 2), }", f4, 8));
    EXPECT_FAIL(bad, NULL, DGM_ERR_FORMAT, bad, "truncated", "16", "8");
    write_bytes(bad, buf, npy_bytes(buf, 1, "{'descr': '<f4', 'fortran_order': False, "
                                    "'shape': (1,), }", f4, 8));
    EXPECT_FAIL(bad, NULL, DGM_ERR_FORMAT, bad, "4 data bytes");
    write_bytes(bad, buf, npy_bytes(buf, 1, "{'descr': '<f4', 'fortran_order': False, "
                                    "'shape': (1, 1, 1, 2), }", f4, 8));
    EXPECT_FAIL(bad, NULL, DGM_ERR_UNSUPPORTED, bad, "3 dimensions");
    write_bytes(bad, buf, npy_bytes(buf, 1, "{'descr': '<f4', 'fortran_order': False, "
                                    "'shape': (), }", f4, 4));
    EXPECT_FAIL(bad, NULL, DGM_ERR_FORMAT, bad, "scalar");
    write_bytes(bad, buf, npy_bytes(buf, 1, "{'descr': '<f4', 'fortran_order': False, "
                                    "'shape': (0, 3), }", f4, 0));
    EXPECT_FAIL(bad, NULL, DGM_ERR_FORMAT, bad, "no values");
    write_bytes(bad, buf, npy_bytes(buf, 1, "{'descr': '<f4', 'shape': (2,), }", f4, 8));
    EXPECT_FAIL(bad, NULL, DGM_ERR_FORMAT, bad, "fortran_order");
    write_bytes(bad, buf, npy_bytes(buf, 7, "{'descr': '<f4', 'fortran_order': False, "
                                    "'shape': (2,), }", f4, 8));
    EXPECT_FAIL(bad, NULL, DGM_ERR_UNSUPPORTED, bad, "version 7");
    npy_bytes(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f4, 8);
    write_bytes(bad, buf, 40); /* cut inside the header */
    EXPECT_FAIL(bad, NULL, DGM_ERR_FORMAT, bad, "header");
}

/* numpy's own writer, when /usr/bin/python3 has numpy. */
static int have_numpy(void)
{
    return system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

static void test_npy_numpy(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import numpy as np; d = '%s'; "
             "a = (np.arange(24).reshape(4, 6) * 0.75 - 3); "
             "np.save(d + '/np_f4.npy', a.astype(np.float32)); "
             "np.save(d + '/np_f8f.npy', np.asfortranarray(a)); "
             "u = (np.arange(24) * 10 %% 256).astype(np.uint8).reshape(2, 3, 4); "
             "np.save(d + '/np_u1.npy', u); "
             "np.save(d + '/np_lab.npy', np.array([3, 1, 4, 1], dtype=np.int64))\"", tdir);
    CHECK_EQ_INT(system(cmd), 0);
    dgm_dataset d;
    dgm_err err = {0};
    for (int k = 0; k < 2; k++) {
        CHECK_EQ_INT(dgm_data_load(&d, tp(k ? "np_f8f.npy" : "np_f4.npy"),
                                   tp("np_lab.npy"), &err), DGM_OK);
        CHECK(d.n == 4 && d.d == 6);
        for (int i = 0; d.x && i < 24; i++)
            CHECK(d.x[i] == (float)i * 0.75f - 3.0f);
        CHECK(d.y && d.y[0] == 3 && d.y[2] == 4 && d.n_classes == 5);
        dgm_data_free(&d);
    }
    CHECK_EQ_INT(dgm_data_load(&d, tp("np_u1.npy"), NULL, &err), DGM_OK);
    CHECK(d.n == 2 && d.d == 12 && d.height == 3 && d.width == 4 && d.is_8bit);
    for (int i = 0; d.x && i < 24; i++)
        CHECK(d.x[i] == (float)(i * 10 % 256) / 255.0f);
    dgm_data_free(&d);
}

// ------------------------------------------------------------------- labels, detection

static void test_labels(void)
{
    const char *p = tp("x.csv"), *lc = tp("y.csv"), *ln = tp("y.npy");
    write_text(p, "1,2\n3,4\n5,6\n");
    write_text(lc, "label\n2\n0\n7\n");
    dgm_dataset d;
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_data_load(&d, p, lc, &err), DGM_OK);
    CHECK(d.y && d.y[0] == 2 && d.y[1] == 0 && d.y[2] == 7 && d.n_classes == 8);
    dgm_data_free(&d);
    CHECK_EQ_INT(dgm_data_load(&d, p, NULL, &err), DGM_OK);
    CHECK(d.y == NULL && d.n_classes == 0);
    dgm_data_free(&d);

    unsigned char buf[256];
    const int32_t lab[3] = {1, 1, 0};
    write_bytes(ln, buf, npy_bytes(buf, 1, "{'descr': '<i4', 'fortran_order': False, "
                                   "'shape': (3, 1), }", lab, sizeof lab));
    CHECK_EQ_INT(dgm_data_load(&d, p, ln, &err), DGM_OK);
    CHECK(d.y && d.y[0] == 1 && d.y[2] == 0 && d.n_classes == 2);
    dgm_data_free(&d);

    write_text(lc, "2\n0\n");
    EXPECT_FAIL(p, lc, DGM_ERR_SHAPE, lc, "2 labels", "3 examples");
    write_text(lc, "2\n0.5\n1\n");
    EXPECT_FAIL(p, lc, DGM_ERR_FORMAT, lc, "label 2");
    write_text(lc, "2\n-1\n1\n");
    EXPECT_FAIL(p, lc, DGM_ERR_FORMAT, lc, "label 2");
    write_text(lc, "1,2\n0,1\n1,1\n");
    EXPECT_FAIL(p, lc, DGM_ERR_FORMAT, lc, "one column");
    const float f[3] = {1, 2.5f, 0};
    write_bytes(ln, buf, npy_bytes(buf, 1, "{'descr': '<f4', 'fortran_order': False, "
                                   "'shape': (3,), }", f, sizeof f));
    EXPECT_FAIL(p, ln, DGM_ERR_FORMAT, ln, "element 1");
    EXPECT_FAIL(p, tp("nolabels.csv"), DGM_ERR_IO, "nolabels.csv");
}

/* Declared weak here too: whether the alignment reader is linked into this binary decides
 * which outcome is right. */
dgm_status dgm__alignment_load(dgm_dataset *out, const char *path, dgm_err *err)
    __attribute__((weak));

static void test_detection(void)
{
    const char *fa = tp("seqs.fa"), *sto = tp("seqs.sto");
    write_text(fa, "\n>s1\nACDE\n>s2\nACDF\n");
    write_text(sto, "# STOCKHOLM 1.0\ns1 ACDE\ns2 ACDF\n//\n");
    for (int k = 0; k < 2; k++) {
        const char *p = k ? sto : fa;
        if (!dgm__alignment_load) {
            EXPECT_FAIL(p, NULL, DGM_ERR_UNSUPPORTED, p, "alignment");
        } else {
            dgm_dataset d;
            dgm_err err = {0};
            dgm_status s = dgm_data_load(&d, p, NULL, &err);
            CHECK_MSG(s == DGM_OK && d.kind == DGM_DATA_SEQ, "%s", err.msg);
            dgm_data_free(&d);
        }
    }
    /* Content decides, not the name: an NPY called .csv is read as NPY. */
    unsigned char buf[256];
    const float f[2] = {1, 2};
    const char *p = tp("really-npy.csv");
    write_bytes(p, buf, npy_bytes(buf, 1, "{'descr': '<f4', 'fortran_order': False, "
                                  "'shape': (2,), }", f, sizeof f));
    dgm_dataset d;
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_data_load(&d, p, NULL, &err), DGM_OK);
    CHECK(d.n == 2 && d.d == 1 && d.x && d.x[1] == 2);
    dgm_data_free(&d);
    EXPECT_FAIL("", NULL, DGM_ERR_ARG, "no data");
    EXPECT_FAIL("fashion-mnist:valid", NULL, DGM_ERR_ARG, "fashion-mnist:valid");
}

/* dgm_data_detect: a gzip file is judged by what it holds; a file named as an alignment
 * but empty or header-less is an error naming it, not a CSV. */
static void test_detect(void)
{
    const char *gz = tp("seqs.a2m.gz"), *empty = tp("empty.a2m"), *bare = tp("bare.fasta");
    gzFile g = gzopen(gz, "wb");
    CHECK(g && gzputs(g, ">s1\nACDE\n>s2\nACDF\n") > 0 && gzclose(g) == Z_OK);
    write_text(empty, "");
    write_text(bare, "\nACDE\nACDF\n");
    dgm_data_format fmt = DGM_FORMAT_CSV;
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_data_detect(&fmt, gz, &err), DGM_OK);
    CHECK_EQ_INT(fmt, DGM_FORMAT_ALIGNMENT);
    CHECK_EQ_INT(dgm_data_detect(&fmt, empty, &err), DGM_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, empty) && strstr(err.msg, "empty file: no alignment"), "%s", err.msg);
    CHECK_EQ_INT(dgm_data_detect(&fmt, bare, &err), DGM_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, bare) && strstr(err.msg, ":2:1: not an alignment") &&
              strstr(err.msg, "'ACDE'"), "%s", err.msg);
    EXPECT_FAIL(bare, NULL, DGM_ERR_FORMAT, bare, "not an alignment");
    write_text(bare, "1,2\n3,4\n"); /* numbers in a file named as an alignment: refused */
    CHECK_EQ_INT(dgm_data_detect(&fmt, bare, &err), DGM_ERR_FORMAT);
    const char *csv = tp("plain.csv"); /* the same numbers under another name: a CSV */
    write_text(csv, "1,2\n3,4\n");
    CHECK_EQ_INT(dgm_data_detect(&fmt, csv, &err), DGM_OK);
    CHECK_EQ_INT(fmt, DGM_FORMAT_CSV);
    /* comments longer than any peek still come before the header (fuzz_stockholm) */
    char text[5000];
    memset(text, 'x', sizeof text);
    text[0] = ';';
    strcpy(text + 4000, "\n\n>s1\nACDE\n");
    write_text(bare, text);
    CHECK_EQ_INT(dgm_data_detect(&fmt, bare, &err), DGM_OK);
    CHECK_EQ_INT(fmt, DGM_FORMAT_ALIGNMENT);
    text[4000] = 0;
    write_text(bare, text);
    CHECK_EQ_INT(dgm_data_detect(&fmt, bare, &err), DGM_OK); /* comments only: the reader's */
    strcpy(text + 4000, "\nACDE\n");
    write_text(bare, text);
    CHECK_EQ_INT(dgm_data_detect(&fmt, bare, &err), DGM_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, ":2:1: not an alignment") && strstr(err.msg, "'ACDE'"), "%s", err.msg);
}

// ----------------------------------------------------------------------- Fashion-MNIST

static void test_fmnist_env(void)
{
    /* DGM_FASHION_MNIST_DIR: an empty directory gives the install hint; a directory with
     * small files of the standard names is read from. */
    const char *old = getenv("DGM_FASHION_MNIST_DIR");
    char *saved = old ? strdup(old) : NULL;
    char sub[300];
    snprintf(sub, sizeof sub, "%s", tp("fm"));
    mkdir(sub, 0755);
    setenv("DGM_FASHION_MNIST_DIR", sub, 1);
    EXPECT_FAIL("fashion-mnist:test", NULL, DGM_ERR_IO, "t10k-images-idx3-ubyte.gz",
                "apt-get install dataset-fashion-mnist");

    unsigned char buf[256], pix[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const uint32_t di[3] = {2, 2, 2}, dl[1] = {2};
    char img[400], lab[400];
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte.gz", sub);
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte", sub); /* plain: either is found */
    write_gz(img, buf, idx_bytes(buf, 3, di, pix, 8));
    const unsigned char y[2] = {9, 3};
    write_bytes(lab, buf, idx_bytes(buf, 1, dl, y, 2));
    dgm_dataset d;
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_data_load(&d, "fashion-mnist:test", NULL, &err), DGM_OK);
    CHECK(d.n == 2 && d.d == 4 && d.y && d.y[0] == 9 && d.n_classes == 10);
    CHECK(strcmp(d.source, "fashion-mnist:test") == 0);
    CHECK(dgm_data_class_name(&d, 9) && strcmp(dgm_data_class_name(&d, 9), "Ankle boot") == 0);
    CHECK(dgm_data_class_name(&d, 10) == NULL && dgm_data_class_name(&d, -1) == NULL);
    dgm_data_free(&d);
    remove(img);
    remove(lab);
    rmdir(sub);
    if (saved)
        setenv("DGM_FASHION_MNIST_DIR", saved, 1);
    else
        unsetenv("DGM_FASHION_MNIST_DIR");
    free(saved);
}

static int fmnist_present(void)
{
    const char *dir = getenv("DGM_FASHION_MNIST_DIR");
    char p[512];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz",
             dir ? dir : "/usr/share/datasets/fashion-mnist");
    return access(p, R_OK) == 0;
}

static void test_fmnist(void)
{
    dgm_dataset d;
    dgm_err err = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dgm_status s = dgm_data_load(&d, "fashion-mnist", NULL, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_MSG(s == DGM_OK, "%s", err.msg);
    if (s)
        return;
    fprintf(stderr, "test_fmnist: 60000 training images loaded in %.3f s\n",
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    CHECK(d.n == 60000 && d.d == 784 && d.height == 28 && d.width == 28 && d.is_8bit);
    CHECK(d.y && d.n_classes == 10);
    CHECK(strcmp(dgm_data_class_name(&d, 0), "T-shirt/top") == 0);
    long count[10] = {0};
    for (size_t i = 0; d.y && i < d.n; i++)
        if (d.y[i] >= 0 && d.y[i] < 10)
            count[d.y[i]]++;
    for (int c = 0; c < 10; c++)
        CHECK_EQ_INT(count[c], 6000); /* the training set is balanced */

    /* Independent decode: the raw bytes of the first and last images and the label bytes. */
    char p[512];
    const char *dir = getenv("DGM_FASHION_MNIST_DIR");
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz",
             dir ? dir : "/usr/share/datasets/fashion-mnist");
    gzFile g = gzopen(p, "rb");
    unsigned char hdr[16], *all = malloc(60000 * 784);
    CHECK(g && gzread(g, hdr, 16) == 16 && gzread(g, all, 60000 * 784) == 60000 * 784);
    gzclose(g);
    double sum_raw = 0, sum_x = 0;
    int mism = 0;
    for (size_t i = 0; i < (size_t)60000 * 784; i++) {
        sum_raw += all[i];
        sum_x += d.x[i];
        mism += d.x[i] != (float)all[i] / 255.0f;
    }
    CHECK_EQ_INT(mism, 0);
    double mean = sum_raw / (60000.0 * 784.0 * 255.0);
    CHECK_NEAR(sum_x / (60000.0 * 784.0), mean, 1e-6);
    CHECK(mean > 0.25 && mean < 0.32); /* the published mean is 0.2860 */
    fprintf(stderr, "test_fmnist: mean pixel %.4f\n", mean);
    free(all);
    dgm_data_free(&d);

    CHECK_EQ_INT(dgm_data_load(&d, "fashion-mnist:test", NULL, &err), DGM_OK);
    CHECK(d.n == 10000 && d.d == 784 && d.n_classes == 10);
    /* the compact form holds the same images and labels */
    dgm_dataset b;
    CHECK_EQ_INT(dgm_data_load_8bit(&b, "fashion-mnist:test", NULL, &err), DGM_OK);
    CHECK(b.x8 && !b.x && b.n == 10000 && b.d == 784 && b.is_8bit && b.height == 28 &&
          b.y && b.n_classes == 10 && !strcmp(b.source, d.source));
    mism = 0;
    for (size_t i = 0; b.x8 && d.x && i < (size_t)10000 * 784; i++)
        mism += d.x[i] != (float)b.x8[i] / 255.0f;
    for (size_t i = 0; b.y && d.y && i < 10000; i++)
        mism += b.y[i] != d.y[i];
    CHECK_EQ_INT(mism, 0);
    dgm_data_free(&b);
    dgm_data_free(&d);
}

// ------------------------------------------------------------------------ transforms

static void test_subset(void)
{
    float x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    int32_t y[4] = {0, 1, 2, 3};
    double w[4] = {0.5, 1, 1.5, 2};
    char n0[] = "a", n1[] = "b", n2[] = "c", n3[] = "d";
    char *names[4] = {n0, n1, n2, n3};
    dgm_dataset src = {.kind = DGM_DATA_REAL, .n = 4, .d = 2, .x = x, .y = y, .n_classes = 4,
                       .weights = w, .names = names, .source = "mem"};
    const size_t idx[3] = {3, 0, 3};
    dgm_dataset s;
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_data_subset(&s, &src, idx, 3, &err), DGM_OK);
    CHECK(s.n == 3 && s.d == 2 && s.n_classes == 4 && strcmp(s.source, "mem") == 0);
    CHECK(s.x && s.x[0] == 6 && s.x[1] == 7 && s.x[2] == 0 && s.x[5] == 7);
    CHECK(s.y && s.y[0] == 3 && s.y[1] == 0 && s.weights && s.weights[1] == 0.5);
    CHECK(s.names && strcmp(s.names[0], "d") == 0 && s.names[0] != names[3]);
    dgm_data_free(&s);

    uint8_t seq[6] = {1, 2, 3, 4, 5, 6};
    dgm_dataset q = {.kind = DGM_DATA_SEQ, .n = 2, .d = 3, .seq = seq, .source = "seqs"};
    const size_t one = 1;
    CHECK_EQ_INT(dgm_data_subset(&s, &q, &one, 1, &err), DGM_OK);
    CHECK(s.seq && s.seq[0] == 4 && s.seq[2] == 6 && !s.x && !s.y);
    dgm_data_free(&s);
    const size_t out_of_range = 4;
    CHECK_EQ_INT(dgm_data_subset(&s, &src, &out_of_range, 1, &err), DGM_ERR_ARG);
    CHECK_MSG(has(err.msg, "mem") && has(err.msg, "4"), "%s", err.msg);
}

static void test_binarize(void)
{
    enum { N = 200000 };
    float *x = malloc(N * sizeof *x), *b = malloc(N * sizeof *b);
    const float ps[3] = {0.3f, 0.0f, 1.0f};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < N; i++)
            x[i] = ps[k];
        dgm_rng rng;
        dgm_rng_init(&rng, 11);
        dgm_data_binarize(&rng, b, x, N);
        double sum = 0;
        int nonbinary = 0;
        for (int i = 0; i < N; i++) {
            sum += b[i];
            nonbinary += b[i] != 0 && b[i] != 1;
        }
        CHECK_EQ_INT(nonbinary, 0);
        /* mean ~ p with standard error sqrt(p(1-p)/N); 5 SE (exact for p = 0, 1). */
        double p = ps[k], se = sqrt(p * (1 - p) / N);
        CHECK_NEAR(sum / N, p, 5 * se);
    }
    /* The same seed gives the same draws. */
    dgm_rng r1, r2;
    dgm_rng_init(&r1, 5);
    dgm_rng_init(&r2, 5);
    for (int i = 0; i < 1000; i++)
        x[i] = (float)i / 1000.0f;
    dgm_data_binarize(&r1, b, x, 1000);
    dgm_data_binarize(&r2, b + 1000, x, 1000);
    CHECK(memcmp(b, b + 1000, 1000 * sizeof *b) == 0);
    free(x);
    free(b);
}

static void test_dequantize(void)
{
    enum { N = 200000 };
    float *x = malloc(N * sizeof *x), *o = malloc(N * sizeof *o);
    int *k = malloc(N * sizeof *k);
    dgm_rng rng;
    dgm_rng_init(&rng, 9);
    for (int i = 0; i < N; i++) {
        k[i] = (int)dgm_rng_below(&rng, 256);
        x[i] = (float)k[i] / 255.0f;
    }
    k[0] = 255; /* the top level stays below 1 */
    x[0] = 1.0f;
    dgm_data_dequantize(&rng, o, x, N);
    /* u = 256 o - k is U[0, 1): mean 1/2 (SE sqrt(1/12 / N)), variance 1/12 (SE
     * sqrt((1/80 - 1/144) / N), from the fourth central moment 1/80). */
    double s1 = 0, s2 = 0;
    int outside = 0;
    for (int i = 0; i < N; i++) {
        double u = 256.0 * o[i] - k[i];
        outside += !(u >= 0 && u < 1) || !(o[i] < 1.0f);
        s1 += u;
        s2 += (u - 0.5) * (u - 0.5);
    }
    CHECK_EQ_INT(outside, 0);
    CHECK_NEAR(s1 / N, 0.5, 5 * sqrt(1.0 / 12 / N));
    CHECK_NEAR(s2 / N, 1.0 / 12, 5 * sqrt((1.0 / 80 - 1.0 / 144) / N));
    free(x);
    free(o);
    free(k);
}

// --------------------------------------------------------------- the compact 8-bit form

/* Loads path both ways: the 8-bit form must hold the bytes the float form divides by 255. */
static void check_both_forms(const char *path, const unsigned char *want, size_t count,
                             int line)
{
    dgm_dataset f, b;
    dgm_err err = {0};
    CHECK_MSG(dgm_data_load(&f, path, NULL, &err) == DGM_OK, "line %d: %s", line, err.msg);
    CHECK_MSG(dgm_data_load_8bit(&b, path, NULL, &err) == DGM_OK, "line %d: %s", line, err.msg);
    CHECK_MSG(f.x && !f.x8 && b.x8 && !b.x, "line %d: forms", line);
    CHECK_MSG(b.n == f.n && b.d == f.d && b.n * b.d == count && b.is_8bit && f.is_8bit &&
              b.height == f.height && b.width == f.width && b.kind == DGM_DATA_REAL,
              "line %d: shape", line);
    CHECK_MSG((f.y == NULL) == (b.y == NULL), "line %d: labels", line);
    for (size_t i = 0; f.y && b.y && i < f.n; i++)
        CHECK_MSG(f.y[i] == b.y[i], "line %d: label %zu", line, i);
    for (size_t i = 0; b.x8 && f.x && i < count; i++) {
        CHECK_MSG(b.x8[i] == want[i], "line %d: x8[%zu] = %d, want %d", line, i, b.x8[i],
                  want[i]);
        CHECK_MSG(f.x[i] == (float)b.x8[i] / 255.0f, "line %d: x[%zu]", line, i);
    }
    dgm_data_free(&f);
    dgm_data_free(&b);
}

static void test_load_8bit(void)
{
    unsigned char pix[3 * 2 * 2], lab[3] = {1, 0, 2}, buf[512];
    for (int i = 0; i < 12; i++)
        pix[i] = (unsigned char)(255 - i * 21);
    for (int gz = 0; gz < 2; gz++) {
        const char *img = tp(gz ? "c-images-idx3-ubyte.gz" : "c-images-idx3-ubyte");
        const char *lp = tp(gz ? "c-labels-idx1-ubyte.gz" : "c-labels-idx1-ubyte");
        write_idx_pair(img, lp, gz, pix, lab);
        check_both_forms(img, pix, 12, __LINE__);
        remove(img);
        remove(lp);
    }
    /* NPY |u1 in C order (the bytes are moved within the file's buffer) and in Fortran
     * order, where element (i, j) is stored at i + 3 j */
    const char *p = tp("u8.npy");
    write_bytes(p, buf, npy_bytes(buf, 1, "{'descr': '|u1', 'fortran_order': False, "
                                  "'shape': (3, 2, 2), }", pix, 12));
    check_both_forms(p, pix, 12, __LINE__);
    unsigned char want[12];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            want[i * 4 + j] = pix[i + 3 * j];
    write_bytes(p, buf, npy_bytes(buf, 1, "{'descr': '|u1', 'fortran_order': True, "
                                  "'shape': (3, 4), }", pix, 12));
    check_both_forms(p, want, 12, __LINE__);
    /* data that are not 8-bit load into x as usual */
    const double f8[2] = {0.25, 7};
    write_bytes(p, buf, npy_bytes(buf, 1, "{'descr': '<f8', 'fortran_order': False, "
                                  "'shape': (2,), }", f8, sizeof f8));
    dgm_dataset d;
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_data_load_8bit(&d, p, NULL, &err), DGM_OK);
    CHECK(d.x && !d.x8 && d.n == 2 && d.x[1] == 7.0f && !d.is_8bit);
    dgm_data_free(&d);
    /* a failed load leaves nothing behind */
    write_text(p, "\x93NUMPY");
    CHECK(dgm_data_load_8bit(&d, p, NULL, &err) != DGM_OK);
    CHECK(!d.x && !d.x8 && d.n == 0);
    remove(p);
}

static void test_example_8bit(void)
{
    /* every level, in rows longer than the 256-uniform chunks of the binarizer */
    enum { N = 3, D = 600 };
    uint8_t *k8 = malloc(N * D);
    float *x = malloc(N * D * sizeof *x), *a = malloc(D * sizeof *a), *b = malloc(D * sizeof *b);
    for (int i = 0; i < N * D; i++) {
        k8[i] = (uint8_t)((i * 7 + i / 256) % 256);
        x[i] = (float)k8[i] / 255.0f;
    }
    dgm_dataset fd = {.kind = DGM_DATA_REAL, .n = N, .d = D, .x = x, .is_8bit = 1};
    dgm_dataset bd = {.kind = DGM_DATA_REAL, .n = N, .d = D, .x8 = k8, .is_8bit = 1};
    const dgm_prep hows[3] = {DGM_PREP_COPY, DGM_PREP_BINARIZE, DGM_PREP_DEQUANTIZE};
    for (int h = 0; h < 3; h++)
        for (size_t i = 0; i < N; i++) {
            dgm_rng ra, rb;
            dgm_rng_init(&ra, 100 + i);
            dgm_rng_init(&rb, 100 + i);
            dgm_data_example(&ra, a, &fd, i, hows[h]);
            dgm_data_example(&rb, b, &bd, i, hows[h]);
            CHECK_MSG(!memcmp(a, b, D * sizeof *a), "prep %d, row %zu: the forms differ", h, i);
            /* the streams advanced alike: the next draws agree */
            CHECK_MSG(dgm_rng_uniform(&ra) == dgm_rng_uniform(&rb), "prep %d: stream", h);
            if (hows[h] == DGM_PREP_COPY)
                CHECK(b[5] == x[i * D + 5]);
            if (hows[h] == DGM_PREP_BINARIZE) {
                int ones = 0, other = 0;
                for (int j = 0; j < D; j++) {
                    ones += b[j] == 1.0f;
                    other += b[j] != 0.0f && b[j] != 1.0f;
                }
                CHECK(other == 0 && ones > D / 4 && ones < 3 * D / 4);
            }
            if (hows[h] == DGM_PREP_DEQUANTIZE)
                for (int j = 0; j < D; j++) /* each value inside its level's bin */
                    CHECK(b[j] >= k8[i * D + j] / 256.0f && b[j] < (k8[i * D + j] + 1) / 256.0f);
        }
    /* rows of a compact data set are gathered as bytes */
    dgm_dataset s;
    dgm_err err = {0};
    const size_t idx[2] = {2, 0};
    CHECK_EQ_INT(dgm_data_subset(&s, &bd, idx, 2, &err), DGM_OK);
    CHECK(s.x8 && !s.x && s.n == 2 && !memcmp(s.x8, k8 + 2 * D, D) && !memcmp(s.x8 + D, k8, D));
    dgm_data_free(&s);
    free(k8);
    free(x);
    free(a);
    free(b);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tdir, sizeof tdir, "%s/dgm_test_data_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tdir)) {
        perror("mkdtemp");
        return 2;
    }
    TEST_RUN(test_idx);
    TEST_RUN(test_idx_errors);
    TEST_RUN(test_csv);
    TEST_RUN(test_csv_errors);
    TEST_RUN(test_npy);
    if (have_numpy())
        TEST_RUN(test_npy_numpy);
    else
        TEST_SKIP(test_npy_numpy, "no numpy in /usr/bin/python3");
    TEST_RUN(test_labels);
    TEST_RUN(test_detection);
    TEST_RUN(test_detect);
    TEST_RUN(test_fmnist_env);
    if (fmnist_present())
        TEST_RUN(test_fmnist);
    else
        TEST_SKIP(test_fmnist, "Fashion-MNIST is not installed (apt-get install "
                               "dataset-fashion-mnist)");
    TEST_RUN(test_subset);
    TEST_RUN(test_binarize);
    TEST_RUN(test_dequantize);
    TEST_RUN(test_load_8bit);
    TEST_RUN(test_example_8bit);
    remove_tdir();
    TEST_MAIN_END("test_data");
}
