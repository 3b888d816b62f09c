/* Option parsing shared by every subcommand. Numbers are parsed with strtod/strtol and
 * rejected unless the whole string is a number inside the option's range (llama2.c's
 * unchecked atoi is what we avoid). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_common_defaults(cli_common *c)
{
    c->seed = 1;
    c->threads = 0;
    c->json = 0;
}

void cli_common_apply(const cli_common *c) { dgm_set_threads(c->threads); }

static int vsay(int code, const char *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "dgm %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return code;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vsay(1, cmd, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vsay(2, cmd, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_fail_err(const char *cmd, const dgm_err *err)
{
    return cli_fail(cmd, "%s", err->msg[0] ? err->msg : dgm_status_str(err->code));
}

int cli_print_json(cJSON *obj)
{
    char *s = cJSON_PrintUnformatted(obj);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    cJSON_Delete(obj);
    return 0;
}

int cli_isatty_err(void) { return isatty(STDERR_FILENO); }

int cli_seq_weights(const char *cmd, const dgm_alignment *a, const char *rule, double theta,
                    double **w, double *neff)
{
    dgm_err err = {0};
    *neff = (double)a->n;
    if (!(*w = dgm_malloc_array(a->n, sizeof **w)))
        return cli_fail(cmd, "out of memory");
    if (!strcmp(rule, "none")) {
        for (size_t i = 0; i < a->n; i++)
            (*w)[i] = 1.0;
        return 0;
    }
    if (dgm_alignment_weights(*w, neff, a, theta, strcmp(rule, "plmc") ? DGM_SEQW_DEEPSEQ
                                                                       : DGM_SEQW_PLMC, &err))
        return cli_fail_err(cmd, &err);
    return 0;
}

int cli_parse_sizes(size_t *out, int max, const char *s, long maxv)
{
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > maxv || n == max || (*end && *end != ','))
            return -1;
        out[n++] = (size_t)v;
        s = *end ? end + 1 : end;
    }
    return n;
}

/* The default is printed from the option's variable before anything is parsed, so it is
 * the real one. Help text that states the default itself ("default 10; ...") or calls the
 * option required gets no second "(default: ...)"; flags are off unless given. */
static void print_default(const cli_opt *o)
{
    if (o->type == OPT_FLAG || strstr(o->help, "default") || strstr(o->help, "required"))
        return;
    printf(" (default: ");
    switch (o->type) {
    case OPT_INT: printf("%d", *(int *)o->dst); break;
    case OPT_LONG: printf("%ld", *(long *)o->dst); break;
    case OPT_DOUBLE: printf("%g", *(double *)o->dst); break;
    case OPT_STR: {
        const char *v = *(const char **)o->dst;
        printf("%s", v ? v : "none");
        break;
    }
    default: break;
    }
    printf(")");
}

static void print_help(const char *cmd, const char *usage, const char *summary,
                       const cli_opt *opts, int n_opts)
{
    printf("usage: dgm %s %s\n\n%s\n\noptions:\n", cmd, usage, summary);
    int n_alias = 0;
    for (int i = 0; i < n_opts; i++) {
        if (opts[i].type == OPT_ALIAS) {
            n_alias++;
            continue;
        }
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", opts[i].name, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        printf("  %-22s %s", left, opts[i].help);
        print_default(&opts[i]);
        printf("\n");
    }
    printf("  %-22s %s\n", "-h, --help", "show this help");
    if (n_alias) {
        printf("\ndeprecated spellings (accepted until dgm %s, with a note on stderr):\n",
               CLI_ALIAS_UNTIL);
        for (int i = 0; i < n_opts; i++)
            if (opts[i].type == OPT_ALIAS)
                printf("  %-22s now %s\n", opts[i].name, opts[i].arg);
    }
}

/* Levenshtein distance, for "did you mean"; names are short. */
size_t cli_edit_distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b), row[64];
    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The closest option name within 2 edits (or one the typed text is a prefix of), or NULL. */
static const char *closest(const char *a, size_t len, const cli_opt *opts, int n_opts)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (int j = 0; j < n_opts; j++) {
        const char *name = opts[j].type == OPT_ALIAS ? opts[j].arg : opts[j].name;
        size_t d = cli_edit_distance(a, len, name);
        if (len >= 4 && !strncmp(name, a, len))
            d = 1;
        if (d < best_d)
            best_d = d, best = name;
    }
    return best;
}

static int parse_value(const char *cmd, const cli_opt *o, const char *v)
{
    char *end;
    errno = 0;
    if (o->type == OPT_STR) {
        *(const char **)o->dst = v;
        return 0;
    }
    double d = strtod(v, &end);
    if (end == v || *end || errno == ERANGE || isnan(d))
        return cli_usage(cmd, "%s: '%s' is not a number", o->name, v);
    if ((o->type == OPT_INT || o->type == OPT_LONG) && d != floor(d))
        return cli_usage(cmd, "%s: '%s' is not an integer", o->name, v);
    if (o->min <= o->max && (d < o->min || d > o->max))
        return cli_usage(cmd, "%s: %s is out of range [%g, %g]", o->name, v, o->min, o->max);
    if (o->type == OPT_INT) *(int *)o->dst = (int)d;
    else if (o->type == OPT_LONG) *(long *)o->dst = (long)d;
    else *(double *)o->dst = d;
    return 0;
}

static const cli_opt *find(const char *a, size_t len, const cli_opt *opts, int n_opts)
{
    for (int j = 0; j < n_opts; j++)
        if (strlen(opts[j].name) == len && !strncmp(opts[j].name, a, len))
            return &opts[j];
    return NULL;
}

int cli_parse(const char *cmd, const char *usage, const char *summary, int argc, char **argv,
              const cli_opt *opts, int n_opts, const char **pos, int max_pos, int *n_pos)
{
    *n_pos = 0;
    /* --help first, wherever it is: the help then shows the defaults, not what was typed */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_help(cmd, usage, summary, opts, n_opts);
            return 1;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9')) {
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            const cli_opt *o = find(a, len, opts, n_opts);
            if (o && o->type == OPT_ALIAS) {
                fprintf(stderr, "dgm %s: note: %s is deprecated, use %s (the old spelling goes "
                        "in dgm %s)\n", cmd, o->name, o->arg, CLI_ALIAS_UNTIL);
                o = find(o->arg, strlen(o->arg), opts, n_opts);
            }
            if (!o) {
                const char *near = closest(a, len, opts, n_opts);
                if (near)
                    return cli_usage(cmd, "unknown option '%.*s' (did you mean %s?)", (int)len, a,
                                     near);
                return cli_usage(cmd, "unknown option '%.*s' (see dgm %s --help)", (int)len, a, cmd);
            }
            if (o->type == OPT_FLAG) {
                if (eq)
                    return cli_usage(cmd, "%s takes no value", o->name);
                *(int *)o->dst = 1;
                continue;
            }
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v)
                return cli_usage(cmd, "%s needs a value", o->name);
            if (parse_value(cmd, o, v))
                return 2;
            continue;
        }
        if (*n_pos >= max_pos)
            return cli_usage(cmd, "unexpected argument '%s' (see dgm %s --help)", a, cmd);
        pos[(*n_pos)++] = a;
    }
    return 0;
}
