/* Tests for src/io: atomic output, safetensors (round trip, byte layout, a fixture from an
 * independent Python writer, and every kind of damage the reader must refuse), PNG grids
 * and RGB images (read back with libpng and checked pixel by pixel), and the NPY, CSV and
 * IDX writers (byte layout checked directly, values read back through dgm_data_load, and
 * NPY additionally through numpy when /usr/bin/python3 has it). Files go to a fresh
 * temporary directory that is removed at the end. */
#include "dgm_blocks.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <png.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char tdir[256];

/* Path of `name` inside the temporary directory (4 rotating buffers). */
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

/* Whole file, malloc'd; NULL if unreadable. */
static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

static int has(const char *msg, const char *s) { return strstr(msg, s) != NULL; }

/* Number of leftover temporary files ("*.tmp.*") in the directory. */
static int count_tmp(void)
{
    DIR *d = opendir(tdir);
    int k = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        k += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return k;
}

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

// ------------------------------------------------------------------------------ atomic

static void test_atomic(void)
{
    char tmp[600];
    dgm_err err = {0};
    const char *path = tp("atomic.txt");
    write_bytes(path, "old", 3);
    FILE *f = dgm_atomic_open(path, tmp, sizeof tmp, &err);
    CHECK(f != NULL);
    fputs("new contents", f);
    CHECK(count_tmp() == 1);
    dgm_atomic_abort(f, tmp);
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    CHECK(b && n == 3 && memcmp(b, "old", 3) == 0); /* abort leaves the old file */
    free(b);
    CHECK(count_tmp() == 0);

    f = dgm_atomic_open(path, tmp, sizeof tmp, &err);
    fputs("new contents", f);
    CHECK_EQ_INT(dgm_atomic_commit(f, tmp, path, &err), DGM_OK);
    b = read_bytes(path, &n);
    CHECK(b && n == 12 && memcmp(b, "new contents", 12) == 0);
    free(b);
    CHECK(count_tmp() == 0);
    /* The file gets the mode fopen would give it, not mkstemp's 0600. */
    mode_t mask = umask(022);
    umask(mask);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask));

    const char *bad = tp("no-such-dir/x.txt");
    CHECK(dgm_atomic_open(bad, tmp, sizeof tmp, &err) == NULL);
    CHECK_EQ_INT(err.code, DGM_ERR_IO);
    CHECK_MSG(has(err.msg, bad), "%s", err.msg);
    char small[8];
    CHECK(dgm_atomic_open(path, small, sizeof small, &err) == NULL);
    CHECK_EQ_INT(err.code, DGM_ERR_ARG);
}

// ------------------------------------------------------------------------- safetensors

static void test_safetensors_roundtrip(void)
{
    dgm_rng rng;
    dgm_rng_init(&rng, 7);
    float w[15], b[5], s = 3.25f;
    dgm_rng_fill_normal(&rng, w, 15);
    dgm_rng_fill_normal(&rng, b, 5);
    dgm_st_tensor t[4] = {
        {"enc.0.weight", w, {5, 3}, 2},
        {"enc.0.bias", b, {5}, 1},
        {"s", &s, {0}, 0},
        {"e", NULL, {0}, 1},
    };
    const char *cfg = "{\"model\":\"vae\",\"q\":\"a\\\"b\",\"u\":\"\xc3\xa9\"}";
    const char *meta[4] = {"format", "pt", "dgm.config", cfg};
    const char *path = tp("rt.safetensors");
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_safetensors_write(path, t, 4, meta, 2, &err), DGM_OK);
    CHECK(count_tmp() == 0);

    dgm_st_file *f = NULL;
    CHECK_EQ_INT(dgm_safetensors_read(&f, path, &err), DGM_OK);
    if (!f)
        return;
    CHECK_EQ_INT(dgm_st_count(f), 4);
    for (size_t i = 0; i < 4; i++) {
        const dgm_st_tensor *r = dgm_st_get(f, i);
        CHECK(strcmp(r->name, t[i].name) == 0); /* header order is the order given */
        CHECK_EQ_INT(r->ndim, t[i].ndim);
        size_t numel = 1;
        for (int k = 0; k < r->ndim; k++) {
            CHECK_EQ_INT(r->shape[k], t[i].shape[k]);
            numel *= r->shape[k];
        }
        CHECK(((uintptr_t)r->data & 3) == 0);
        CHECK(numel == 0 || memcmp(r->data, t[i].data, numel * 4) == 0);
    }
    CHECK(dgm_st_get(f, 4) == NULL);
    CHECK(dgm_st_find(f, "enc.0.bias") == dgm_st_get(f, 1));
    CHECK(dgm_st_find(f, "nope") == NULL);
    CHECK_EQ_INT(dgm_st_meta_count(f), 2);
    CHECK(strcmp(dgm_st_meta_key(f, 0), "format") == 0);
    CHECK(dgm_st_meta(f, "dgm.config") && strcmp(dgm_st_meta(f, "dgm.config"), cfg) == 0);
    CHECK(dgm_st_meta(f, "absent") == NULL);
    dgm_safetensors_free(f);

    /* Byte layout, parsed independently: u64 length, space-padded JSON, contiguous data. */
    size_t n;
    unsigned char *raw = read_bytes(path, &n);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)raw[i] << (8 * i);
    CHECK(hl % 8 == 0);
    CHECK_EQ_INT(n, 8 + hl + 4 * (15 + 5 + 1));
    cJSON *h = cJSON_ParseWithLength((const char *)raw + 8, hl);
    CHECK(h != NULL);
    const char *names[4] = {"enc.0.weight", "enc.0.bias", "s", "e"};
    const int expect_off[4][2] = {{0, 60}, {60, 80}, {80, 84}, {84, 84}};
    for (int i = 0; h && i < 4; i++) {
        cJSON *o = cJSON_GetObjectItemCaseSensitive(h, names[i]);
        cJSON *off = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
        CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(o, "dtype")->valuestring, "F32") == 0);
        CHECK_EQ_INT(cJSON_GetArrayItem(off, 0)->valuedouble, expect_off[i][0]);
        CHECK_EQ_INT(cJSON_GetArrayItem(off, 1)->valuedouble, expect_off[i][1]);
    }
    cJSON_Delete(h);
    CHECK(memcmp(raw + 8 + hl, w, 60) == 0);
    free(raw);
}

static void test_safetensors_write_errors(void)
{
    float v[2] = {1, 2};
    dgm_err err = {0};
    dgm_st_tensor dup[2] = {{"a", v, {2}, 1}, {"a", v, {2}, 1}};
    CHECK_EQ_INT(dgm_safetensors_write(tp("dup.st"), dup, 2, NULL, 0, &err), DGM_ERR_ARG);
    CHECK_MSG(has(err.msg, "dup.st") && has(err.msg, "twice"), "%s", err.msg);
    dgm_st_tensor reserved = {"__metadata__", v, {2}, 1};
    CHECK_EQ_INT(dgm_safetensors_write(tp("r.st"), &reserved, 1, NULL, 0, &err), DGM_ERR_ARG);
    dgm_st_tensor five = {"a", v, {1, 1, 1, 1}, 5};
    CHECK_EQ_INT(dgm_safetensors_write(tp("5.st"), &five, 1, NULL, 0, &err), DGM_ERR_ARG);
    const char *bad = tp("missing/x.safetensors");
    CHECK_EQ_INT(dgm_safetensors_write(bad, dup, 1, NULL, 0, &err), DGM_ERR_IO);
    CHECK_MSG(has(err.msg, bad), "%s", err.msg);
    CHECK(access(tp("dup.st"), F_OK) != 0 && count_tmp() == 0);
}

/* The committed fixture written by tests/data/make_tiny_safetensors.py (json + struct). */
static void test_safetensors_fixture(void)
{
    const char *path = "tests/data/tiny.safetensors";
    dgm_st_file *f = NULL;
    dgm_err err = {0};
    dgm_status s = dgm_safetensors_read(&f, path, &err);
    CHECK_MSG(s == DGM_OK, "%s (run the tests from the repository root)", err.msg);
    if (s)
        return;
    CHECK_EQ_INT(dgm_st_count(f), 4);
    const dgm_st_tensor *w = dgm_st_find(f, "layer.weight"), *b = dgm_st_find(f, "layer.bias");
    const dgm_st_tensor *sc = dgm_st_find(f, "scalar"), *e = dgm_st_find(f, "empty");
    CHECK(w && b && sc && e);
    if (w && b && sc && e) {
        CHECK(w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 3);
        for (int i = 0; i < 6; i++)
            CHECK(w->data[i] == 0.25f * (float)i - 0.5f);
        CHECK(b->ndim == 1 && b->data[0] == 1.0f && b->data[1] == -2.0f && b->data[2] == 3.5f);
        CHECK(sc->ndim == 0 && sc->data[0] == 42.0f);
        CHECK(e->ndim == 2 && e->shape[0] == 0 && e->shape[1] == 4);
    }
    CHECK(dgm_st_meta(f, "note") && strcmp(dgm_st_meta(f, "note"), "tiny fixture") == 0);
    CHECK(dgm_st_meta(f, "format") && strcmp(dgm_st_meta(f, "format"), "pt") == 0);
    dgm_safetensors_free(f);
}

/* A hand-made file: header length (hl, or the JSON's padded length when 0), JSON, data. */
static void write_st_raw(const char *path, const char *json, size_t data_len, uint64_t hl)
{
    size_t jl = strlen(json), pl = (jl + 7) / 8 * 8;
    unsigned char *b = calloc(8 + pl + data_len, 1);
    if (!hl)
        hl = pl;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(hl >> (8 * i));
    memcpy(b + 8, json, jl);
    memset(b + 8 + jl, ' ', pl - jl);
    write_bytes(path, b, 8 + pl + data_len);
    free(b);
}

static void expect_st(const char *json, size_t data_len, uint64_t hl, dgm_status want,
                      const char *word, int line)
{
    const char *path = tp("bad.safetensors");
    write_st_raw(path, json, data_len, hl);
    dgm_st_file *f = NULL;
    dgm_err err = {0};
    dgm_status s = dgm_safetensors_read(&f, path, &err);
    CHECK_MSG(s == want, "line %d: status %d, want %d (%s)", line, s, want, err.msg);
    if (want) {
        CHECK_MSG(f == NULL && has(err.msg, path), "line %d: %s", line, err.msg);
        CHECK_MSG(!word || has(err.msg, word), "line %d: '%s' not in: %s", line, word, err.msg);
    }
    dgm_safetensors_free(f);
}

#define A8 "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"
#define EXPECT_ST(json, n, hl, want, word) expect_st(json, n, hl, want, word, __LINE__)

static void test_safetensors_damaged(void)
{
    /* The hand-made baseline is valid, so each failure below is due to its one change. */
    EXPECT_ST("{" A8 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]}}", 32,
              0, DGM_OK, NULL);
    EXPECT_ST("{" A8 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]}}", 28,
              0, DGM_ERR_FORMAT, "truncated");
    EXPECT_ST("{" A8 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]}}", 36,
              0, DGM_ERR_FORMAT, "36");
    EXPECT_ST("{" A8 ",\"b\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[4,28]}}", 32, 0,
              DGM_ERR_FORMAT, "overlap");
    EXPECT_ST("{" A8 ",\"b\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[12,36]}}", 36,
              0, DGM_ERR_FORMAT, "hole");
    EXPECT_ST("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, 0,
              DGM_ERR_FORMAT, "'a'");
    EXPECT_ST("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, 0,
              DGM_ERR_FORMAT, "data_offsets");
    EXPECT_ST("{\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}", 8, 0,
              DGM_ERR_UNSUPPORTED, "F16");
    EXPECT_ST("{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0,
              DGM_ERR_FORMAT, "Q7");
    EXPECT_ST("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, 0,
              DGM_ERR_FORMAT, "shape");
    EXPECT_ST("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, 0,
              DGM_ERR_FORMAT, "shape");
    EXPECT_ST("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8]}}", 8, 0,
              DGM_ERR_UNSUPPORTED, "dims");
    EXPECT_ST("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
              "\"data_offsets\":[0,8]}}", 8, 0, DGM_ERR_FORMAT, "'a'");
    EXPECT_ST("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, 0, DGM_ERR_FORMAT, "data_offsets");
    EXPECT_ST("{\"__metadata__\":{\"k\":1}," A8 "}", 8, 0, DGM_ERR_FORMAT, "metadata");
    EXPECT_ST("{" A8 "," A8 "}", 8, 0, DGM_ERR_FORMAT, "twice");
    EXPECT_ST("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}," A8 "}", 8, 0, DGM_ERR_FORMAT,
              "'k' appears twice");
    EXPECT_ST("{not json", 8, 0, DGM_ERR_FORMAT, "JSON");
    EXPECT_ST("[1,2]", 8, 0, DGM_ERR_FORMAT, "JSON");
    EXPECT_ST("{" A8 "}", 8, 1000, DGM_ERR_FORMAT, "header length");
    EXPECT_ST("{" A8 "}", 8, ((uint64_t)1 << 62), DGM_ERR_FORMAT, "header length");

    dgm_err err = {0};
    dgm_st_file *f = NULL;
    const char *tiny = tp("five-bytes.safetensors");
    write_bytes(tiny, "abcde", 5);
    CHECK_EQ_INT(dgm_safetensors_read(&f, tiny, &err), DGM_ERR_FORMAT);
    CHECK_MSG(has(err.msg, tiny), "%s", err.msg);
    const char *missing = tp("missing.safetensors");
    CHECK_EQ_INT(dgm_safetensors_read(&f, missing, &err), DGM_ERR_IO);
    CHECK_MSG(has(err.msg, missing), "%s", err.msg);
    CHECK(f == NULL);
}

// ---------------------------------------------------------------------------------- png

static void test_png_grid(void)
{
    enum { N = 5, H = 3, W = 4, COLS = 2 };
    float img[N * H * W];
    for (int i = 0; i < N * H * W; i++)
        img[i] = (float)(i % 52) / 51.0f; /* 255 x lands on integers: no rounding ties */
    img[0] = -0.5f;
    img[1] = 1.5f;
    img[2] = NAN;
    const char *path = tp("grid.png");
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_png_write_grid(path, img, N, H, W, COLS, &err), DGM_OK);

    /* IHDR read straight from the bytes: width, height, depth 8, colour type 0 (gray). */
    size_t n;
    unsigned char *raw = read_bytes(path, &n);
    const size_t GW = COLS * (W + 1) + 1, GH = 3 * (H + 1) + 1;
    CHECK(raw && n > 33 && memcmp(raw, "\x89PNG\r\n\x1a\n", 8) == 0);
    if (!raw || n <= 33)
        return;
    uint32_t pw = (uint32_t)raw[16] << 24 | raw[17] << 16 | raw[18] << 8 | raw[19];
    uint32_t ph = (uint32_t)raw[20] << 24 | raw[21] << 16 | raw[22] << 8 | raw[23];
    CHECK_EQ_INT(pw, GW);
    CHECK_EQ_INT(ph, GH);
    CHECK_EQ_INT(raw[24], 8);
    CHECK_EQ_INT(raw[25], 0);
    free(raw);

    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    CHECK(png_image_begin_read_from_file(&pi, path));
    pi.format = PNG_FORMAT_GRAY;
    unsigned char *pix = malloc(GW * GH);
    CHECK(png_image_finish_read(&pi, NULL, pix, 0, NULL));
    int bad = 0;
    for (size_t y = 0; y < GH; y++)
        for (size_t x = 0; x < GW; x++) {
            int want = 128;
            size_t i = (y / (H + 1)) * COLS + x / (W + 1);
            if (y % (H + 1) && x % (W + 1) && i < N) {
                float v = img[i * H * W + (y % (H + 1) - 1) * W + (x % (W + 1) - 1)];
                want = isnan(v) || v <= 0 ? 0 : v >= 1 ? 255 : (int)lround(255.0 * v);
            }
            bad += pix[y * GW + x] != want;
        }
    CHECK_EQ_INT(bad, 0);
    free(pix);

    CHECK_EQ_INT(dgm_png_write_grid(path, img, 0, H, W, COLS, &err), DGM_ERR_ARG);
    const char *missing = tp("nodir/grid.png");
    CHECK_EQ_INT(dgm_png_write_grid(missing, img, N, H, W, COLS, &err), DGM_ERR_IO);
    CHECK_MSG(has(err.msg, missing), "%s", err.msg);
}

static void test_png_rgb(void)
{
    uint8_t rgb[2 * 3 * 3];
    for (int i = 0; i < 18; i++)
        rgb[i] = (uint8_t)(i * 14 + 3);
    const char *path = tp("rgb.png");
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_png_write_rgb(path, rgb, 2, 3, &err), DGM_OK);
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    CHECK(png_image_begin_read_from_file(&pi, path));
    CHECK(pi.width == 3 && pi.height == 2 && pi.format == PNG_FORMAT_RGB);
    pi.format = PNG_FORMAT_RGB;
    uint8_t back[18];
    CHECK(png_image_finish_read(&pi, NULL, back, 0, NULL));
    CHECK(memcmp(back, rgb, 18) == 0);
    CHECK_EQ_INT(dgm_png_write_rgb(path, rgb, 0, 3, &err), DGM_ERR_ARG);
}

// ----------------------------------------------------------------------- matrix writers

static void test_npy_write(void)
{
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)(i - 5) * 0.375f;
    const char *path = tp("m.npy");
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_npy_write(path, x, 3, 4, &err), DGM_OK);
    size_t n;
    unsigned char *raw = read_bytes(path, &n);
    CHECK(raw && memcmp(raw, "\x93NUMPY\x01\x00", 8) == 0);
    size_t hl = raw[8] | (size_t)raw[9] << 8;
    CHECK((10 + hl) % 64 == 0);
    CHECK_EQ_INT(n, 10 + hl + 48);
    char *hdr = strndup((const char *)raw + 10, hl);
    CHECK(has(hdr, "'descr': '<f4'") && has(hdr, "'fortran_order': False") &&
          has(hdr, "'shape': (3, 4)") && hdr[hl - 1] == '\n');
    CHECK(memcmp(raw + 10 + hl, x, 48) == 0);
    free(hdr);
    free(raw);

    dgm_dataset d;
    CHECK_EQ_INT(dgm_data_load(&d, path, NULL, &err), DGM_OK);
    CHECK(d.n == 3 && d.d == 4 && d.x && memcmp(d.x, x, 48) == 0 && !d.is_8bit);
    dgm_data_free(&d);

    /* numpy itself reads it, when available (an independent reader). */
    if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP part of test_npy_write: no numpy in /usr/bin/python3\n");
        return;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import numpy as np, sys; a = np.load('%s');"
             " sys.exit(0 if a.dtype == np.float32 and a.shape == (3, 4) and "
             "(a.ravel() == (np.arange(12) - 5) * 0.375).all() else 1)\"", path);
    CHECK_EQ_INT(system(cmd), 0);
}

static void test_csv_write(void)
{
    const float x[6] = {1.0f / 3.0f, -0.0f, 1e-30f, 3.4e38f, -123456.789f, 0.1f};
    const char *path = tp("m.csv");
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_csv_write(path, x, 2, 3, &err), DGM_OK);
    dgm_dataset d;
    CHECK_EQ_INT(dgm_data_load(&d, path, NULL, &err), DGM_OK);
    CHECK(d.n == 2 && d.d == 3);
    for (int i = 0; d.x && i < 6; i++)
        CHECK_MSG(d.x[i] == x[i], "%d: %.9g vs %.9g", i, (double)d.x[i], (double)x[i]);
    dgm_data_free(&d);
}

static void test_idx_write(void)
{
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)(i * 21 + 2) / 255.0f;
    const char *p3 = tp("m3-images-idx3-ubyte"), *p2 = tp("m2.idx");
    dgm_err err = {0};
    CHECK_EQ_INT(dgm_idx_write(p3, x, 2, 2, 3, &err), DGM_OK);
    CHECK_EQ_INT(dgm_idx_write(p2, x, 3, 0, 4, &err), DGM_OK);
    size_t n;
    unsigned char *raw = read_bytes(p3, &n);
    const unsigned char h3[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
    CHECK(raw && n == 28 && memcmp(raw, h3, 16) == 0 && raw[16] == 2 && raw[27] == 233);
    free(raw);
    raw = read_bytes(p2, &n);
    const unsigned char h2[12] = {0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 4};
    CHECK(raw && n == 24 && memcmp(raw, h2, 12) == 0);
    free(raw);

    dgm_dataset d;
    CHECK_EQ_INT(dgm_data_load(&d, p3, NULL, &err), DGM_OK);
    CHECK(d.n == 2 && d.d == 6 && d.height == 2 && d.width == 3 && d.is_8bit && !d.y);
    for (int i = 0; d.x && i < 12; i++)
        CHECK(d.x[i] == x[i]);
    dgm_data_free(&d);
    CHECK_EQ_INT(dgm_data_load(&d, p2, NULL, &err), DGM_OK);
    CHECK(d.n == 3 && d.d == 4 && d.height == 0);
    dgm_data_free(&d);

    float y[3] = {-1.0f, 2.0f, 0.5f}; /* clamped to 0, 255; 127.5 rounds to even 128 */
    CHECK_EQ_INT(dgm_idx_write(p2, y, 1, 0, 3, &err), DGM_OK);
    raw = read_bytes(p2, &n);
    CHECK(raw && n == 15 && raw[12] == 0 && raw[13] == 255 && raw[14] == 128);
    free(raw);
    y[1] = NAN;
    CHECK_EQ_INT(dgm_idx_write(p2, y, 1, 0, 3, &err), DGM_ERR_NAN);
    CHECK_MSG(has(err.msg, p2), "%s", err.msg);
    CHECK_EQ_INT(dgm_idx_write(p2, y, 1, 0, 0, &err), DGM_ERR_ARG);
    CHECK_MSG(has(err.msg, p2), "%s", err.msg);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tdir, sizeof tdir, "%s/dgm_test_io_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tdir)) {
        perror("mkdtemp");
        return 2;
    }
    TEST_RUN(test_atomic);
    TEST_RUN(test_safetensors_roundtrip);
    TEST_RUN(test_safetensors_write_errors);
    TEST_RUN(test_safetensors_fixture);
    TEST_RUN(test_safetensors_damaged);
    TEST_RUN(test_png_grid);
    TEST_RUN(test_png_rgb);
    TEST_RUN(test_npy_write);
    TEST_RUN(test_csv_write);
    TEST_RUN(test_idx_write);
    remove_tdir();
    TEST_MAIN_END("test_io");
}
