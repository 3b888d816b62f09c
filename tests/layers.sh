#!/bin/sh
# Arrows one way (docs/design.md, "Layers, and which way calls go"). Reads the layer block
# of docs/design.md (the one place the order is written: highest first, a family folder
# such as src/models/vae/ indented under its layer), maps every file under src/ to its
# layer by folder, and checks
#   - every folder under src/ is in the block (a listed folder that does not exist yet,
#     such as src/train/, is fine);
#   - every #include "..." of src/**/*.c and *.h: no file includes a higher layer, no
#     family folder includes another family's, and a *_internal.h header is included only
#     from its own folder;
#   - with a build folder ($1, default build), the same rules for calls, from the symbol
#     tables of its objects (nm): most arrows go through the public dgm.h and show no
#     include. model.c's registry calling each family's loader is the one allowed crossing.
# Prints "ok - name" / "not ok - name" (counted by tests/run.sh) and a "#" line naming file,
# line and both layers for each violation. DGM_LAYERS_STRICT=1 ignores the allow-list.
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "ok - layers: $1"; }
fail() { echo "not ok - layers: $1"; }
# report NAME FILE: ok when FILE is empty, else not ok and its lines
failed=0
report() { if [ -s "$2" ]; then fail "$1"; sed 's/^/# /' "$2"; failed=1; else pass "$1"; fi; }

# Includes of another folder's *_internal.h allowed for now, "file:included header"
# (none: dgm__plogpq moved to distributions/categorical.h and Cholesky to tensor/linalg.h).
allow_internal=""
[ "${DGM_LAYERS_STRICT:-0}" = 1 ] && allow_internal=""

# ---- the layer block -> $tmp/layers: "L name rank" (0 = lowest) and "F layer/family"
awk '/^## Layers/ { sec = 1; next }
     /^## / { sec = 0 }
     sec && /^```/ { if (inb) exit; inb = 1; next }
     inb && $1 ~ /^src\/[a-z_]+\/$/ { top[++n] = substr($1, 5, length($1) - 5) }
     inb && $1 ~ /^src\/[a-z_]+\/[a-z_]+\/$/ { print "F", substr($1, 5, length($1) - 5) }
     END { for (i = n; i >= 1; i--) print "L", top[i], n - i }' docs/design.md >"$tmp/layers"
if [ "$(grep -c '^L ' "$tmp/layers")" -lt 2 ] || ! grep -q '^L core 0$' "$tmp/layers"; then
    fail "docs/design.md has a layer block with core lowest"
    exit 1
fi
pass "docs/design.md has a layer block with core lowest ($(awk '$1 == "L" { printf "%s%s", s, $2; s = " < " }' "$tmp/layers"))"

find src -type f \( -name '*.c' -o -name '*.h' \) | sort >"$tmp/files"

# Shared awk: layer and family of a path under src/, from $tmp/layers.
cat >"$tmp/lib.awk" <<'AWK'
FILENAME == LAYERS { if ($1 == "L") rank[$2] = $3; else fam[$2] = 1; next }
# sets LAY and FAM (family, "" for none) of path p ("src/models/vae/vae.c"); 0 if unlisted
function place(p,    a, n) {
    n = split(p, a, "/")
    LAY = a[2]; FAM = ""
    if (n < 3 || !(LAY in rank)) return 0
    if (n > 3) { FAM = a[3]; if (!((LAY "/" FAM) in fam)) return 0 }
    return 1
}
function dir(p) { sub(/\/[^\/]*$/, "", p); return p }
function where(l, f) { return f == "" ? l : l "/" f }
AWK

# ---- every folder listed
awk -v LAYERS="$tmp/layers" -f "$tmp/lib.awk" -f /dev/stdin "$tmp/layers" "$tmp/files" \
    >"$tmp/v_folder" <<'AWK'
!place($0) { print $0 ": its folder " dir($0) "/ is not in docs/design.md's layer block" }
AWK
report "every folder under src/ is in the layer block" "$tmp/v_folder"

# ---- includes -> $tmp/v_up, v_fam, v_int (violations), $tmp/internal (every internal include)
awk -v LAYERS="$tmp/layers" -v FILES="$tmp/files" -v T="$tmp" -f "$tmp/lib.awk" -f /dev/stdin \
    "$tmp/layers" "$tmp/files" $(cat "$tmp/files") <<'AWK'
FILENAME == FILES { have[$0] = 1; next }
/^[ \t]*#[ \t]*include[ \t]*"/ {
    s = $0; sub(/^[^"]*"/, "", s); sub(/".*$/, "", s)
    if (("src/" s) in have) t = "src/" s
    else if ((dir(FILENAME) "/" s) in have) t = dir(FILENAME) "/" s
    else next                                   # dgm.h, dgm_blocks.h, system headers
    if (!place(FILENAME)) next                  # reported by the folder check
    sl = LAY; sf = FAM
    if (!place(t)) next
    at = FILENAME ":" FNR ": "
    if (rank[LAY] > rank[sl])
        print at where(sl, sf) " includes " s ", of " where(LAY, FAM) ", a higher layer" > (T "/v_up")
    else if (LAY == sl && sf != "" && FAM != "" && sf != FAM)
        print at "family " where(sl, sf) " includes " s ", of family " where(LAY, FAM) > (T "/v_fam")
    if (t ~ /_internal\.h$/ && dir(t) != dir(FILENAME))
        print FILENAME ":" s " " at where(sl, sf) " includes " s ", internal to " dir(t) "/" > (T "/internal")
}
AWK
touch "$tmp/v_up" "$tmp/v_fam" "$tmp/internal"
report "no file includes a higher layer" "$tmp/v_up"
report "no family folder includes another family's" "$tmp/v_fam"
: >"$tmp/v_int"; : >"$tmp/v_stale"
while read -r key msg; do
    case " $allow_internal " in *" $key "*) ;; *) echo "$msg" >>"$tmp/v_int" ;; esac
done <"$tmp/internal"
for key in $allow_internal; do
    grep -q "^$key " "$tmp/internal" ||
        echo "${key%%:*} does not include ${key#*:}: remove its entry from tests/layers.sh" >>"$tmp/v_stale"
done
report "*_internal.h included only from its own folder" "$tmp/v_int"
report "no stale entry in the allow-list of internal includes" "$tmp/v_stale"

# ---- calls, from the objects of the sources that exist (a stale object of a moved file
# would otherwise define a symbol twice)
if [ ! -d "$build/obj/src" ] || ! command -v nm >/dev/null 2>&1; then
    echo "skip - layers: calls go down (no objects in $build/obj/src, or no nm)"
    exit $failed
fi
grep '\.c$' "$tmp/files" | while read -r c; do
    o="$build/obj/${c%.c}.o"; [ -f "$o" ] && echo "$o"
done >"$tmp/objs"
if [ ! -s "$tmp/objs" ]; then
    echo "skip - layers: calls go down (no objects in $build/obj/src)"
    exit $failed
fi
xargs nm -A <"$tmp/objs" >"$tmp/nm" 2>/dev/null
awk -v LAYERS="$tmp/layers" -v B="$build/obj/" -v T="$tmp" -f "$tmp/lib.awk" -f /dev/stdin \
    "$tmp/layers" "$tmp/nm" <<'AWK'
function src(o) { o = substr(o, length(B) + 1); sub(/\.o$/, ".c", o); return o }
{   # "obj:addr T sym" or "obj:   U sym"
    i = index($0, ":"); o = src(substr($0, 1, i - 1)); n = split(substr($0, i + 1), f, " ")
    if (f[n] !~ /^dgm/) next
    if (f[n - 1] == "U") { caller[++nu] = o; callee[nu] = f[n] }
    else if (f[n - 1] ~ /^[A-Z]$/ && !(f[n] in def)) def[f[n]] = o
}
END {
    for (u = 1; u <= nu; u++) {
        o = caller[u]; sym = callee[u]
        if (!(sym in def) || !place(o)) continue
        sl = LAY; sf = FAM
        if (!place(def[sym])) continue
        if (rank[LAY] > rank[sl])
            print o ": " where(sl, sf) " calls " sym " (" def[sym] "), of " where(LAY, FAM) ", a higher layer" > (T "/c_up")
        else if (LAY == sl && sf != "" && FAM != "" && sf != FAM)
            print o ": family " where(sl, sf) " calls " sym " (" def[sym] "), of family " where(LAY, FAM) > (T "/c_fam")
    }
}
AWK
touch "$tmp/c_up" "$tmp/c_fam"
report "no file calls a higher layer (nm, $(wc -l <"$tmp/objs") objects)" "$tmp/c_up"
report "no family calls another family (nm)" "$tmp/c_fam"
exit $failed
