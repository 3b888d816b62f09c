/* The process-wide communicator of par.h: MPI_COMM_WORLD in a build with MPI=1 (DGM_MPI,
 * compiled by mpicc), or one process. Only the main thread calls MPI (funneled): the
 * collectives run between the OpenMP regions of a step. Every collective here is called
 * by every rank in the same order, which the callers keep by running the same loop with
 * the same shard counts on every rank. */
#include "par/par.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef DGM_MPI
#include <mpi.h>
#endif

static int rank_, size_ = 1, inited;

int dgm__par_mpi(void)
{
#ifdef DGM_MPI
    return 1;
#else
    return 0;
#endif
}

int dgm__par_rank(void) { return rank_; }
int dgm__par_size(void) { return size_; }

#ifndef DGM_MPI
/* The world size a launcher (Open MPI, MPICH's PMI, PMIx, Slurm) announces, or 0. */
static long launcher_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE",
                                       "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return strtol(v, NULL, 10);
    }
    return 0;
}

#endif

dgm_status dgm__par_init(int *argc, char ***argv, dgm_err *err)
{
    if (inited)
        return DGM_OK;
    inited = 1;
#ifdef DGM_MPI
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return dgm_errf(err, DGM_ERR_IO, "MPI_Init_thread failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    /* errors come back as codes, and par_agree turns them into one message */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return DGM_OK;
#else
    (void)argc, (void)argv;
    long n = launcher_size();
    /* SLURM_NTASKS is set for a whole allocation: only a launcher's own variables count */
    if (n > 1 && !getenv("SLURM_NTASKS")) {
        const char *r = getenv("OMPI_COMM_WORLD_RANK");
        rank_ = r ? (int)strtol(r, NULL, 10) : 0; /* so that only the first says it */
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "this dgm was built without MPI, so the %ld "
                        "processes mpirun started would each run the whole job and write the "
                        "same files; rebuild with make MPI=1 (Open MPI: libopenmpi-dev), or run "
                        "one process", n);
    }
    return DGM_OK;
#endif
}

void dgm__par_finalize(void)
{
#ifdef DGM_MPI
    int fin = 0;
    if (inited && (MPI_Finalized(&fin), !fin))
        MPI_Finalize();
#endif
    inited = 0;
}

void dgm__par_abort(int code)
{
#ifdef DGM_MPI
    if (size_ > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
#endif
    exit(code);
}

void dgm__par_bcast_from(void *buf, size_t bytes, int root)
{
#ifdef DGM_MPI
    /* counts are ints: large buffers go in pieces of 1 GiB */
    unsigned char *p = buf;
    while (size_ > 1 && bytes > 0) {
        size_t k = bytes < (1u << 30) ? bytes : (1u << 30);
        MPI_Bcast(p, (int)k, MPI_BYTE, root, MPI_COMM_WORLD);
        p += k;
        bytes -= k;
    }
#else
    (void)buf, (void)bytes, (void)root;
#endif
}

void dgm__par_bcast(void *buf, size_t n) { dgm__par_bcast_from(buf, n, 0); }

dgm_status dgm__par_agree(dgm_status s, dgm_err *err)
{
#ifdef DGM_MPI
    if (size_ == 1)
        return s;
    int mine = s ? rank_ : size_, first = size_;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == size_)
        return DGM_OK;
    struct { int code; char msg[sizeof err->msg]; } e = {0, ""};
    if (rank_ == first) {
        e.code = (int)s;
        snprintf(e.msg, sizeof e.msg, "%s", err ? err->msg : "");
    }
    MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, first, MPI_COMM_WORLD);
    if (err) {
        err->code = (dgm_status)e.code;
        snprintf(err->msg, sizeof err->msg, "%s", e.msg);
    }
    return (dgm_status)e.code;
#else
    (void)err;
    return s;
#endif
}
