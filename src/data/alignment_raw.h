/* Private interface between the alignment text parsers (alignment_fasta.c, stockholm.c)
 * and the focus-column logic in alignment.c: a file's rows as text, with enough of their
 * layout kept to name file:line:char for any character in an error message. */
#ifndef DGM_DATA_ALIGNMENT_RAW_H
#define DGM_DATA_ALIGNMENT_RAW_H

#include "dgm.h"

/* A run of row characters that sit together on one line of the file. */
typedef struct dgm__aln_seg {
    size_t line, col;   /* 1-based line and character of the run's first character */
    size_t n;           /* characters in the run */
} dgm__aln_seg;

typedef struct dgm__aln_row {
    char         *name;  /* header without '>' (FASTA) or the Stockholm name */
    char         *text;  /* the aligned row, whitespace removed, NUL-terminated */
    size_t        len, cap;
    size_t        line;  /* line of the header (FASTA) or first appearance (Stockholm) */
    dgm__aln_seg *seg;
    size_t        n_seg, cap_seg;
} dgm__aln_row;

typedef struct dgm__aln_raw {
    dgm__aln_row *row;
    size_t        n, cap;
    size_t        n_lines;   /* lines in the file, for an error at its end */
    int           stockholm; /* rows must all have the same width (no A2M match-state mode) */
} dgm__aln_raw;

/* Whole file into memory (gzip decompressed), NUL-terminated. */
dgm_status dgm__read_text(char **out, size_t *len, const char *path, dgm_err *err);
/* 1 if the text starts like Stockholm ("# STOCKHOLM"). */
int        dgm__is_stockholm(const char *text);

dgm_status dgm__fasta_parse(dgm__aln_raw *raw, const char *text, const char *path,
                            dgm_err *err);
dgm_status dgm__stockholm_parse(dgm__aln_raw *raw, const char *text, const char *path,
                                dgm_err *err);

/* Appends n characters found at line:col to row r (growing its text and segments). */
dgm_status dgm__aln_append(dgm__aln_row *r, const char *s, size_t n, size_t line, size_t col,
                           const char *path, dgm_err *err);
/* Adds an empty row named name[0..name_len) first seen at line. NULL on allocation failure. */
dgm__aln_row *dgm__aln_add_row(dgm__aln_raw *raw, const char *name, size_t name_len,
                               size_t line);
/* Line and character in the file of character k of row r (k == len: just past its end). */
void       dgm__aln_locate(const dgm__aln_row *r, size_t k, size_t *line, size_t *col);
void       dgm__aln_raw_free(dgm__aln_raw *raw);

#endif
