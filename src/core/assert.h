/* DGM_ASSERT, the programmer-error check of dgm's own code (library, CLI, tests): active in
 * every build, it prints file:line and aborts (src/core/status.c). Internal, like every
 * dgm__ name: libdgm.so does not export dgm__assert_fail, so the macro is not in the
 * installed headers. */
#ifndef DGM_CORE_ASSERT_H
#define DGM_CORE_ASSERT_H

void dgm__assert_fail(const char *expr, const char *file, int line);
#define DGM_ASSERT(c) ((c) ? (void)0 : dgm__assert_fail(#c, __FILE__, __LINE__))

#endif
