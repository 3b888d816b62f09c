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

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "dgm %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
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

static void print_default(const cli_opt *o)
{
    switch (o->type) {
    case OPT_FLAG: printf("off"); break;
    case OPT_INT: printf("%d", *(int *)o->dst); break;
    case OPT_LONG: printf("%ld", *(long *)o->dst); break;
    case OPT_DOUBLE: printf("%g", *(double *)o->dst); break;
    case OPT_STR: {
        const char *s = *(const char **)o->dst;
        printf("%s", s ? s : "none");
        break;
    }
    }
}

static void print_help(const char *cmd, const char *usage, const char *summary,
                       const cli_opt *opts, int n_opts)
{
    printf("usage: dgm %s %s\n\n%s\n\noptions:\n", cmd, usage, summary);
    for (int i = 0; i < n_opts; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", opts[i].name, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        printf("  %-22s %s (default: ", left, opts[i].help);
        print_default(&opts[i]);
        printf(")\n");
    }
    printf("  %-22s %s\n", "-h, --help", "show this help");
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
        return cli_fail(cmd, "%s: '%s' is not a number", o->name, v), 2;
    if ((o->type == OPT_INT || o->type == OPT_LONG) && d != floor(d))
        return cli_fail(cmd, "%s: '%s' is not an integer", o->name, v), 2;
    if (o->min <= o->max && (d < o->min || d > o->max))
        return cli_fail(cmd, "%s: %s is out of range [%g, %g]", o->name, v, o->min, o->max), 2;
    if (o->type == OPT_INT) *(int *)o->dst = (int)d;
    else if (o->type == OPT_LONG) *(long *)o->dst = (long)d;
    else *(double *)o->dst = d;
    return 0;
}

int cli_parse(const char *cmd, const char *usage, const char *summary, int argc, char **argv,
              const cli_opt *opts, int n_opts, const char **pos, int max_pos, int *n_pos)
{
    *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_help(cmd, usage, summary, opts, n_opts);
            return 1;
        }
        if (a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9')) {
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            const cli_opt *o = NULL;
            for (int j = 0; j < n_opts; j++)
                if (strlen(opts[j].name) == len && !strncmp(opts[j].name, a, len))
                    o = &opts[j];
            if (!o)
                return cli_fail(cmd, "unknown option '%.*s' (see dgm %s --help)", (int)len, a, cmd), 2;
            if (o->type == OPT_FLAG) {
                if (eq)
                    return cli_fail(cmd, "%s takes no value", o->name), 2;
                *(int *)o->dst = 1;
                continue;
            }
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v)
                return cli_fail(cmd, "%s needs a value", o->name), 2;
            if (parse_value(cmd, o, v))
                return 2;
            continue;
        }
        if (*n_pos >= max_pos)
            return cli_fail(cmd, "unexpected argument '%s' (see dgm %s --help)", a, cmd), 2;
        pos[(*n_pos)++] = a;
    }
    return 0;
}
