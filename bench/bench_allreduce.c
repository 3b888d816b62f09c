/* The communication of one data-parallel step (docs/scaling.md): the reference VAE's
 * gradient buffer (652,824 floats, 2.6 MB, or --floats N) combined across the ranks of
 * mpirun, timed three ways: MPI_Allreduce (Open MPI's own order: not what dgm uses, as its
 * sum's order may change with the rank count), MPI_Bcast of the buffer from one rank, and
 * dgm's fixed-tree sum over micro-shards (dgm__par_tree_sum_f: each rank adds its shards'
 * subtree, the largest subtrees go out by MPI_Bcast, every rank adds the rest), and the
 * segmented tree the VAE's step uses (dgm__par_tree_sum_seg_f, each rank adds the whole tree
 * over its 1/R-th segment only, then dgm__par_allgather_segments returns every segment to
 * every rank: the bits of the same tree, a reduce-scatter and an allgather's traffic), and
 * the same segments summed in place in a shared window when the ranks share one machine
 * (dgm__par_tree_sum_shm_f, what the VAE, MADE and the flows use there).
 * Validates first: both trees' sums equal the one-rank sum bit for bit. Medians of --reps runs, each
 * after a barrier, on rank 0's clock. Built with MPI=1; without it, says so.
 * usage: mpirun -np R bench_allreduce [--floats N] [--shards S] [--reps R] */
#include "dgm.h"
#include "par/par.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef DGM_MPI
#include <mpi.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* shard i's value at element j: a fixed pseudo-random float */
static float val(size_t i, size_t j)
{
    uint32_t h = (uint32_t)(i * 2654435761u) ^ (uint32_t)(j * 2246822519u);
    h ^= h >> 13;
    h *= 3266489917u;
    h ^= h >> 16;
    return (float)(h % 20001) * 1e-4f - 1.0f;
}

/* node [lo, hi) = [lo, m) + [m, hi), m = lo + ceil((hi - lo) / 2), into v[lo] */
static void serial_tree(float **v, size_t lo, size_t hi, size_t N)
{
    if (hi - lo < 2)
        return;
    size_t m = lo + (hi - lo + 1) / 2;
    serial_tree(v, lo, m, N);
    serial_tree(v, m, hi, N);
    for (size_t j = 0; j < N; j++)
        v[lo][j] = v[lo][j] + v[m][j];
}

int main(int argc, char **argv)
{
    dgm_err err = {0};
    if (dgm__par_init(&argc, &argv, &err)) {
        fprintf(stderr, "bench_allreduce: %s\n", err.msg);
        return 1;
    }
    size_t N = 652824, S = 4;
    int reps = 30;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--floats"))
            N = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--shards"))
            S = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
    }
    int rank = dgm__par_rank(), size = dgm__par_size();
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    float **bufs = malloc(S * sizeof *bufs);
    double *t_ar = malloc((size_t)reps * sizeof(double)), *t_bc = malloc((size_t)reps * sizeof(double));
    double *t_tr = malloc((size_t)reps * sizeof(double)), *t_sg = malloc((size_t)reps * sizeof(double));
    for (size_t i = 0; i < S; i++)
        bufs[i] = calloc(N, sizeof(float));
    for (size_t j = 0; j < N; j++)
        a[j] = val((size_t)rank, j);
    double *t_sh = calloc((size_t)reps, sizeof(double));
    dgm__par_shm *shm = NULL;
    if (dgm__par_shm_create(&shm, S * N * sizeof(float), &err)) {
        fprintf(stderr, "bench_allreduce: %s\n", err.msg);
        return 1;
    }
    float **sbufs = malloc(S * sizeof *sbufs);
    for (size_t i = 0; shm && i < S; i++) {
        sbufs[i] = (float *)dgm__par_shm_base(shm) + i * N;
        if (rank == 0)
            memset(sbufs[i], 0, N * sizeof(float));
    }
    if (shm)
        dgm__par_shm_fence(shm);
    size_t lo, hi;
    dgm__shard_mine(&lo, &hi, S);
    int bad = 0;
    for (int r = 0; r < reps; r++) {
        for (size_t i = lo; i < hi; i++)
            for (size_t j = 0; j < N; j++)
                bufs[i][j] = val(i, j);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = now();
        dgm__par_tree_sum_f(bufs, S, N, &err);
        t_tr[r] = now() - t0;
        if (r == 0) { /* validate against the tree of par.h written out serially here */
            float **one = malloc(S * sizeof *one);
            for (size_t i = 0; i < S; i++) {
                one[i] = malloc(N * sizeof(float));
                for (size_t j = 0; j < N; j++)
                    one[i][j] = val(i, j);
            }
            serial_tree(one, 0, S, N);
            bad = memcmp(one[0], bufs[0], N * sizeof(float)) != 0;
            for (size_t i = 0; i < S; i++)
                free(one[i]);
            free(one);
        }
        float *full = r == 0 ? malloc(N * sizeof *full) : NULL;
        if (full)
            memcpy(full, bufs[0], N * sizeof *full);
        for (size_t i = lo; i < hi; i++)
            for (size_t j = 0; j < N; j++)
                bufs[i][j] = val(i, j);
        for (size_t i = 0; i < S; i++) /* the segmented sum wants the other nodes zero */
            if (i < lo || i >= hi)
                memset(bufs[i], 0, N * sizeof(float));
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = now();
        size_t off, cnt;
        dgm__par_tree_sum_seg_f(bufs, S, N, &off, &cnt, &err);
        dgm__par_allgather_segments(bufs[0], N, sizeof(float));
        t_sg[r] = now() - t0;
        if (full) {
            bad |= memcmp(full, bufs[0], N * sizeof(float)) != 0;
            free(full);
        }
        if (shm) { /* the same tree over buffers every rank maps (one machine) */
            for (size_t i = lo; i < hi; i++)
                for (size_t j = 0; j < N; j++)
                    sbufs[i][j] = val(i, j);
            MPI_Barrier(MPI_COMM_WORLD);
            t0 = now();
            dgm__par_tree_sum_shm_f(sbufs, S, N, &off, &cnt, shm);
            dgm__par_shm_fence(shm); /* every segment summed: the whole sum for every rank */
            t_sh[r] = now() - t0;
            if (r == 0) /* against the segmented sum, checked above */
                bad |= memcmp(bufs[0], sbufs[0], N * sizeof(float)) != 0;
        }
        memcpy(b, a, N * sizeof *b);
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = now();
        MPI_Allreduce(MPI_IN_PLACE, b, (int)N, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        t_ar[r] = now() - t0;
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = now();
        MPI_Bcast(b, (int)N, MPI_FLOAT, 0, MPI_COMM_WORLD);
        t_bc[r] = now() - t0;
    }
    int any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("ranks %d, %zu floats (%.2f MB), %zu micro-shards, %d reps; tree sum the same "
               "on every rank and equal to the serial tree, segmented or not: %s\n", size, N, (double)N * 4e-6, S, reps,
               any ? "NO" : "yes");
        printf("  MPI_Allreduce (sum)  %8.3f ms\n", 1e3 * median(t_ar, reps));
        printf("  MPI_Bcast            %8.3f ms\n", 1e3 * median(t_bc, reps));
        printf("  dgm fixed-tree sum   %8.3f ms\n", 1e3 * median(t_tr, reps));
        printf("  dgm segmented tree   %8.3f ms (sum over my segment + MPI_Allgatherv)\n",
               1e3 * median(t_sg, reps));
        if (shm)
            printf("  dgm shared-memory tree %6.3f ms (the segments summed in place in one "
                   "window, a fence)\n", 1e3 * median(t_sh, reps));
        else
            printf("  dgm shared-memory tree: not on this launch (one rank, several machines, "
                   "or DGM_MPI_SHM=0)\n");
    }
    dgm__par_shm_free(shm);
    dgm__par_finalize();
    return any;
}
#else
int main(void)
{
    printf("bench_allreduce: built without MPI (make MPI=1)\n");
    return 0;
}
#endif
