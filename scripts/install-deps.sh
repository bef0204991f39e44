#!/usr/bin/env bash
# Installs the Debian packages robustscope needs. Idempotent: installs only what is missing, and
# names any package that cannot be installed, then stops.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PACKAGES=(
  build-essential cmake git pkg-config
  libtorch-dev libopenmpi-dev openmpi-bin libhdf5-dev libyaml-cpp-dev
  libboost-program-options-dev libgtest-dev
  # Debian's LibTorch links the reference BLAS; OpenBLAS takes its place through Debian's
  # alternatives for libblas.so.3 and makes dense layers about 7x faster.
  libopenblas0-pthread
  python3 python3-numpy python3-h5py python3-matplotlib python3-torch
  # Fashion-MNIST, the full 60,000/10,000 (scripts/fetch-fmnist.sh unpacks it into data/fmnist/).
  dataset-fashion-mnist
  # The SLURM test starts a real SLURM on this machine; scripts/mpirun.sh signals ranks with pkill.
  slurm-wlm munge procps
)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for package in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  say "all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
say "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/robustscope-apt.log 2>&1; then
  for package in "${missing[@]}"; do
    if ! $SUDO apt-get install -y -qq --no-install-recommends "$package" >>/tmp/robustscope-apt.log 2>&1; then
      echo "install-deps: Debian package \"$package\" cannot be installed (see /tmp/robustscope-apt.log)" >&2
      exit 1
    fi
  done
fi
say "installed ${#missing[@]} packages"
