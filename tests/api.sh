#!/bin/sh
# Tests of the library as others get it: what $1/libdgm.so exports (the functions the
# installed headers declare, no dgm__ internal), its SONAME and links, and a program built
# from the installed headers and shared library alone (make install into a temporary
# DESTDIR). Each check prints "ok - name" or "not ok - name", counted by tests/run.sh.
build=${1:-build}
so="$build/libdgm.so"
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "ok - $1"; }  # "skip - name" lines are counted as skipped
fail() { echo "not ok - $1"; }
# names in file $2 printed as one "# $1: a b c" line (at most 10)
show() { echo "# $1: $(head -n 10 "$2" | tr '\n' ' ')"; }

if [ ! -e "$so" ]; then fail "api: $so is missing"; exit 0; fi
ver=$(sed -n 's/^#define DGM_VERSION "\(.*\)"$/\1/p' include/dgm.h)
soname="libdgm.so.${ver%%.*}"

# --- exports
nm -D --defined-only "$so" | awk 'NF == 3 {print $2, $3}' | sort -k2 > "$tmp/nm"
grep ' dgm__' "$tmp/nm" | cut -d' ' -f2 > "$tmp/internal"
if [ -s "$tmp/nm" ] && [ ! -s "$tmp/internal" ]; then pass "no dgm__ symbol exported"; else
    fail "no dgm__ symbol exported"; show "exported" "$tmp/internal"; fi
grep -v '^T dgm_' "$tmp/nm" > "$tmp/other"
if [ ! -s "$tmp/other" ]; then pass "only dgm_ functions exported"; else
    fail "only dgm_ functions exported"; show "also exported" "$tmp/other"; fi

# --- SONAME, the links, and the version they carry (DGM_VERSION)
got=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$got" = "$soname" ] && pass "SONAME $soname" || fail "SONAME $soname (got '$got')"
[ "$(readlink "$build/libdgm.so")" = "$soname" ] && [ "$(readlink "$build/$soname")" = "libdgm.so.$ver" ] &&
    [ -f "$build/libdgm.so.$ver" ] && [ ! -L "$build/libdgm.so.$ver" ] &&
    pass "libdgm.so -> $soname -> libdgm.so.$ver" || fail "libdgm.so -> $soname -> libdgm.so.$ver"

# --- make install into a temporary root. Under make test, MAKEFLAGS keeps the command
# line's variables (BUILD, BLAS=none, SAN=1), which install must see too, and names a
# jobserver whose descriptors this script does not have: drop that part.
MAKEFLAGS=$(printf '%s' "${MAKEFLAGS:-}" | sed -E 's/--jobserver-(auth|fds)=[^ ]*//g')
export MAKEFLAGS
dest="$tmp/dest"
if ${MAKE:-make} --no-print-directory install BUILD="$build" DESTDIR="$dest" PREFIX=/usr >"$tmp/install.log" 2>&1; then
    pass "make install DESTDIR"
else
    fail "make install DESTDIR"; sed 's/^/# /' "$tmp/install.log" | tail -n 5; exit 0
fi
inc="$dest/usr/include"; lib="$dest/usr/lib"
for f in "$inc/dgm.h" "$inc/dgm_blocks.h" "$lib/libdgm.so.$ver" "$lib/$soname" "$lib/libdgm.so" "$lib/libdgm.a"; do
    [ -e "$f" ] || echo "${f#"$dest"}" >>"$tmp/missing"
done
[ "$(readlink "$lib/libdgm.so")" = "$soname" ] && [ "$(readlink "$lib/$soname")" = "libdgm.so.$ver" ] ||
    echo "links" >>"$tmp/missing"
grep -qx "Version: $ver" "$lib/pkgconfig/dgm.pc" 2>/dev/null || echo "dgm.pc with Version: $ver" >>"$tmp/missing"
if [ ! -s "$tmp/missing" ]; then pass "installed: both headers, the library and its links, dgm.pc"; else
    fail "installed: both headers, the library and its links, dgm.pc"; show "missing" "$tmp/missing"; fi

# --- man pages: dgm(1) and one per command, installed, rendering their options
man1="$dest/usr/share/man/man1"
if [ -f "$man1/dgm.1" ] && [ -f "$man1/dgm-train.1" ] && [ -f "$man1/dgm-train-protein.1" ]; then
    MANWIDTH=100 man -l "$man1/dgm.1" 2>/dev/null | grep -q 'mutations(1)' &&
        MANWIDTH=100 man -l "$man1/dgm-train.1" 2>/dev/null | grep -q -- '--epochs N' &&
        MANWIDTH=100 man -l "$man1/dgm-mutations.1" 2>/dev/null | grep -q -- '--elbo-samples' &&
        pass "man pages render: dgm(1) lists the command pages, dgm-train(1) and dgm-mutations(1) their options" ||
        fail "man pages render with their options"
else
    fail "man pages installed under share/man/man1"
fi

# --- every function the installed headers declare is exported, and only those (GCC's
# -aux-info lists the prototypes a translation unit declares, with their files)
echo '#include <dgm_blocks.h>' > "$tmp/decl.c"
if $cc -I"$inc" -aux-info "$tmp/aux" -c "$tmp/decl.c" -o "$tmp/decl.o" 2>/dev/null; then
    grep -E "^/\* $inc/dgm(_blocks)?\.h:" "$tmp/aux" |
        sed -E 's|^/\*[^*]*\*/ ||; s/ \(.*$//; s/.*[ *]//' | sort -u > "$tmp/declared"
    grep '^T ' "$tmp/nm" | cut -d' ' -f2 | sort -u > "$tmp/exported"
    comm -23 "$tmp/declared" "$tmp/exported" > "$tmp/not_exported"
    comm -13 "$tmp/declared" "$tmp/exported" > "$tmp/not_declared"
    if [ -s "$tmp/declared" ] && [ ! -s "$tmp/not_exported" ] && [ ! -s "$tmp/not_declared" ]; then
        pass "exports are the $(wc -l <"$tmp/declared") functions the headers declare"
    else
        fail "exports are the functions the headers declare"
        [ -s "$tmp/not_exported" ] && show "declared, not exported (DGM_API?)" "$tmp/not_exported"
        [ -s "$tmp/not_declared" ] && show "exported, not declared" "$tmp/not_declared"
    fi
else
    echo "skip - exports against declarations: $cc has no -aux-info"
fi

# --- each installed header compiles on its own, as C11 (pedantic) and as C++
for h in dgm.h dgm_blocks.h; do
    printf '#include <%s>\n' "$h" > "$tmp/h.c"
    $cc -std=c11 -Wall -Wextra -pedantic -Werror -I"$inc" -fsyntax-only "$tmp/h.c" 2>"$tmp/err" &&
        pass "$h alone compiles as C11 -pedantic" || { fail "$h alone compiles as C11 -pedantic"; sed 's/^/# /' "$tmp/err" | head -n 5; }
    if command -v c++ >/dev/null; then
        c++ -x c++ -Wall -Wextra -pedantic -Werror -I"$inc" -fsyntax-only "$tmp/h.c" 2>"$tmp/err" &&
            pass "$h compiles as C++" || { fail "$h compiles as C++"; sed 's/^/# /' "$tmp/err" | head -n 5; }
    else
        echo "skip - $h as C++: no c++ compiler"
    fi
done

# --- a program against the installed headers and libdgm.so only. A library built with
# the sanitizers (SAN=1) needs their runtimes first in the program too.
sanitizers=""
readelf -d "$so" | grep -q 'NEEDED.*\[libasan' && sanitizers="address"
readelf -d "$so" | grep -q 'NEEDED.*\[libubsan' && sanitizers="${sanitizers:+$sanitizers,}undefined"
san=${sanitizers:+-fsanitize=$sanitizers}
cat > "$tmp/prog.c" <<'EOF'
#include <dgm.h>
#include <dgm_blocks.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FAIL(...) do { fprintf(stderr, __VA_ARGS__); return 1; } while (0)

int main(void)
{
    dgm_set_threads(1);
    if (dgm_get_threads() != 1)
        FAIL("dgm_get_threads() = %d after dgm_set_threads(1)\n", dgm_get_threads());
    dgm_rng rng;
    dgm_rng_init(&rng, 42);
    float a[6], b[6], c[4], r[4];
    dgm_rng_fill_normal(&rng, a, 6);
    dgm_rng_fill_normal(&rng, b, 6);
    /* c (2 x 2) = a (2 x 3) b^T: against the plain loop, and c[0] against a dot product */
    dgm_gemm(DGM_NOTRANS, DGM_TRANS, 2, 2, 3, 1.0f, a, 3, b, 3, 0.0f, c, 2);
    dgm_gemm_ref(DGM_NOTRANS, DGM_TRANS, 2, 2, 3, 1.0f, a, 3, b, 3, 0.0f, r, 2);
    for (int i = 0; i < 4; i++)
        if (fabsf(c[i] - r[i]) > 1e-5f)
            FAIL("dgm_gemm c[%d] = %g, dgm_gemm_ref %g\n", i, c[i], r[i]);
    if (fabs(dgm_dot(a, b, 3) - c[0]) > 1e-5)
        FAIL("dgm_dot %g, c[0] %g\n", dgm_dot(a, b, 3), c[0]);
    /* a 3-4-2 MLP in a parameter store, forward on two rows */
    dgm_err err;
    dgm_params *p = dgm_params_create();
    size_t dims[3] = {3, 4, 2};
    dgm_mlp *m = p ? dgm_mlp_create(p, "net", dims, 2, DGM_ACT_RELU, DGM_ACT_IDENTITY) : NULL;
    if (!m || dgm_params_alloc(p, &err) != DGM_OK)
        FAIL("parameter store or MLP: %s\n", m ? err.msg : "not created");
    dgm_mlp_init(m, &rng);
    if (dgm_mlp_reserve(m, 2, &err) != DGM_OK)
        FAIL("dgm_mlp_reserve: %s\n", err.msg);
    const float *y = dgm_mlp_forward(m, a, 2);
    if (!dgm_all_finite(y, 4) || dgm_params_count(p) != 3 * 4 + 4 + 4 * 2 + 2 ||
        dgm_params_find(p, "net.2.weight") < 0)
        FAIL("MLP: %zu parameters, net.2.weight at %d\n", dgm_params_count(p),
             dgm_params_find(p, "net.2.weight"));
    dgm_mlp_free(m);
    dgm_params_free(p);
    /* an error from the model level: a file that is not there, named in the message */
    dgm_model *model = NULL;
    if (dgm_model_load(&model, "/nonexistent/x.safetensors", &err) != DGM_ERR_IO ||
        !strstr(err.msg, "x.safetensors") || model)
        FAIL("dgm_model_load of a missing file: %s\n", err.msg);
    printf("%s, %s\n", DGM_VERSION, dgm_gemm_backend());
    return 0;
}
EOF
# shellcheck disable=SC2086
if $cc -std=c11 -Wall -Wextra -pedantic -Werror $san -I"$inc" "$tmp/prog.c" -o "$tmp/prog" \
        -L"$lib" -Wl,-rpath,"$lib" -ldgm -lm 2>"$tmp/err"; then
    pass "a program builds from the installed headers and libdgm.so"
    if "$tmp/prog" >"$tmp/out" 2>"$tmp/err"; then pass "the program runs"; else
        fail "the program runs"; sed 's/^/# /' "$tmp/err" | head -n 5; fi
    ldd "$tmp/prog" | grep -q "$lib/$soname" && pass "the program loads $soname from the install" ||
        fail "the program loads $soname from the install"
else
    fail "a program builds from the installed headers and libdgm.so"; sed 's/^/# /' "$tmp/err" | head -n 5
fi
# --- the C examples of docs/examples, built the same way, run in a scratch folder
for ex in docs/examples/*.c; do
    [ -f "$ex" ] || continue
    name=$(basename "$ex" .c)
    # shellcheck disable=SC2086
    if $cc -std=c11 -Wall -Wextra -pedantic -Werror $san -I"$inc" "$ex" -o "$tmp/$name" \
            -L"$lib" -Wl,-rpath,"$lib" -ldgm -lm 2>"$tmp/err"; then
        if "$tmp/$name" "$tmp" >"$tmp/out" 2>"$tmp/err"; then pass "docs/examples/$name.c builds and runs"
        else fail "docs/examples/$name.c runs"; sed 's/^/# /' "$tmp/err" | head -n 5; fi
    else
        fail "docs/examples/$name.c builds from the installed headers"; sed 's/^/# /' "$tmp/err" | head -n 5
    fi
done
# and internals stay internal: a dgm__ function does not link
printf 'void dgm__assert_fail(const char *, const char *, int);\nint main(void) { dgm__assert_fail("", "", 0); return 0; }\n' > "$tmp/internal.c"
# shellcheck disable=SC2086
if $cc $san "$tmp/internal.c" -o "$tmp/internal" -L"$lib" -Wl,-rpath,"$lib" -ldgm >/dev/null 2>"$tmp/err"; then
    fail "a dgm__ function does not link against libdgm.so (it linked)"
elif grep -q "undefined reference to .dgm__assert_fail" "$tmp/err"; then
    pass "a dgm__ function does not link against libdgm.so"
else
    fail "a dgm__ function does not link against libdgm.so (another error)"; sed 's/^/# /' "$tmp/err" | head -n 5
fi
exit 0
