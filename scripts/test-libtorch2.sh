#!/usr/bin/env bash
# The second LibTorch lane of CI: builds robustscope against Debian 13's LibTorch 2.6 (with its Open MPI
# 5, HDF5 1.14, yaml-cpp, Boost, GoogleTest and python3-torch) in a Debian 13 chroot made with debootstrap
# from the Debian registry, and runs the quick tests there. The chroot lives in build-trixie/ (ignored by
# git) and is reused by a rerun. Needs root or sudo (debootstrap, mounts, chroot).
#   scripts/test-libtorch2.sh [ctest arguments, default: -L quick]
#   scripts/test-libtorch2.sh --prepare   only makes the chroot and installs its packages (mostly a wait
#                                         on the network: .ci/run does it while the first lane builds)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
start=$(date +%s)
prepare_only=0
if [[ "${1:-}" == "--prepare" ]]; then
  prepare_only=1
  shift
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "test-libtorch2: needs root or sudo (debootstrap, chroot)" >&2; exit 1; }
  SUDO=sudo
fi
CHROOT="$ROOT/build-trixie/root"
PACKAGES="g++ cmake make git ca-certificates libtorch-dev libopenmpi-dev openmpi-bin libhdf5-dev
  libyaml-cpp-dev libboost-program-options-dev libgtest-dev libopenblas0-pthread python3-torch
  python3-numpy python3-h5py python3-matplotlib"
command -v debootstrap >/dev/null 2>&1 || PACKAGES_HOST=debootstrap
if [[ -n "${PACKAGES_HOST:-}" ]]; then
  say "installing debootstrap"
  $SUDO apt-get install -y -qq --no-install-recommends debootstrap >/tmp/robustscope-apt.log 2>&1 ||
    { echo "test-libtorch2: cannot install debootstrap (see /tmp/robustscope-apt.log)" >&2; exit 1; }
fi
if [[ ! -x "$CHROOT/usr/bin/apt-get" ]]; then
  say "making a Debian 13 (trixie) chroot in $CHROOT"
  $SUDO mkdir -p "$CHROOT"
  $SUDO debootstrap --variant=minbase trixie "$CHROOT" http://deb.debian.org/debian \
    >/tmp/robustscope-debootstrap.log 2>&1 ||
    { echo "test-libtorch2: debootstrap failed (see /tmp/robustscope-debootstrap.log)" >&2; exit 1; }
fi
mounts=()
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do $SUDO umount -l "${mounts[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() {  # bind SOURCE TARGET-INSIDE-THE-CHROOT
  $SUDO mkdir -p "$CHROOT$2"
  $SUDO mount --bind "$1" "$CHROOT$2"
  mounts+=("$CHROOT$2")
}
bind /proc /proc
bind /dev /dev
bind /dev/shm /dev/shm
bind /sys /sys
in_chroot() { $SUDO chroot "$CHROOT" env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 bash -c "$1"; }
say "installing LibTorch 2.6 and the other libraries in the chroot"
in_chroot "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq \
  --no-install-recommends $(echo $PACKAGES)" >/tmp/robustscope-chroot-apt.log 2>&1 ||
  { echo "test-libtorch2: installing in the chroot failed (see /tmp/robustscope-chroot-apt.log)" >&2; exit 1; }
in_chroot "dpkg-query -W -f '\${Package} \${Version}\n' libtorch-dev libopenmpi-dev libhdf5-dev libyaml-cpp-dev g++"
if ((prepare_only)); then
  say "the Debian 13 chroot is ready ($(( $(date +%s) - start )) s)"
  exit 0
fi
bind "$ROOT" /robustscope
bind "$DATA_DIR" /robustscope-data
say "building against LibTorch 2.6 in the chroot"
in_chroot "git config --global --add safe.directory /robustscope &&
  cmake -S /robustscope -B /build -DCMAKE_BUILD_TYPE=Release -DROBUSTSCOPE_PYTHON=/usr/bin/python3 >/dev/null &&
  { cmake --build /build -j $JOBS > /build/build.log 2>&1 || { tail -60 /build/build.log; exit 1; }; } &&
  ! grep -E 'warning:' /build/build.log"
say "running the tests against LibTorch 2.6"
args=("$@")
[[ ${#args[@]} -eq 0 ]] && args=(-L quick)
in_chroot "cd /build && ROBUSTSCOPE_DATA_DIR=/robustscope-data OMP_NUM_THREADS=1 \
  ctest --output-on-failure -j $JOBS ${args[*]}"
say "LibTorch 2.6 lane took $(( $(date +%s) - start )) s"
