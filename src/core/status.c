/* Status codes, error messages and the assert hook. The error lives in a caller-owned
 * dgm_err (STYLE.md: no global error string). */
#include "dgm.h"
#include "core/assert.h"

#include <stdarg.h>
#include <stdlib.h>

dgm_status dgm_errf(dgm_err *err, dgm_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* one line whatever a file put in it: messages quote names and text read from
         * files (a JSON string, a header), and a newline or escape there would break
         * "one line naming the file and the problem" and could rewrite the terminal */
        for (char *c = err->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
        err->code = code;
    }
    return code;
}

const char *dgm_status_str(dgm_status s)
{
    switch (s) {
    case DGM_OK: return "ok";
    case DGM_ERR_IO: return "i/o error";
    case DGM_ERR_FORMAT: return "format error";
    case DGM_ERR_SHAPE: return "shape mismatch";
    case DGM_ERR_ARG: return "invalid argument";
    case DGM_ERR_NOMEM: return "out of memory";
    case DGM_ERR_NAN: return "non-finite value";
    case DGM_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

void dgm__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "%s:%d: dgm internal assertion failed: %s\n", file, line, expr);
    abort();
}
