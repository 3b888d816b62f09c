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
#ifdef DGM_MPI
/* Each rank's segment count and offset for MPI_Allgatherv, allocated with the
 * communicator so that a collective never has to fail on its own rank. */
static int *seg_counts;
/* The transfers posted since the last dgm__par_wait. */
static MPI_Request *reqs;
static size_t nreq, capreq;
#endif

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
    seg_counts = malloc(2 * (size_t)size_ * sizeof(int));
    if (!seg_counts)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for %d ranks", size_);
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
    free(seg_counts);
    seg_counts = NULL;
    free(reqs);
    reqs = NULL;
    nreq = capreq = 0;
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

#ifdef DGM_MPI
static MPI_Datatype elem_type(size_t elem)
{
    return elem == sizeof(double) ? MPI_DOUBLE : elem == sizeof(float) ? MPI_FLOAT : MPI_BYTE;
}
#endif

dgm_status dgm__par_post(void *buf, size_t n, size_t elem, int peer, int send, dgm_err *err)
{
#ifdef DGM_MPI
    if (nreq == capreq) {
        size_t cap = capreq ? 2 * capreq : 16;
        MPI_Request *r = realloc(reqs, cap * sizeof *r);
        if (!r)
            return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for MPI requests");
        reqs = r;
        capreq = cap;
    }
    int rc = send ? MPI_Isend(buf, (int)n, elem_type(elem), peer, 0, MPI_COMM_WORLD, &reqs[nreq])
                  : MPI_Irecv(buf, (int)n, elem_type(elem), peer, 0, MPI_COMM_WORLD, &reqs[nreq]);
    if (rc != MPI_SUCCESS)
        return dgm_errf(err, DGM_ERR_IO, "MPI_%s of %zu values to rank %d failed",
                        send ? "Isend" : "Irecv", n, peer);
    nreq++;
#else
    (void)buf, (void)n, (void)elem, (void)peer, (void)send, (void)err;
#endif
    return DGM_OK;
}

dgm_status dgm__par_wait(dgm_err *err)
{
#ifdef DGM_MPI
    int rc = nreq ? MPI_Waitall((int)nreq, reqs, MPI_STATUSES_IGNORE) : MPI_SUCCESS;
    nreq = 0;
    if (rc != MPI_SUCCESS)
        return dgm_errf(err, DGM_ERR_IO, "MPI_Waitall failed");
#else
    (void)err;
#endif
    return DGM_OK;
}

void dgm__par_allgather_segments(void *buf, size_t len, size_t elem)
{
#ifdef DGM_MPI
    if (size_ == 1)
        return;
    int *counts = seg_counts;
    for (int r = 0; r < size_; r++) {
        size_t off, cnt;
        dgm__par_segment(&off, &cnt, len, r);
        counts[r] = (int)cnt;
        counts[size_ + r] = (int)off;
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, counts + size_,
                   elem_type(elem), MPI_COMM_WORLD);
#else
    (void)buf, (void)len, (void)elem;
#endif
}

int dgm__par_any(int flag)
{
    int any = flag != 0;
#ifdef DGM_MPI
    if (size_ > 1)
        MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
#endif
    return any;
}

uint64_t dgm__par_min_u64(uint64_t x)
{
#ifdef DGM_MPI
    if (size_ > 1)
        MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
#endif
    return x;
}

/* v[0..n) reduced over the ranks in place: the minimum if min, else the sum */
static void allreduce_u32(uint32_t *v, size_t n, int min)
{
#ifdef DGM_MPI
    while (size_ > 1 && n > 0) { /* counts are ints: 2^28 at a time */
        size_t k = n < ((size_t)1 << 28) ? n : ((size_t)1 << 28);
        MPI_Allreduce(MPI_IN_PLACE, v, (int)k, MPI_UINT32_T, min ? MPI_MIN : MPI_SUM,
                      MPI_COMM_WORLD);
        v += k;
        n -= k;
    }
#else
    (void)v, (void)n, (void)min;
#endif
}

void dgm__par_sum_u32(uint32_t *v, size_t n) { allreduce_u32(v, n, 0); }
void dgm__par_min_u32(uint32_t *v, size_t n) { allreduce_u32(v, n, 1); }

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
