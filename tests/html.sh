#!/bin/sh
# The HTML report in a real browser: dgm assess --report on a small generated family,
# opened in headless Chromium (Debian's chromium) by tests/html_check.py, which checks the
# embedded PNGs decode, the DOM holds the table, and the screenshot shows the plots. The
# same check must reject a copy of the page whose images are broken. Prints "ok - name" /
# "not ok - name"; "skip" without chromium or python3.
build=${1:-build}
dgm="$build/dgm"
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# fontconfig's process-lifetime caches are not leaks of dgm's (tests/lsan_fontconfig.supp)
LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan_fontconfig.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
pass() { echo "ok - html: $1"; }
fail() { echo "not ok - html: $1"; }
chromium=$(command -v chromium || true)
if [ -z "$chromium" ] || [ ! -x $py ]; then echo "skip - html: chromium or python3 missing"; exit 0; fi
$py - "$tmp" <<'PY'
import sys, random
random.seed(5)
AA = "ACDEFGHIKLMNPQRSTVWY-"
L = 40
anc = ["".join(random.choice(AA[:20]) for _ in range(L)) for _ in range(4)]
def draw():
    s = [c if random.random() > 0.3 else random.choice(AA) for c in random.choice(anc)]
    return "".join(s)
for name, n in (("ref", 120), ("held", 60), ("gen", 80)):
    with open("%s/%s.fa" % (sys.argv[1], name), "w") as f:
        for i in range(n):
            f.write(">%s%d\n%s\n" % (name, i, draw()))
PY
if "$dgm" assess "$tmp/ref.fa" "$tmp/gen.fa" --heldout "$tmp/held.fa" --report "$tmp/report.html" \
       --figures "$tmp/fig" >"$tmp/out" 2>"$tmp/err"; then
    pass "dgm assess --report writes a page"
else
    fail "dgm assess --report writes a page ($(cat "$tmp/err"))"
fi
[ -s "$tmp/fig/pairs.png" ] && [ -s "$tmp/fig/identity.png" ] && [ -s "$tmp/fig/entropy.png" ] &&
    pass "--figures writes pairs, identity and entropy PNGs" || fail "--figures writes pairs, identity and entropy PNGs"
if $py tests/html_check.py "$tmp/report.html" --images 3 --rows 2 --chromium "$chromium" >"$tmp/chk" 2>&1; then
    pass "report renders in headless Chromium with its table and plots"
else
    fail "report renders in headless Chromium ($(cat "$tmp/chk"))"
fi
# the check can fail: the same page with every image's data cut short
sed 's|base64,\([A-Za-z0-9+/]\{40\}\)[^"]*"|base64,\1"|g' "$tmp/report.html" >"$tmp/broken.html"
if $py tests/html_check.py "$tmp/broken.html" --images 3 --rows 2 --chromium "$chromium" >"$tmp/chk" 2>&1; then
    fail "the check rejects a page with broken images"
else
    pass "the check rejects a page with broken images"
fi
# and a page whose images are valid but blank PNGs: the screenshot shows no plots
$py - "$tmp" <<'PY'
import base64, sys, zlib, struct
def png(w, h):
    raw = b"".join(b"\x00" + b"\xff" * (3 * w) for _ in range(h))
    def chunk(k, d): return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
img = base64.b64encode(png(400, 300)).decode()
with open(sys.argv[1] + "/blank.html", "w") as f:
    f.write("<html><body><table><tr><td>a</td></tr><tr><td>b</td></tr></table>" + ('<img src="data:image/png;base64,%s">' % img) * 3 + "</body></html>")
PY
if $py tests/html_check.py "$tmp/blank.html" --images 3 --rows 2 --chromium "$chromium" >"$tmp/chk" 2>&1; then
    fail "the check rejects blank figures"
else
    pass "the check rejects blank figures"
fi
