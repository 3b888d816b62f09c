/* Shared by the libFuzzer harnesses (fuzz/fuzz_*.c, built by `make fuzz`, fuzz/README.md).
 * dgm's readers take paths, so each input is written to a per-process file in /dev/shm
 * (a RAM disk: no disk traffic; $TMPDIR or /tmp where it is missing) and read back through
 * the same entry point the CLI uses. FUZZ_CHECK aborts, which libFuzzer reports as a crash
 * with the input saved, when a result breaks what a caller relies on. */
#ifndef DGM_FUZZ_H
#define DGM_FUZZ_H

#include "dgm_blocks.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_CHECK(cond, ...)                                                           \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static char fuzz__paths[4][256];

static inline void fuzz__unlink(void)
{
    for (int i = 0; i < 4; i++)
        if (fuzz__paths[i][0])
            unlink(fuzz__paths[i]);
}

/* A path for this process's file number slot (0..3), "<dir>/dgm-fuzz-<pid>-<tag>": the tag
 * carries the extension, which matters where a name is looked at (alignments). The files
 * are removed at exit. */
static inline const char *fuzz_path(int slot, const char *tag)
{
    static int registered;
    if (!registered)
        registered = atexit(fuzz__unlink) == 0;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(fuzz__paths[slot], sizeof fuzz__paths[slot], "%s/dgm-fuzz-%ld-%s",
             dir && *dir ? dir : "/tmp", (long)getpid(), tag);
    return fuzz__paths[slot];
}

/* Writes the bytes to path; aborts if it cannot (a harness fault, not a finding). */
static inline void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* The error contract (include/dgm.h): a failure returns a non-zero status, fills err with
 * the same code and a one-line message, and names the file when there is one. */
static inline void fuzz_check_err(dgm_status s, const dgm_err *err, const char *path)
{
    if (s == DGM_OK)
        return;
    FUZZ_CHECK(err->code == s, "status %d, err.code %d (%s)", (int)s, (int)err->code, err->msg);
    FUZZ_CHECK(err->msg[0] != 0, "status %d without a message", (int)s);
    FUZZ_CHECK(!strchr(err->msg, '\n'), "message of more than one line: %s", err->msg);
    FUZZ_CHECK(!path || strstr(err->msg, path), "message does not name %s: %s", path, err->msg);
}

#endif
