# Shared settings of the scripts in scripts/ (sourced, not run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${ROBUSTSCOPE_BUILD_DIR:-$ROOT/build}"
DATA_DIR="${ROBUSTSCOPE_DATA_DIR:-$ROOT/data}"
# Debian's interpreter carries Debian's numpy, h5py, matplotlib and torch; a pyenv or venv `python3`
# earlier on PATH usually does not. Override with ROBUSTSCOPE_PYTHON.
PYTHON="${ROBUSTSCOPE_PYTHON:-/usr/bin/python3}"
JOBS="${ROBUSTSCOPE_JOBS:-$(nproc)}"
say() { printf '\033[1m== %s\033[0m\n' "$*"; }
