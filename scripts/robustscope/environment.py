"""The interpreter the scripts need: Debian's python3 carries numpy, h5py and matplotlib; a pyenv or venv
`python3` earlier on PATH usually does not. use_debian_python() re-executes the script with /usr/bin/python3
(or $ROBUSTSCOPE_PYTHON) when the running one lacks them, and says what to install when none has them."""
import importlib.util
import os
import sys

NEEDED = ("numpy", "h5py", "matplotlib")


def use_debian_python():
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if not missing:
        return
    candidate = os.environ.get("ROBUSTSCOPE_PYTHON", "/usr/bin/python3")
    already = os.environ.get("ROBUSTSCOPE_REEXECUTED") == "1"
    if not already and os.path.exists(candidate) and \
            os.path.realpath(candidate) != os.path.realpath(sys.executable):
        os.environ["ROBUSTSCOPE_REEXECUTED"] = "1"
        os.execv(candidate, [candidate] + sys.argv)
    sys.exit(f"{sys.argv[0]}: needs {', '.join(missing)} (Debian: apt-get install python3-numpy python3-h5py "
             f"python3-matplotlib; or set ROBUSTSCOPE_PYTHON to a python3 that has them)")
