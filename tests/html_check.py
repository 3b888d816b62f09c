#!/usr/bin/python3
"""Checks that a self-contained HTML page really shows its table and images, in headless
Chromium: html_check.py PAGE [--images N] [--rows N] [--chromium PATH] [--shot OUT.png].

  1. every <img> is a data: URI holding a PNG that decodes (zlib, filters) to an image
     that is not blank, and there are at least N of them;
  2. Chromium's DOM (--dump-dom) has a <table> with at least --rows data rows and the
     images;
  3. Chromium's screenshot (1200 x 2000) is not blank and shows the figures' colours: at
     least 0.5% of its pixels are saturated (the plots' palette; text and tables are grey).
Exits 1 with a message naming the failed check. Reusable for any page dgm writes
(tests/html.sh runs it on dgm assess --report, and on a page whose images are broken,
which must fail). Decodes PNG itself (no PIL): 8-bit gray, RGB and RGBA, not interlaced."""
import base64, os, re, subprocess, sys, tempfile, zlib


def png_pixels(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, inter = (int.from_bytes(body[0:4], "big"),
                int.from_bytes(body[4:8], "big"), body[8], body[9], body[10], body[11], body[12])
            if depth != 8 or inter or ctype not in (0, 2, 6):
                raise ValueError("unsupported PNG (depth %d, type %d)" % (depth, ctype))
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    ch = {0: 1, 2: 3, 6: 4}[ctype]
    raw, stride = zlib.decompress(idat), w * ch
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b, c = prev[i], prev[i - ch] if i >= ch else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return w, h, ch, bytes(out)


def stats(png):
    """(fraction of non-white pixels, fraction of saturated pixels), sampling every 3rd."""
    w, h, ch, px = png_pixels(png)
    nonwhite = sat = tot = 0
    for i in range(0, w * h, 3):
        p = px[i * ch:i * ch + min(ch, 3)]
        tot += 1
        nonwhite += min(p) < 235
        sat += ch >= 3 and max(p) - min(p) > 80
    return nonwhite / tot, sat / tot


def fail(msg):
    print("html_check: %s" % msg)
    sys.exit(1)


def main(argv):
    page, n_img, n_rows, chromium, shot = argv[0], 1, 1, "/usr/bin/chromium", None
    i = 1
    while i < len(argv):
        if argv[i] == "--images": n_img = int(argv[i + 1])
        elif argv[i] == "--rows": n_rows = int(argv[i + 1])
        elif argv[i] == "--chromium": chromium = argv[i + 1]
        elif argv[i] == "--shot": shot = argv[i + 1]
        i += 2
    html = open(page, encoding="utf-8").read()
    srcs = re.findall(r'<img[^>]*src="([^"]*)"', html)
    if len(srcs) < n_img:
        fail("%s: %d images, expected at least %d" % (page, len(srcs), n_img))
    for k, s in enumerate(srcs):
        if not s.startswith("data:image/png;base64,"):
            fail("%s: image %d is not an embedded PNG" % (page, k + 1))
        try:
            nonwhite, _ = stats(base64.b64decode(s.split(",", 1)[1], validate=True))
        except Exception as e:
            fail("%s: image %d does not decode: %s" % (page, k + 1, e))
        if nonwhite < 0.005:
            fail("%s: image %d is blank" % (page, k + 1))
    tmp = tempfile.mkdtemp(prefix="html_check.")
    url = "file://" + os.path.abspath(page)
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + tmp,
            "--window-size=1200,2000", "--hide-scrollbars"]
    dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    rows = len(re.findall(r"<tr>\s*<td", dom))
    if "<table" not in dom or rows < n_rows:
        fail("%s: Chromium's DOM has %d table rows, expected at least %d" % (page, rows, n_rows))
    if len(re.findall(r"<img", dom)) < n_img:
        fail("%s: Chromium's DOM lost images" % page)
    out = shot or os.path.join(tmp, "shot.png")
    subprocess.run(base + ["--screenshot=" + out, url], capture_output=True, timeout=120)
    if not os.path.exists(out):
        fail("%s: Chromium wrote no screenshot" % page)
    nonwhite, sat = stats(open(out, "rb").read())
    if nonwhite < 0.02:
        fail("%s: the screenshot is blank (%.2f%% non-white)" % (page, 100 * nonwhite))
    if sat < 0.005:
        fail("%s: the screenshot shows no plots (%.3f%% coloured pixels)" % (page, 100 * sat))
    print("html_check: %s: %d images, %d table rows, screenshot %.1f%% non-white, %.2f%% coloured"
          % (page, len(srcs), rows, 100 * nonwhite, 100 * sat))


if __name__ == "__main__":
    main(sys.argv[1:])
