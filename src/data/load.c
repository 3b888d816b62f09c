/* dgm_data_load: data set names (Fashion-MNIST), format detection from file contents,
 * and pairing of examples with labels. docs/formats.md lists the rules.
 * Detection (dgm_data_detect) looks at the first bytes, inside gzip for gzip files: first
 * non-blank character '>' -> FASTA/A2M; "# STOCKHOLM" -> Stockholm; other gzip -> IDX
 * inside; two zero bytes -> IDX; "\x93NUMPY" -> NPY; other text is read as CSV, and a
 * binary file of none of these formats is an error. The name never picks a format, but a
 * file named as an alignment (.a2m, .fasta, .sto, ...) that is empty or has no header is
 * an error saying so, not a CSV to misparse.
 * Reference for Fashion-MNIST: Xiao, Rasul, Vollgraf (2017), arXiv:1708.07747, file names
 * and class names as in github.com/zalandoresearch/fashion-mnist.
 * Left out: downloads (the data must be installed: Debian package dataset-fashion-mnist). */
#include "data/alignment.h"
#include "data/readers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#define FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define FMNIST_INSTALL "install the Debian package dataset-fashion-mnist (apt-get install " \
                       "dataset-fashion-mnist)"

static const char *const fmnist_names[] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                           "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                           "Ankle boot", NULL};

const char *dgm_data_class_name(const dgm_dataset *d, int c)
{
    if (!d->class_names || c < 0)
        return NULL;
    for (int i = 0; d->class_names[i]; i++)
        if (i == c)
            return d->class_names[i];
    return NULL;
}

// ------------------------------------------------------------------------ file access

/* Up to cap leading bytes of path; the count read, or -1 if it cannot be opened. */
static long peek(unsigned char *buf, size_t cap, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t r = fread(buf, 1, cap, f);
    fclose(f);
    return (long)r;
}

// -------------------------------------------------------------------------- detection

/* 1 if the name ends like an alignment file: .a2m .a3m .fa .fas .fasta .faa .afa .sto .stk
 * .sth, optionally followed by .gz. The name never picks a format; it only lets a file
 * that was meant as an alignment but is empty or has no header be reported as such,
 * instead of being read as a CSV or an image set. */
static int named_alignment(const char *path)
{
    static const char *const ext[] = {".a2m", ".a3m", ".fa", ".fas", ".fasta", ".faa", ".afa",
                                      ".sto", ".stk", ".sth", NULL};
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t n = strlen(base);
    if (n > 3 && !strcmp(base + n - 3, ".gz"))
        n -= 3;
    for (int i = 0; ext[i]; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && !strncasecmp(base + n - e, ext[i], e))
            return 1;
    }
    return 0;
}

/* Up to cap leading bytes of a gzip file's decompressed contents; -1 if unreadable. */
static long peek_gzip(unsigned char *buf, size_t cap, const char *path)
{
    gzFile g = gzopen(path, "rb");
    if (!g)
        return -1;
    int r = gzread(g, buf, (unsigned)cap);
    gzclose(g);
    return r < 0 ? 0 : r;
}

/* What comes before a file's content (inside gzip, as zlib reads a plain file as it is):
 * blanks and ';' comment lines are skipped; text holds up to 40 bytes from the first other
 * byte (len 0: none before the end), line its line number, comment whether a comment line
 * was seen. */
typedef struct lead { char text[40]; size_t len; long line; int comment; } lead;

static int lead_scan(lead *l, const char *path)
{
    memset(l, 0, sizeof *l);
    l->line = 1;
    errno = 0;
    gzFile g = gzopen(path, "rb");
    if (!g)
        return -1;
    unsigned char b[4096];
    int comment = 0, r;
    while (l->len < sizeof l->text && (r = gzread(g, b, sizeof b)) > 0) {
        for (int i = 0; i < r && l->len < sizeof l->text; i++) {
            if (l->len > 0)
                l->text[l->len++] = (char)b[i];
            else if (b[i] == '\n')
                comment = 0, l->line++;
            else if (!comment && b[i] == ';')
                comment = l->comment = 1;
            else if (!comment && (b[i] == 0 || !strchr(" \t\r\v\f", b[i])))
                l->text[l->len++] = (char)b[i];
        }
    }
    gzclose(g); /* a damaged gzip stream ends the scan; its reader reports it */
    return 0;
}

dgm_status dgm_data_detect(dgm_data_format *fmt, const char *path, dgm_err *err)
{
    unsigned char b[256];
    errno = 0;
    long n = peek(b, sizeof b, path);
    if (n < 0)
        return dgm_errf(err, DGM_ERR_IO, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    int aln_name = named_alignment(path), gz = n >= 2 && b[0] == 0x1f && b[1] == 0x8b;
    if (gz)
        n = peek_gzip(b, sizeof b, path); /* what is inside decides; a damaged stream is
                                           * the IDX reader's to report */
    /* blanks and, as the FASTA reader does, ';' comment lines may come first, as long as
     * they like: the scan runs through the whole file, not the peeked bytes only (fuzz_
     * stockholm: a 255-byte comment put the header past a 256-byte peek) */
    lead l;
    if (lead_scan(&l, path) < 0)
        return dgm_errf(err, DGM_ERR_IO, "%s: %s", path, errno ? strerror(errno) : "cannot read");
    if ((l.len > 0 && l.text[0] == '>') || (l.len >= 11 && !memcmp(l.text, "# STOCKHOLM", 11)) ||
        (aln_name && l.len == 0 && l.comment)) {
        *fmt = DGM_FORMAT_ALIGNMENT;
        return DGM_OK;
    }
    if (aln_name && l.len == 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: empty file: no alignment (FASTA/A2M starts "
                        "with a '>' header line, Stockholm with '# STOCKHOLM 1.0')", path);
    if (aln_name) {
        size_t e = 0;
        while (e < l.len && (unsigned char)l.text[e] >= 0x20 && l.text[e] != 0x7f)
            e++;
        return dgm_errf(err, DGM_ERR_FORMAT, "%s:%ld:1: not an alignment: no '>' header line "
                        "(FASTA/A2M) or '# STOCKHOLM 1.0' (Stockholm) before '%.*s'", path,
                        l.line, (int)e, l.text);
    }
    if (gz) {
        *fmt = DGM_FORMAT_IDX;
        return DGM_OK;
    }
    if (n == 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: empty file", path);
    if (n >= 2 && b[0] == 0 && b[1] == 0) {
        *fmt = DGM_FORMAT_IDX;
        return DGM_OK;
    }
    if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0) {
        *fmt = DGM_FORMAT_NPY;
        return DGM_OK;
    }
    /* the text formats have no control bytes but tab, CR and LF: anything else is a binary
     * file of no known format (an IDX file with a wrong magic, say), not a CSV to misparse */
    for (long j = 0; j < n; j++)
        if ((b[j] < 0x20 && b[j] != '\t' && b[j] != '\r' && b[j] != '\n') || b[j] == 0x7f)
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: not a data file dgm knows: its first bytes "
                            "%02x %02x %02x %02x are no IDX magic (00 00 08 dims), gzip, NPY or "
                            "text", path, b[0], n > 1 ? b[1] : 0, n > 2 ? b[2] : 0,
                            n > 3 ? b[3] : 0);
    *fmt = DGM_FORMAT_CSV;
    return DGM_OK;
}

// ----------------------------------------------------------------------------- labels

/* A one-column CSV of non-negative integers. */
static dgm_status csv_labels(int32_t **y, size_t *n, const char *path, dgm_err *err)
{
    dgm_dataset t = {0};
    dgm_status s = dgm__csv_load(&t, path, err);
    if (s)
        return s;
    if (t.d != 1)
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s: a label file needs one column, this has %zu",
                     path, t.d);
    *y = s ? NULL : dgm_malloc_array(t.n, sizeof **y);
    if (!s && !*y)
        s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; !s && i < t.n; i++) {
        float v = t.x[i];
        if (!(v >= 0 && v < 16777216.0f && v == (float)(int32_t)v))
            s = dgm_errf(err, DGM_ERR_FORMAT, "%s: label %zu (%g) is not a non-negative "
                         "integer", path, i + 1, (double)v);
        else
            (*y)[i] = (int32_t)v;
    }
    *n = t.n;
    if (s) {
        free(*y);
        *y = NULL;
    }
    dgm_data_free(&t);
    return s;
}

static dgm_status read_labels(int32_t **y, size_t *n, const char *path, dgm_err *err)
{
    dgm_data_format fmt;
    dgm_status s = dgm_data_detect(&fmt, path, err);
    if (s)
        return s;
    switch (fmt) {
    case DGM_FORMAT_IDX: return dgm__idx_load_labels(y, n, path, err);
    case DGM_FORMAT_NPY: return dgm__npy_load_labels(y, n, path, err);
    case DGM_FORMAT_CSV: return csv_labels(y, n, path, err);
    default:
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: an alignment is not a label file", path);
    }
}

static dgm_status attach_labels(dgm_dataset *d, const char *path, dgm_err *err)
{
    int32_t *y;
    size_t n;
    dgm_status s = read_labels(&y, &n, path, err);
    if (s)
        return s;
    if (n != d->n) {
        free(y);
        return dgm_errf(err, DGM_ERR_SHAPE, "%s: %zu labels for %zu examples in %s", path, n,
                        d->n, d->source);
    }
    int32_t max = 0;
    for (size_t i = 0; i < n; i++)
        max = y[i] > max ? y[i] : max;
    d->y = y;
    d->n_classes = (int)max + 1;
    return DGM_OK;
}

/* X-images-idx3-ubyte[.gz] -> X-labels-idx1-ubyte[.gz] (either compression), if present. */
static int labels_beside(char *out, size_t cap, const char *images)
{
    const char *slash = strrchr(images, '/');
    const char *p = strstr(slash ? slash : images, "images-idx3-ubyte");
    if (!p)
        return 0;
    const char *rest = p + strlen("images-idx3-ubyte");
    int plen = (int)(p - images);
    const char *suffixes[2] = {rest, strcmp(rest, ".gz") == 0 ? "" : ".gz"};
    for (int i = 0; i < 2; i++) {
        int len = snprintf(out, cap, "%.*slabels-idx1-ubyte%s", plen, images, suffixes[i]);
        if (len > 0 && (size_t)len < cap && access(out, R_OK) == 0)
            return 1;
        if (rest[0] && strcmp(rest, ".gz") != 0)
            break; /* an unusual suffix: only the same suffix is tried */
    }
    return 0;
}

// ------------------------------------------------------------------------ the loaders

static dgm_status load_fmnist(dgm_dataset *out, const char *spec, const char *labels,
                              int keep8, dgm_err *err)
{
    const char *split = spec + strlen("fashion-mnist"), *prefix, *part;
    if (!*split || strcmp(split, ":train") == 0)
        prefix = "train", part = "train";
    else if (strcmp(split, ":test") == 0)
        prefix = "t10k", part = "test";
    else
        return dgm_errf(err, DGM_ERR_ARG, "%s: unknown data set (fashion-mnist, "
                        "fashion-mnist:train or fashion-mnist:test)", spec);
    const char *dir = getenv("DGM_FASHION_MNIST_DIR");
    if (!dir || !*dir)
        dir = FMNIST_DEFAULT_DIR;
    char img[1024], lab[1024];
    snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    if (access(img, R_OK) != 0)
        img[strlen(img) - 3] = 0;
    if (access(img, R_OK) != 0)
        return dgm_errf(err, DGM_ERR_IO, "%s.gz: not found; %s%s", img, FMNIST_INSTALL,
                        getenv("DGM_FASHION_MNIST_DIR") ? "" : " or set DGM_FASHION_MNIST_DIR");
    if (!labels && !labels_beside(lab, sizeof lab, img))
        return dgm_errf(err, DGM_ERR_IO, "%s/%s-labels-idx1-ubyte.gz: not found; %s", dir,
                        prefix, FMNIST_INSTALL);
    dgm_status s = dgm__idx_load(out, img, keep8, err);
    snprintf(out->source, sizeof out->source, "fashion-mnist:%s", part);
    if (!s)
        s = attach_labels(out, labels ? labels : lab, err);
    out->class_names = fmnist_names;
    return s;
}

static dgm_status load_path(dgm_dataset *out, const char *path, const char *labels,
                            int keep8, dgm_err *err)
{
    dgm_data_format fmt;
    dgm_status s = dgm_data_detect(&fmt, path, err);
    if (s)
        return s;
    snprintf(out->source, sizeof out->source, "%s", path);
    switch (fmt) {
    case DGM_FORMAT_IDX: s = dgm__idx_load(out, path, keep8, err); break;
    case DGM_FORMAT_NPY: s = dgm__npy_load(out, path, keep8, err); break;
    case DGM_FORMAT_CSV: s = dgm__csv_load(out, path, err); break;
    case DGM_FORMAT_ALIGNMENT:
        s = dgm__alignment_load(out, path, err);
        if (!out->source[0])
            snprintf(out->source, sizeof out->source, "%s", path);
        break;
    }
    if (s)
        return s;
    char beside[1024];
    if (labels)
        return attach_labels(out, labels, err);
    if (fmt == DGM_FORMAT_IDX && labels_beside(beside, sizeof beside, path))
        return attach_labels(out, beside, err);
    return DGM_OK;
}

static dgm_status load(dgm_dataset *out, const char *spec, const char *labels, int keep8,
                       dgm_err *err)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        return dgm_errf(err, DGM_ERR_ARG, "no data given");
    const char *name = "fashion-mnist";
    size_t nl = strlen(name);
    dgm_status s = strncmp(spec, name, nl) == 0 && (spec[nl] == 0 || spec[nl] == ':')
                   ? load_fmnist(out, spec, labels, keep8, err)
                   : load_path(out, spec, labels, keep8, err);
    if (s)
        dgm_data_free(out);
    return s;
}

dgm_status dgm_data_load(dgm_dataset *out, const char *spec, const char *labels, dgm_err *err)
{
    return load(out, spec, labels, 0, err);
}

dgm_status dgm_data_load_8bit(dgm_dataset *out, const char *spec, const char *labels,
                              dgm_err *err)
{
    return load(out, spec, labels, 1, err);
}
