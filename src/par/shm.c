/* Memory that every rank maps when all the ranks run on one machine (par.h, "Shared
 * memory"): an MPI-3 shared window (MPI_Win_allocate_shared over the ranks that
 * MPI_Comm_split_type groups by node), held open for passive access (MPI_Win_lock_all),
 * so that MPI_Win_sync can order each rank's plain loads and stores around a barrier.
 * The whole window is allocated by rank 0 and every rank queries rank 0's base, so the
 * ranks see one contiguous buffer (at a different address in each process). */
#include "par/par.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef DGM_MPI
#include <mpi.h>
#endif

struct dgm__par_shm {
#ifdef DGM_MPI
    MPI_Win win;
    MPI_Comm node;
#endif
    void *base;
};

#ifdef DGM_MPI
/* DGM_MPI_SHM: 0 keeps the messages even on one machine, 1 requires shared memory (an
 * error where the ranks span machines), unset or anything else takes it where it can
 * (tests/mpi.sh runs both roads, and requires the shared one once). */
static int setting(void)
{
    const char *e = getenv("DGM_MPI_SHM");
    return e && strcmp(e, "0") == 0 ? 0 : e && strcmp(e, "1") == 0 ? 1 : -1;
}
#endif

dgm_status dgm__par_shm_create(dgm__par_shm **out, size_t bytes, dgm_err *err)
{
    *out = NULL;
#ifdef DGM_MPI
    if (dgm__par_size() == 1)
        return DGM_OK;
    MPI_Comm node;
    int nsize = 0;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) !=
        MPI_SUCCESS)
        node = MPI_COMM_NULL;
    if (node != MPI_COMM_NULL)
        MPI_Comm_size(node, &nsize);
    /* every rank takes the same road: all on one node, and every rank wanting it */
    int want = setting(), one = nsize == dgm__par_size(), all = 0;
    int ok = one && want != 0 && bytes <= (size_t)PTRDIFF_MAX;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all) {
        if (node != MPI_COMM_NULL)
            MPI_Comm_free(&node);
        if (dgm__par_any(want == 1))
            return dgm_errf(err, DGM_ERR_UNSUPPORTED, "DGM_MPI_SHM=1 asks for shared memory, "
                            "but the %d ranks %s", dgm__par_size(),
                            dgm__par_any(!one) ? "do not all run on one machine"
                                               : "cannot map one buffer of that size");
        return DGM_OK;
    }
    dgm__par_shm *s = calloc(1, sizeof *s);
    MPI_Win win = MPI_WIN_NULL;
    void *mine = NULL, *base = NULL;
    /* collective: called even when calloc failed, so that no rank waits in it alone */
    int rc = MPI_Win_allocate_shared(dgm__par_rank() == 0 ? (MPI_Aint)bytes : 0, 1,
                                     MPI_INFO_NULL, node, &mine, &win);
    ok = s && rc == MPI_SUCCESS;
    if (ok) {
        MPI_Aint size;
        int unit;
        ok = MPI_Win_shared_query(win, 0, &size, &unit, &base) == MPI_SUCCESS &&
             (size_t)size >= bytes;
    }
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all) {
        if (rc == MPI_SUCCESS)
            MPI_Win_free(&win);
        MPI_Comm_free(&node);
        free(s);
        return dgm_errf(err, DGM_ERR_NOMEM, "no shared memory for %zu bytes across the %d "
                        "ranks (MPI_Win_allocate_shared; DGM_MPI_SHM=0 sends messages "
                        "instead)", bytes, dgm__par_size());
    }
    s->win = win;
    s->base = base;
    s->node = node;
    MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win);
    *out = s;
#else
    (void)bytes, (void)err;
#endif
    return DGM_OK;
}

void *dgm__par_shm_base(const dgm__par_shm *s) { return s->base; }

void dgm__par_shm_fence(dgm__par_shm *s)
{
#ifdef DGM_MPI
    MPI_Win_sync(s->win);
    MPI_Barrier(s->node);
    MPI_Win_sync(s->win);
#else
    (void)s;
#endif
}

void dgm__par_shm_free(dgm__par_shm *s)
{
    if (!s)
        return;
#ifdef DGM_MPI
    dgm__par_shm_fence(s);
    MPI_Win_unlock_all(s->win);
    MPI_Win_free(&s->win);
    MPI_Comm_free(&s->node);
#endif
    free(s);
}
