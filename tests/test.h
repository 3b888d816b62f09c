/* Minimal test harness: every CHECK that fails prints file:line, expected and actual;
 * TEST_RUN counts a test function as passed only if none of its checks failed; TEST_MAIN's
 * summary line "name: N passed, N failed" is summed by tests/run.sh, and the binary exits
 * non-zero on any failure. */
#ifndef DGM_TEST_H
#define DGM_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_fail_here;   /* failures in the current test function */
static int t_passed, t_failed, t_skipped;

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
    t_fail_here++; } } while (0)

#define CHECK_MSG(c, ...) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #c); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); t_fail_here++; } } while (0)

/* |actual - expected| <= tol */
#define CHECK_NEAR(actual, expected, tol) do { \
    double a_ = (double)(actual), e_ = (double)(expected), t_ = (double)(tol); \
    if (!(fabs(a_ - e_) <= t_)) { \
        fprintf(stderr, "%s:%d: %s: expected %.10g, actual %.10g (tol %.3g)\n", \
                __FILE__, __LINE__, #actual, e_, a_, t_); t_fail_here++; } } while (0)

#define CHECK_EQ_INT(actual, expected) do { \
    long long a_ = (long long)(actual), e_ = (long long)(expected); \
    if (a_ != e_) { fprintf(stderr, "%s:%d: %s: expected %lld, actual %lld\n", \
                            __FILE__, __LINE__, #actual, e_, a_); t_fail_here++; } } while (0)

#define TEST_RUN(fn) do { t_fail_here = 0; fn(); \
    if (t_fail_here) { t_failed++; fprintf(stderr, "FAIL %s\n", #fn); } \
    else t_passed++; } while (0)

/* A test whose prerequisite (a fixture, a data set) is missing says so plainly. */
#define TEST_SKIP(fn, why) do { t_skipped++; \
    fprintf(stderr, "SKIP %s: %s\n", #fn, why); } while (0)

#define TEST_MAIN_END(name) do { \
    printf("%s: %d passed, %d failed", name, t_passed, t_failed); \
    if (t_skipped) printf(", %d skipped", t_skipped); \
    printf("\n"); return t_failed ? 1 : 0; } while (0)

/* Path to the shared data folder: $DGM_SHARED_DATA, else ../shared/data. */
static inline const char *test_shared_data(void)
{
    const char *p = getenv("DGM_SHARED_DATA");
    return p ? p : "../shared/data";
}

#endif
