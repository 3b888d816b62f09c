#!/bin/sh
# Installs what the build and tests need, when it is missing and we are root on Debian.
# Without root it only reports what is missing; the build then says what failed.
# Arguments name more packages (make fuzz adds clang and its fuzzer and OpenMP runtimes).
pkgs="build-essential libopenblas-dev libopenblas-openmp-dev libcjson-dev zlib1g-dev libpng-dev dataset-fashion-mnist python3-numpy libdnnl-dev liblbfgs-dev tmux python3-torch help2man libcairo2-dev chromium libopenmpi-dev openmpi-bin $*"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends $missing >&2
else
    echo "missing packages (install as root):$missing" >&2
fi
