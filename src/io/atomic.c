/* Atomic file output: write into a temporary file beside the target (mkstemp of
 * "<path>.tmp.XXXXXX"), then rename() it over the target. rename within one directory is
 * atomic on POSIX file systems, so readers see either the old file or the complete new
 * one, and an error midway leaves the old file untouched.
 * Reference: the write-temp-then-rename pattern of POSIX rename(2).
 * Left out: fsync of the file and the directory (durability across power loss; a crash
 * can then lose the new file but never expose a half-written one). */
#include "dgm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *dgm_atomic_open(const char *path, char *tmp, size_t tmp_cap, dgm_err *err)
{
    int len = snprintf(tmp, tmp_cap, "%s.tmp.XXXXXX", path);
    if (len < 0 || (size_t)len >= tmp_cap) {
        dgm_errf(err, DGM_ERR_ARG, "%s: path too long for a temporary name", path);
        return NULL;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        dgm_errf(err, DGM_ERR_IO, "%s: cannot create a file there: %s", path, strerror(errno));
        return NULL;
    }
    /* mkstemp creates mode 0600; give the file the mode a plain fopen would have given it.
     * umask can only be read by setting it, so it is restored at once. */
    mode_t mask = umask(022);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        dgm_errf(err, DGM_ERR_IO, "%s: %s", path, strerror(errno));
        close(fd);
        remove(tmp);
        return NULL;
    }
    return f;
}

dgm_status dgm_atomic_commit(FILE *f, const char *tmp, const char *path, dgm_err *err)
{
    /* For tests/kill.sh only: DGM_TEST_COMMIT_PAUSE_MS=N pauses here, with part of the
     * data still in stdio's buffer, so that a SIGKILL can land while the temporary file is
     * half written; what is written does not change. Unset, nothing happens. */
    const char *pause = getenv("DGM_TEST_COMMIT_PAUSE_MS");
    if (pause && atoi(pause) > 0 && atoi(pause) <= 1000)
        usleep((useconds_t)atoi(pause) * 1000);
    /* fflush surfaces buffered write errors (disk full) before the rename makes them
     * visible as a truncated file; ferror catches earlier fwrite failures. */
    int bad = fflush(f) != 0 || ferror(f);
    int saved = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        remove(tmp);
        return dgm_errf(err, DGM_ERR_IO, "%s: write failed: %s", path,
                        saved ? strerror(saved) : "i/o error");
    }
    if (rename(tmp, path) != 0) {
        saved = errno;
        remove(tmp);
        return dgm_errf(err, DGM_ERR_IO, "%s: cannot replace the file: %s", path,
                        strerror(saved));
    }
    return DGM_OK;
}

void dgm_atomic_abort(FILE *f, const char *tmp)
{
    if (f)
        fclose(f);
    if (tmp && tmp[0])
        remove(tmp);
}
