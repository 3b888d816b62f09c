#!/bin/sh
# dgm benchmarks: `make bench` builds everything, then runs `sh bench/run.sh BUILD`.
# A header says where and when; then one section per benchmark program, each printing its
# own table. To add a benchmark, append a section at the end in the same form:
#     section "N. what it measures (bench_x)"
#     bench bench_x --threads 1
# Timings on a loaded machine are not comparable: the header prints the load average.
build=${1:-build}
status=0

section() { printf '\n==================== %s ====================\n' "$1"; }
# Runs $build/bench/NAME ARGS...; a missing or failing program marks the run failed but the
# remaining sections still run.
bench() {
    name=$1; shift
    if [ ! -x "$build/bench/$name" ]; then
        echo "bench/run.sh: $build/bench/$name: not built (make BUILD=$build benches)" >&2
        status=1; return
    fi
    printf -- '--- %s %s\n' "$name" "$*"
    "$build/bench/$name" "$@" || { echo "bench/run.sh: $name $*: failed" >&2; status=1; }
}

model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
[ -n "$model" ] || model=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1)
echo "dgm benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: ${model:-unknown cpu}, $(nproc) cores, $(uname -sr)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "build: $build, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

section "1. dgm_gemm at the VAE's Linear shapes, batch 128 (bench_gemm)"
# every fp32 backend at the VAE's and the protein model's products, 1 and 2 threads
bench bench_gemm --backends --best "${DGM_BENCH_GEMM_BEST:-5}"
echo
bench bench_gemm --threads 1
echo
bench bench_gemm --threads 2

section "2. exact k-NN search and the k-NN KL estimate, d = 784, 10^4 per side (bench_knn)"
bench bench_knn --threads 2

section "3. Gaussian mixture beside scikit-learn: Fashion-MNIST dequantised, K=10 diag (bench_gmm)"
bench bench_gmm --threads 2 --seeds 6

section "4. The reference VAE beside PyTorch: training, K=1000 evaluation, sampling, memory (vae_bench.py)"
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import numpy" 2>/dev/null; then
    /usr/bin/python3 bench/vae_bench.py "$build" || { echo "bench/run.sh: vae_bench.py failed" >&2; status=1; }
else
    echo "vae_bench.py needs /usr/bin/python3 with numpy (Debian python3-numpy); PyTorch column needs python3-torch"
fi

section "5. dgm assess beside numpy: sequence metrics, same files, alternating pairs (assess_bench.py)"
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import numpy" 2>/dev/null; then
    /usr/bin/python3 bench/assess_bench.py "$build" || { echo "bench/run.sh: assess_bench.py failed" >&2; status=1; }
else
    echo "assess_bench.py needs /usr/bin/python3 with numpy (Debian python3-numpy)"
fi

exit $status
