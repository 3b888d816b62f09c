# Sourced by tests/determinism.sh and tests/mpi.sh: sets $data to the reference VAE's data,
# Fashion-MNIST's test set when installed, else 1,200 generated 28 x 28 images (with labels)
# in $tmp.
data=fashion-mnist:test
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
    /usr/bin/python3 - "$tmp" <<'PY'
import struct, sys, random
random.seed(0)
d = sys.argv[1]
n = 1200
with open(d + "/toy-images-idx3-ubyte", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, n, 28, 28))
    for i in range(n):
        f.write(bytes(random.choice((0, 90, 255)) if (j % 28 < 14) == (i % 2 == 0) else 0 for j in range(784)))
with open(d + "/toy-labels-idx1-ubyte", "wb") as f:
    f.write(struct.pack(">II", 0x801, n)); f.write(bytes(i % 2 for i in range(n)))
PY
    data="$tmp/toy-images-idx3-ubyte"
fi
