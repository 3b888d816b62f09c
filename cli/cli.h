/* Shared pieces of the command-line tool: a table-driven option parser whose --help
 * prints every option with its default, and the common --seed/--threads/--json options.
 * Only cli/ prints usage or exits (STYLE.md). */
#ifndef DGM_CLI_H
#define DGM_CLI_H

#include "dgm.h"

#include <cjson/cJSON.h>

/* OPT_ALIAS is a deprecated spelling: its arg field names the option it stands for
 * (CLI_ALIAS below). */
typedef enum { OPT_FLAG, OPT_INT, OPT_LONG, OPT_DOUBLE, OPT_STR, OPT_ALIAS } cli_opt_type;

typedef struct cli_opt {
    const char  *name;   /* "--epochs" */
    cli_opt_type type;
    void        *dst;    /* int* (FLAG, INT), long*, double*, const char** */
    const char  *arg;    /* placeholder shown in help, e.g. "N" */
    const char  *help;
    double       min, max; /* inclusive range for numbers; min > max disables the check */
} cli_opt;

typedef struct cli_common {
    long  seed;
    int   threads;
    int   json;
} cli_common;

/* An old option name still accepted, with a note on stderr, until the release below
 * (docs/cli.md lists them). */
#define CLI_ALIAS(old, new) {old, OPT_ALIAS, NULL, new, "", 1, 0}
#define CLI_ALIAS_UNTIL "1.1"

/* Appended to each command's table. */
#define CLI_COMMON_OPTS(c) \
    {"--seed", OPT_LONG, &(c)->seed, "S", "random seed", 0, 9.2e18}, \
    {"--threads", OPT_INT, &(c)->threads, "N", "threads (0 = all cores)", 0, 1024}, \
    {"--json", OPT_FLAG, &(c)->json, NULL, "print one JSON object on stdout", 1, 0}

void cli_common_defaults(cli_common *c);
/* Applies --threads. */
void cli_common_apply(const cli_common *c);

/* Parses argv[1..] (argv[0] is the command name). Positional arguments are collected into
 * pos (up to max_pos). Returns 0 to continue, 1 if --help was printed (exit 0), 2 on an
 * error (already printed as one line on stderr). */
int cli_parse(const char *cmd, const char *usage, const char *summary, int argc, char **argv,
              const cli_opt *opts, int n_opts, const char **pos, int max_pos, int *n_pos);

/* Prints "dgm CMD: message" on stderr; returns 1 (the exit code). */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error (the command line is wrong: a missing argument, an unknown option or
 * value): prints "dgm CMD: message" and returns 2, the exit code of every usage error.
 * Failures of the work itself (a file, the data) return 1 through cli_fail. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "dgm CMD: err->msg" on stderr; returns 1. */
int cli_fail_err(const char *cmd, const dgm_err *err);
/* Prints the JSON object on stdout (one line) and frees it; returns 0. */
int cli_print_json(cJSON *obj);
/* "1500,1500" into out (at most max sizes, each 1..maxv): the count, or -1 when the list
 * is malformed; "" gives 0. */
int cli_parse_sizes(size_t *out, int max, const char *s, long maxv);
/* The training sequence weights of a by rule ("none": all 1; "plmc" or "deepseq": within
 * identity 1 - theta, dgm_alignment_weights) into a new array *w (free()) and their sum
 * *neff. Returns 0, or prints the error and returns 1. */
int cli_seq_weights(const char *cmd, const dgm_alignment *a, const char *rule, double theta,
                    double **w, double *neff);
/* Levenshtein distance between a[0..la) and b, for "did you mean" (99 past 62 chars). */
size_t cli_edit_distance(const char *a, size_t la, const char *b);
/* 1 if stderr is a terminal (progress bars), 0 otherwise. */
int cli_isatty_err(void);

#endif
