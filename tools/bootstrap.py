"""Create and fill the project's virtual environment from the lock, with nothing but the Python that runs this.

    python3 tools/bootstrap.py [--fresh]    # what tools/test.py and tools/demo.py do first

Used by ``tools/demo.py`` and ``tools/test.py`` so that both README commands work on a fresh
clone, and by ``.ci/run``, which builds it while the Docker image builds. The environment is
``.venv`` at the repository root, filled from ``requirements/dev.txt`` (every package pinned with
its hashes, written by ``tools/lock.py``) with ``pip install --require-hashes``, then the project
itself, editable, with ``--no-deps --no-build-isolation`` (its build backend is in the lock too):
nothing is resolved or fetched outside the lock.

First of all, before ``.venv`` is looked at, a Python it cannot be built with is refused in one
sentence: outside pyproject.toml's ``[tool.source-usage] dev-requires-python``, the part of
``requires-python`` that every dev dependency supports. ``.venv`` is then built from nothing
whenever it is not known to be complete: when there is none, when a run stopped before finishing
it (a stamp file, written last, is missing), when ``requirements/dev.txt`` or ``pyproject.toml``
changed since (the stamp holds their hash), when its Python no longer runs, or when ``--fresh``
asks for it. Standard library only, and importable by any Python 3.7 or newer, so that an old one
gets the sentence rather than a syntax error.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
#: Bumped when the way ``.venv`` is filled changes, so that an environment made the old way is rebuilt.
RECIPE = "lock-v1"


def pyproject_text(root: Path = ROOT) -> str:
    return (root / "pyproject.toml").read_text(encoding="utf-8")


def pyproject_table(text: str, name: str) -> Optional[str]:
    """The body of pyproject.toml's ``[name]`` table, up to the next table (read without tomllib,
    which Python 3.10 lacks); ``None`` when there is none."""
    match = re.search(rf"^\[{re.escape(name)}\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    return match.group(1) if match else None


def pyproject_string(text: str, table: str, key: str) -> Optional[str]:
    """A string value of pyproject.toml's ``[table]``, e.g. ``project``'s ``version``."""
    body = pyproject_table(text, table)
    match = re.search(rf"""^{re.escape(key)}\s*=\s*["']([^"']+)["']""", body, re.M) if body is not None else None
    return match.group(1) if match else None


def requires_python(text: str) -> str:
    """pyproject.toml's ``requires-python``."""
    spec = pyproject_string(text, "project", "requires-python")
    if spec is None:
        raise SystemExit("pyproject.toml declares no requires-python.")
    return spec


def dev_requires_python(text: str) -> str:
    """The Pythons ``.venv`` can be built with: pyproject.toml's ``[tool.source-usage]
    dev-requires-python`` (narrower than ``requires-python`` where a dev dependency is), or
    ``requires-python`` when it declares none."""
    return pyproject_string(text, "tool.source-usage", "dev-requires-python") or requires_python(text)


def _release(text: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _compare(version: Tuple[int, ...], release: Tuple[int, ...]) -> int:
    width = max(len(version), len(release))
    left, right = version + (0,) * (width - len(version)), release + (0,) * (width - len(release))
    return (left > right) - (left < right)


_OPERATORS = {
    ">=": lambda order: order >= 0,
    "<=": lambda order: order <= 0,
    ">": lambda order: order > 0,
    "<": lambda order: order < 0,
    "==": lambda order: order == 0,
    "!=": lambda order: order != 0,
}


def supports(spec: str, version: Sequence[int]) -> bool:
    """Whether ``version`` (``sys.version_info``'s major, minor, micro) meets a ``requires-python``
    made of comma-separated ``>=``, ``<``, ``<=``, ``>``, ``==``, ``!=`` clauses on release numbers."""
    release = tuple(int(part) for part in version[:3])
    for clause in (part.strip() for part in spec.split(",") if part.strip()):
        match = re.fullmatch(r"(>=|<=|==|!=|>|<)\s*([0-9]+(?:\.[0-9]+)*)", clause)
        if match is None:
            raise SystemExit(f"pyproject.toml's requires-python clause {clause!r} is not one this script reads (>=, <, <=, >, ==, != X.Y).")
        if not _OPERATORS[match.group(1)](_compare(release, _release(match.group(2)))):
            return False
    return True


def refusal(spec: str, version: Sequence[int], executable: str, script: str) -> str:
    shown = ".".join(str(part) for part in version[:3])
    return (
        f"The demo and the tests of source-usage need Python {spec} (pyproject.toml's dev-requires-python), "
        f"and this is Python {shown} ({executable}): run it with a supported one instead, e.g. python3.12 {script}."
    )


def check_python(root: Path = ROOT, version: Sequence[int] = tuple(sys.version_info[:3]), executable: str = sys.executable) -> None:
    """Refuse a Python ``.venv`` cannot be built with, in one sentence (exit status 1), naming the script that was run."""
    spec = dev_requires_python(pyproject_text(root))
    if not supports(spec, version):
        script = os.path.relpath(os.path.abspath(sys.argv[0]), os.getcwd()) if sys.argv and sys.argv[0] else "tools/test.py"
        raise SystemExit(refusal(spec, version, executable, script))


@dataclass(frozen=True)
class Environment:
    """The project's ``.venv`` under ``root`` and what it is built from."""

    root: Path = ROOT

    @property
    def path(self) -> Path:
        return self.root / ".venv"

    @property
    def python(self) -> Path:
        return self.path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    @property
    def stamp(self) -> Path:
        """Written last, once ``.venv`` is complete: it holds :meth:`wanted`."""
        return self.path / ".source-usage-installed"

    @property
    def lock(self) -> Path:
        return self.root / "requirements" / "dev.txt"

    def wanted(self) -> str:
        """The hash of what ``.venv`` is built from: the lock, pyproject.toml (the editable
        project's metadata) and the way it is filled."""
        digest = hashlib.sha256(RECIPE.encode())
        for source in (self.lock, self.root / "pyproject.toml"):
            digest.update(b"\0" + source.read_bytes())
        return digest.hexdigest()

    def problem(self, runs: Callable[[Path], bool]) -> Optional[str]:
        """Why ``.venv`` must be built from nothing, or ``None`` when it is complete and current."""
        if not self.path.exists() and not self.path.is_symlink():
            return "there is none"
        if not self.stamp.exists():
            return "a previous run stopped before it was complete"
        if self.stamp.read_text() != self.wanted():
            return "requirements/dev.txt or pyproject.toml changed since it was built"
        if not runs(self.python):
            return "its Python no longer runs"
        return None


def python_runs(python: Path) -> bool:
    try:
        return subprocess.run([str(python), "-c", "import sys"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def build(environment: Environment) -> None:
    """``.venv`` from nothing: the locked packages with their hashes checked, then the project."""
    if not environment.lock.exists():
        raise SystemExit(f"{environment.lock.relative_to(environment.root)} is missing: run python3 tools/lock.py.")
    if environment.path.is_symlink() or environment.path.is_file():
        environment.path.unlink()
    elif environment.path.exists():
        shutil.rmtree(environment.path)
    venv.EnvBuilder(with_pip=True, clear=True).create(environment.path)
    pip = [str(environment.python), "-m", "pip", "--disable-pip-version-check", "-q", "install"]
    print("installing the locked dependencies (requirements/dev.txt; the first run takes a few minutes) ...", flush=True)
    subprocess.run([*pip, "--require-hashes", "-r", str(environment.lock)], check=True, cwd=environment.root)
    subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", str(environment.root)], check=True, cwd=environment.root)
    environment.stamp.write_text(environment.wanted())


def ensure_venv(
    fresh: bool = False,
    environment: Environment = Environment(),
    version: Sequence[int] = tuple(sys.version_info[:3]),
    runs: Callable[[Path], bool] = python_runs,
    builder: Callable[[Environment], None] = build,
) -> Path:
    """The venv's python, with the project and its locked dev dependencies installed; an
    unsupported ``version`` (this Python's) is refused before ``.venv`` is looked at."""
    check_python(environment.root, version)
    problem = "--fresh asks for it" if fresh else environment.problem(runs)
    if problem is not None:
        print(f"building {environment.path.relative_to(environment.root)} from nothing: {problem} ...", flush=True)
        builder(environment)
    return environment.python


def venv_python() -> Path:
    return Environment().python


def venv_bin(name: str) -> Path:
    return venv_python().parent / name


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


if __name__ == "__main__":
    print(ensure_venv(fresh="--fresh" in sys.argv[1:]))
