"""Create and fill the project's virtual environment with nothing but the Python that runs this.

    python3 tools/bootstrap.py [--fresh]    # what tools/test.py and tools/demo.py do first

Used by ``tools/demo.py`` and ``tools/test.py`` so that both README commands work on a fresh
clone, and by ``.ci/run``, which builds it while the Docker image builds. The environment is
``.venv`` at the repository root; it is reinstalled when ``pyproject.toml`` changes (a stamp
file keeps its hash) or when ``--fresh`` is asked for.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
STAMP = VENV / ".source-usage-installed"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_bin(name: str) -> Path:
    return venv_python().parent / name


def ensure_venv(fresh: bool = False) -> Path:
    """The venv's python, with the project and its dev dependencies installed."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if fresh and VENV.exists():
        shutil.rmtree(VENV)
    if not venv_python().exists():
        print(f"creating {VENV.relative_to(ROOT)} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    if not STAMP.exists() or STAMP.read_text() != wanted:
        print("installing source-usage with its dev dependencies (first run takes a few minutes) ...", flush=True)
        pip = [str(venv_python()), "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True, cwd=ROOT)
        STAMP.write_text(wanted)
    return venv_python()


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


if __name__ == "__main__":
    print(ensure_venv(fresh="--fresh" in sys.argv[1:]))
