#!/bin/sh
# Regenerates the seed corpora fuzz/corpus/<harness>/ from small synthetic files and the
# test data (tests/data), with build/dgm for the model files: sh fuzz/make_corpus.sh [BUILD].
# The seeds are checked in; this script documents where they came from. Campaign finds
# (crash reproducers, after their fix) are added beside them by hand, named regress-*.
set -eu
build=${1:-build}
dgm="$build/dgm"
c=fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for h in idx csv npy a2m stockholm mutations kl_spec safetensors model; do mkdir -p "$c/$h"; done

/usr/bin/python3 - "$c" "$tmp" <<'PY'
import gzip, io, struct, sys
c, tmp = sys.argv[1], sys.argv[2]
def put(path, b): open(path, "wb").write(b)
# IDX: first byte even -> as is, odd -> gzipped by the harness
img = struct.pack(">IIII", 0x803, 4, 3, 3) + bytes(range(0, 36 * 7, 7))
mat = struct.pack(">III", 0x802, 3, 5) + bytes(range(15))
lab = struct.pack(">II", 0x801, 4) + bytes([0, 1, 2, 1])
for name, b in [("images3d", img), ("matrix2d", mat), ("labels1d", lab)]:
    put(f"{c}/idx/{name}", b"\x00" + b)
    put(f"{c}/idx/{name}-gz", b"\x01" + b)
put(f"{c}/idx/raw-gzip", b"\x00" + gzip.compress(img, mtime=0))
put(f"{c}/idx/type-int", b"\x00" + struct.pack(">III", 0x0C02, 1, 1) + b"\0\0\0\1")
# training data for the model seeds: 40 3x3 images, labels 0/1
n = 40
put(f"{tmp}/toy-images-idx3-ubyte", struct.pack(">IIII", 0x803, n, 3, 3) +
    bytes((255 if (j + i) % 3 == 0 else 0) for i in range(n) for j in range(9)))
put(f"{tmp}/toy-labels-idx1-ubyte", struct.pack(">II", 0x801, n) + bytes(i % 2 for i in range(n)))
# CSV
put(f"{c}/csv/header", b"a,b,c\n1,2,3\n4.5,-6e-3,7\n")
put(f"{c}/csv/comments", b"# a comment\n\n 1 , \"2\" \r\n3,4\r\n")
put(f"{c}/csv/one-column", b"label\n0\n1\n2\n")
put(f"{c}/csv/bad", b"1,2\n3\nnan,inf\n")
# NPY, written by hand (numpy's layout) so that no numpy is needed
def npy(descr, shape, data, fortran=False, major=1):
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    pre = 10 if major == 1 else 12
    h += " " * ((64 - (pre + len(h) + 1) % 64) % 64) + "\n"
    ln = struct.pack("<H", len(h)) if major == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([major, 0]) + ln + h.encode() + data
put(f"{c}/npy/f4-2d", npy("<f4", "(2, 3)", struct.pack("<6f", 1, 2, 3, 4, 5, 6)))
put(f"{c}/npy/u1-3d", npy("|u1", "(2, 2, 2)", bytes(range(0, 255, 32))))
put(f"{c}/npy/f8-fortran", npy("<f8", "(2, 2)", struct.pack("<4d", 1, 2, 3, 4), fortran=True))
put(f"{c}/npy/i8-1d-v2", npy("<i8", "(3,)", struct.pack("<3q", 0, 1, 2), major=2))
put(f"{c}/npy/i4-labels", npy("<i4", "(4, 1)", struct.pack("<4i", 0, 1, 1, 0)))
# alignments
put(f"{c}/a2m/inserts", b">F/3-9 focus\nMK.VLATw-\n>r1\nMKaVL-TW\n>r2 x\nMK-VLAT\nW-\n; comment\n")
put(f"{c}/a2m/fasta", b">s1\nACDEFGHIKL\n>s2\nACDEFGHIKM\n>s3\nAC-EFGHIKL\n")
lines = open("tests/data/protein/BLAT_ECOLX_test.a2m", "rb").read().split(b"\n")
hdrs = [i for i, l in enumerate(lines) if l.startswith(b">")]
put(f"{c}/a2m/blat-slice", b"\n".join(lines[:hdrs[4]]) + b"\n")
put(f"{c}/stockholm/globins4", open("tests/data/protein/globins4.sto", "rb").read())
put(f"{c}/stockholm/blocks", b"# STOCKHOLM 1.0\n#=GF ID test\n\nF/3-9    MK.VLAT\nb/1-7    MKAVL-T\n"
    b"#=GC RF  xx.xxxx\n\nF/3-9    W-\nb/1-7    WY\n//\n")
put(f"{c}/stockholm/markup", b"# STOCKHOLM 1.0\n#=GS s1 DE first\ns1 ACDE\n#=GR s1 SS HHHH\ns2 AC-E\n//\n")
# mutation tables against the harness's focus F/24-43 MSIQHFRVALIPFFAAFCLP
put(f"{c}/mutations/dms", b"mutant,score\nM24A,0.5\nS25K,-1\nI26V:Q27E,2\nWT,0\nH28Y,NA\n")
put(f"{c}/mutations/tabs", b"# comment\nid\tmutant\tscore\n1\tP44A\t1\n2\t\"F29W\"\t-0.5\n")
# dgm kl specs (docs/math.md)
for name, s in [("gauss-diag", '{"family":"gaussian","mean":[0,1],"var":[1,2]}'),
                ("gauss-full", '{"family":"gaussian","mean":[0,0],"cov":[[2,0.5],[0.5,1]]}'),
                ("bernoulli", '{"family":"bernoulli","p":[0.1,0.5,0.9]}'),
                ("categorical", '{"family":"categorical","p":[[0.2,0.8],[0.5,0.5]]}'),
                ("product", '{"family":"product","factors":[{"family":"bernoulli","p":[0.3]},'
                            '{"family":"gaussian","mean":[1],"var":[0.5]}]}')]:
    put(f"{c}/kl_spec/{name}", s.encode())
PY
cp tests/data/tiny.safetensors "$c/safetensors/tiny"

# model files: one per family, as small as the trainers allow
imgs="$tmp/toy-images-idx3-ubyte"
"$dgm" train --data "$imgs" --hidden 3 --latent 2 --epochs 1 --batch 20 -o "$c/model/vae" --threads 1 >/dev/null 2>&1
"$dgm" train --model cvae --data "$imgs" --hidden 3 --latent 2 --epochs 1 --batch 20 -o "$c/model/cvae" --threads 1 >/dev/null 2>&1
"$dgm" train --data "$imgs" --hidden 3 --latent 2 --epochs 1 --batch 20 --decoder gaussian --sigma predicted -o "$c/model/vae-gaussian" --threads 1 >/dev/null 2>&1
for m in gaussian gmm bernoulli bernoulli-mixture; do
    "$dgm" train --model $m --data "$imgs" --components 2 --max-iter 3 -o "$c/model/$m" --threads 1 >/dev/null 2>&1
done
"$dgm" train --model gmm --data "$imgs" --components 2 --max-iter 3 --covariance full --per-class -o "$c/model/gmm-full-per-class" --threads 1 >/dev/null 2>&1
"$dgm" train --model independent --data "$c/a2m/fasta" -o "$c/model/independent" --threads 1 >/dev/null 2>&1
"$dgm" train --model vae --data "$c/a2m/fasta" --encoder-hidden 3 --decoder-hidden 3 --latent 2 --dict 2 --patterns 1 --steps 2 --batch 3 -o "$c/model/seqvae" --threads 1 >/dev/null 2>&1
"$dgm" train --model vae --data "$c/a2m/fasta" --encoder-hidden 3 --decoder-hidden 3 --latent 2 --variant plain --steps 2 --batch 3 -o "$c/model/seqvae-plain" --threads 1 >/dev/null 2>&1
printf '>a\nACDE\n>b\nACDF\n>c\nAC-E\n' > "$tmp/potts4.fa" # 4 columns: J stays 10 KB
"$dgm" train --model potts --data "$tmp/potts4.fa" --max-iter 3 -o "$c/model/potts" --threads 1 >/dev/null 2>&1
"$dgm" train --model made --data "$imgs" --hidden 3 --epochs 1 --batch 10 -o "$c/model/made" --threads 1 >/dev/null 2>&1
"$dgm" train --model made --data "$c/a2m/fasta" --hidden 3 --masks 2 --epochs 1 --batch 3 -o "$c/model/made-seq" --threads 1 >/dev/null 2>&1
"$dgm" train --model realnvp --data "$imgs" --hidden 3 --epochs 1 --batch 10 -o "$c/model/realnvp" --threads 1 >/dev/null 2>&1
"$dgm" train --model maf --data "$imgs" --hidden 3 --layers 2 --epochs 1 --batch 10 -o "$c/model/maf" --threads 1 >/dev/null 2>&1
rm -f "$c"/model/*.ckpt.safetensors
cp "$c/model/vae" "$c/safetensors/vae"
ls "$c"/* | wc -l
