#!/usr/bin/env bash
# Run on a Debian 12 machine with the Debian registry: downloads into .gpu/ (ignored by git) the Debian
# libraries a CUDA host without them needs to build robustscope (Open MPI, HDF5, yaml-cpp,
# Boost.Program_options, GoogleTest; libcurl and friends for HDF5 where the host lacks them) and writes
# .gpu/prepare-host.sh, which scripts/dev/gpu-check.sh runs there as root. The host brings its own
# compiler, CMake, ninja, CUDA and a pip PyTorch. ~28 MiB.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir="$root/.gpu"
mkdir -p "$dir/debs" "$dir/debs-optional"
(cd "$dir/debs" && apt-get download -q libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common libpmix2 \
  libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7 libevent-2.1-7 libfabric1 libucx0 libibverbs1 \
  ibverbs-providers librdmacm1 libpsm2-2 libpsm-infinipath1 libnl-3-200 libnl-route-3-200 libmunge2 libnuma1 \
  libhdf5-dev libhdf5-103-1 libhdf5-cpp-103-1 libhdf5-hl-100 libhdf5-hl-cpp-100 hdf5-helpers libaec0 libsz2 \
  libaec-dev libyaml-cpp0.7 libyaml-cpp-dev libboost-program-options1.74.0 libboost-program-options1.74-dev \
  libboost-program-options-dev libboost1.74-dev libgtest-dev) >/dev/null
(cd "$dir/debs-optional" && apt-get download -q libcurl4 libnghttp2-14 librtmp1 libssh2-1 libpsl5 libbrotli1 \
  libldap-2.5-0 libsasl2-2 libssl3 libunistring2 libidn2-0 libgnutls30 libnettle8 libhogweed6) >/dev/null
cat >"$dir/prepare-host.sh" <<'SCRIPT'
#!/usr/bin/env bash
# On the CUDA host, as root: unpacks the Debian libraries beside this script through a staging folder (a
# plain `dpkg -x pkg /` would replace the host's /lib link), then makes the links that Debian's
# alternatives system would have made, which CMake's FindMPI and pkg-config look for.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
unpack() {
  rm -rf /tmp/stage && mkdir /tmp/stage
  for f in "$@"; do dpkg -x "$f" /tmp/stage; done
  tar -C /tmp/stage -cf - . | tar -C / -xf - --keep-directory-symlink
}
unpack "$here"/debs/*.deb
ldconfig -p | grep -q 'libcurl.so.4 ' || unpack "$here"/debs-optional/*.deb
lib=/usr/lib/x86_64-linux-gnu
link() { [ -e "$2" ] || ln -sfn "$1" "$2"; }  # link TARGET NAME, unless NAME exists
for tool in mpicc mpic++ mpicxx mpiCC mpif77 mpif90 mpifort; do link opal_wrapper /usr/bin/$tool.openmpi; done
for tool in mpirun mpiexec; do link orterun /usr/bin/$tool.openmpi; done
for tool in mpicc mpic++ mpicxx mpiCC mpirun mpiexec; do link $tool.openmpi /usr/bin/$tool; done
link $lib/openmpi/include /usr/include/x86_64-linux-gnu/mpi
link $lib/openmpi/lib/libmpi.so $lib/libmpi.so
link $lib/openmpi/lib/libmpi_cxx.so $lib/libmpi_cxx.so
link $lib/openmpi/lib/libmpi_cxx.so $lib/libmpi++.so
for pc in mpi:ompi mpi-c:ompi-c mpi-cxx:ompi-cxx mpi-fort:ompi-fort; do
  link $lib/pkgconfig/${pc#*:}.pc $lib/pkgconfig/${pc%%:*}.pc
done
link $lib/pkgconfig/hdf5-serial.pc $lib/pkgconfig/hdf5.pc
for l in curl crypto; do [ -e $lib/lib$l.so ] || ln -s "$(ls $lib/lib$l.so.* | head -1)" $lib/lib$l.so; done
ldconfig
SCRIPT
chmod +x "$dir/prepare-host.sh"
du -sh "$dir"
