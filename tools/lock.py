"""The dependency locks: every package pinned with the hashes of its files, generated from pyproject.toml.

    python3 tools/lock.py              # rewrite requirements/*.txt (after editing pyproject.toml's dependencies)
    python3 tools/lock.py --check      # exit 1 when a lock no longer matches pyproject.toml (tools/test.py runs it)
    python3 tools/lock.py --upgrade    # the newest versions pyproject.toml allows

Four files, each listing every package with its exact version and the sha256 of every file the
package index has for that version, valid on every Python that pyproject.toml's ``requires-python``
allows (``uv pip compile --universal --generate-hashes``):

- ``requirements/dev.txt``: the runtime, ``dev`` and ``models`` dependencies and the build backend
  (``[build-system] requires``, and ``editables`` for its editable install). ``tools/bootstrap.py`` installs it into ``.venv`` with
  ``pip install --require-hashes``, then the project itself with ``--no-deps --no-build-isolation``.
- ``requirements/runtime.txt``: the runtime dependencies only, at the versions of ``dev.txt``, so
  that the image ships what the tests ran. The Dockerfile installs it with ``--require-hashes``.
- ``requirements/build.txt``: the build backend, at the versions of ``dev.txt``, for the
  Dockerfile's build of the connector's wheel (no package fetched outside the lock).
- ``requirements/models.txt``: the ``models`` extra alone (dbt and its DuckDB and PostgreSQL
  adapters, for the dbt project in ``models/``) at the versions of ``dev.txt``: dbt for a
  machine that runs the models against its own warehouse and needs nothing else of this project.

Resolution always starts from the files as they are (uv keeps a pinned version that still fits),
so a lock changes only where pyproject.toml asks for it; ``--check`` resolves into a scratch copy
and compares. The resolver is uv ``UV_VERSION``: when no uv of that version is on PATH, it is
installed from PyPI into ``.cache/lock-tool/`` (git-ignored). Standard library only: it runs with
the system Python, before ``.venv`` exists.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap import ROOT, pyproject_table, pyproject_text, requires_python  # noqa: E402

UV_VERSION = "0.13.9"
TOOL_DIR = ROOT / ".cache" / "lock-tool"
LOCK_DIR = "requirements"
#: What a lock's header names as the command that wrote it.
COMMAND = "python3 tools/lock.py"


@dataclass(frozen=True)
class Lock:
    """One lock file: its name, what it is for (a comment under uv's header), and how uv makes it."""

    name: str
    purpose: str
    #: ``uv pip compile`` sources: ``pyproject.toml`` and/or ``-`` (the build backend's requirements on stdin).
    sources: Sequence[str]
    extras: Sequence[str] = ()
    #: The lock whose versions this one must keep (``-c``).
    constrained_by: Optional[str] = None
    #: Requirements beyond the build backend's, given with it on stdin.
    also: Sequence[str] = ()
    #: An optional-dependencies group whose requirements go on stdin instead of the build backend's.
    extra_on_stdin: Optional[str] = None

    @property
    def path(self) -> str:
        return f"{LOCK_DIR}/{self.name}"


LOCKS = (
    Lock(
        "dev.txt",
        "pyproject.toml's dependencies, its dev and models extras, its [build-system] requires and editables: .venv (tools/bootstrap.py).",
        ("pyproject.toml", "-"),
        # models: the demo and the tests build the dbt project, so .venv holds dbt (never the image).
        extras=("dev", "models"),
        # hatchling installs this project editable only with editables (its wheel force-includes schemas/).
        also=("editables",),
    ),
    Lock(
        "runtime.txt",
        "pyproject.toml's dependencies at the versions of dev.txt: the connector's image (Dockerfile).",
        ("pyproject.toml",),
        constrained_by="dev.txt",
    ),
    Lock(
        "build.txt",
        "pyproject.toml's [build-system] requires at the versions of dev.txt: the Dockerfile's wheel build.",
        ("-",),
        constrained_by="dev.txt",
    ),
    Lock(
        "models.txt",
        "pyproject.toml's models extra (dbt and its adapters, for models/) at the versions of dev.txt: dbt on its own.",
        ("-",),
        constrained_by="dev.txt",
        extra_on_stdin="models",
    ),
)


class LockError(RuntimeError):
    """uv missing or failing; the message says why."""


def build_requires(text: str) -> List[str]:
    """The ``requires`` list of pyproject.toml's ``[build-system]`` table (a list of quoted strings)."""
    table = pyproject_table(text, "build-system")
    requires = re.search(r"^requires\s*=\s*\[(.*?)\]", table, re.M | re.S) if table is not None else None
    if requires is None:
        raise LockError("pyproject.toml has no [build-system] requires list")
    return re.findall(r"""["']([^"']+)["']""", requires.group(1))


def optional_requires(text: str, extra: str) -> List[str]:
    """The requirements of pyproject.toml's ``[project.optional-dependencies]`` group ``extra``."""
    table = pyproject_table(text, "project.optional-dependencies")
    body = re.sub(r"#[^\n]*", "", table) if table is not None else ""  # comments may hold quotes
    group = re.search(rf"^{re.escape(extra)}\s*=\s*\[(.*?)\]", body, re.M | re.S)
    if group is None:
        raise LockError(f"pyproject.toml has no optional-dependencies group {extra!r}")
    return re.findall(r"""["']([^"']+)["']""", group.group(1))


def stdin_requirements(text: str, lock: Lock) -> List[str]:
    """What a lock with ``-`` among its sources reads on stdin: the build backend's requirements (or
    an extra's, for ``extra_on_stdin``) and the lock's own."""
    base = optional_requires(text, lock.extra_on_stdin) if lock.extra_on_stdin else build_requires(text)
    return [*base, *lock.also]


def lowest_python(spec: str) -> str:
    """The least version ``requires-python`` allows (``>=3.10,<3.14`` -> ``3.10``): the floor of a universal lock."""
    match = re.search(r">=\s*([0-9]+(?:\.[0-9]+)*)", spec)
    if match is None:
        raise LockError(f"requires-python {spec!r} names no lower bound (>=)")
    return match.group(1)


def header(lock: Lock) -> str:
    return f"# {lock.purpose}\n# Install with: pip install --require-hashes -r {lock.path}\n"


def with_header(lock: Lock, compiled: str) -> str:
    """uv's output with the lock's purpose under uv's own two header lines."""
    lines = compiled.splitlines(keepends=True)
    return "".join(lines[:2]) + header(lock) + "".join(lines[2:])


def compile_command(uv: Sequence[str], lock: Lock, python: str, upgrade: bool, offline: bool = False) -> List[str]:
    # Extras stay on their lines (google-api-core[grpc]==...): pip in hash-checking mode otherwise
    # takes an extra that a dependency asks for as a requirement the lock does not pin, and fails.
    command = [*uv, "pip", "compile", *lock.sources, "--universal", "--generate-hashes", "--no-strip-extras", "--no-config", "--quiet"]
    if offline:
        command.append("--offline")
    command += ["--python-version", python, "--custom-compile-command", COMMAND, "-o", lock.path]
    command += [arg for extra in lock.extras for arg in ("--extra", extra)]
    if lock.constrained_by:
        command += ["-c", f"{LOCK_DIR}/{lock.constrained_by}"]
    if upgrade and lock.constrained_by is None:
        command.append("--upgrade")  # the others follow dev.txt through their constraint
    return command


def prepare(scratch: Path) -> None:
    """``scratch`` with a copy of pyproject.toml and of the current locks (uv's preferences)."""
    (scratch / LOCK_DIR).mkdir(exist_ok=True)
    (scratch / "pyproject.toml").write_text(pyproject_text())
    for lock in LOCKS:
        if (ROOT / lock.path).exists():
            shutil.copyfile(ROOT / lock.path, scratch / lock.path)


def resolve(uv: Sequence[str], scratch: Path, upgrade: bool, offline: bool = False) -> None:
    """Every lock written in ``scratch`` (see :func:`prepare`); ``offline``: from uv's cache only."""
    text = (scratch / "pyproject.toml").read_text()
    python = lowest_python(requires_python(text))
    for lock in LOCKS:
        # ``-`` among the sources: the build backend's (or an extra's) requirements and the lock's own, on stdin.
        stdin = "".join(f"{requirement}\n" for requirement in stdin_requirements(text, lock)) if "-" in lock.sources else None
        done = subprocess.run(
            compile_command(uv, lock, python, upgrade, offline), cwd=scratch, input=stdin, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise LockError(f"uv pip compile of {lock.path} failed:\n{done.stderr.strip()}")
        output = scratch / lock.path  # uv rewrote it whole, without the purpose line
        output.write_text(with_header(lock, output.read_text()))


def ensure_uv() -> List[str]:
    """A uv of ``UV_VERSION``: the one on PATH, or one installed from PyPI into ``TOOL_DIR``."""
    on_path = shutil.which("uv")
    if on_path and uv_version(on_path) == UV_VERSION:
        return [on_path]
    environment = TOOL_DIR / f"uv-{UV_VERSION}"
    uv = environment / ("Scripts/uv.exe" if os.name == "nt" else "bin/uv")
    if not uv.exists() or uv_version(str(uv)) != UV_VERSION:
        print(f"installing uv {UV_VERSION} into {environment.relative_to(ROOT)} (once) ...", file=sys.stderr, flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(environment)
        python = environment / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q", "install", f"uv=={UV_VERSION}"]
        if subprocess.run(pip).returncode != 0:
            raise LockError(f"pip could not install uv=={UV_VERSION} (see above)")
    return [str(uv)]


def uv_version(uv: str) -> Optional[str]:
    try:
        done = subprocess.run([uv, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = done.stdout.split()
    return parts[1] if done.returncode == 0 and len(parts) > 1 else None


def differences(scratch: Path, root: Path) -> Dict[str, str]:
    """For every lock in ``root`` that differs from the one resolved in ``scratch``: a short unified diff."""
    found = {}
    for lock in LOCKS:
        wanted = (scratch / lock.path).read_text().splitlines()
        current = root / lock.path
        if not current.exists():
            found[lock.path] = f"{lock.path} is missing"
            continue
        diff = list(difflib.unified_diff(current.read_text().splitlines(), wanted, lock.path, f"{lock.path} (resolved now)", lineterm=""))
        if diff:
            found[lock.path] = "\n".join(diff[:40] + (["..."] if len(diff) > 40 else []))
    return found


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="tools/lock.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when a lock no longer matches pyproject.toml; write nothing")
    mode.add_argument("--upgrade", action="store_true", help="move every pin to the newest version pyproject.toml allows")
    args = parser.parse_args(argv)
    try:
        uv = ensure_uv()
        with tempfile.TemporaryDirectory(prefix="source-usage-lock-") as name:
            scratch = Path(name)
            prepare(scratch)
            found = None
            if args.check:
                # From uv's cache first (well under a second instead of ~15 s of asking the index
                # about ~200 packages); the index decides whenever the cache cannot or disagrees.
                try:
                    resolve(uv, scratch, upgrade=False, offline=True)
                    found = differences(scratch, ROOT)
                except LockError:
                    found = None
                if found:
                    prepare(scratch)
                    found = None
            if found is None:
                resolve(uv, scratch, args.upgrade)
                found = differences(scratch, ROOT)
            if args.check:
                if found:
                    print("\n\n".join(found.values()), file=sys.stderr)
                    names = " and ".join(found)
                    print(f"\n{names} no longer match pyproject.toml: run {COMMAND} and commit the result.", file=sys.stderr)
                    return 1
                print(f"the locks match pyproject.toml (uv {UV_VERSION})")
                return 0
            (ROOT / LOCK_DIR).mkdir(exist_ok=True)
            for lock in LOCKS:
                shutil.copyfile(scratch / lock.path, ROOT / lock.path)
            print(f"{'wrote' if found else 'unchanged:'} {', '.join(lock.path for lock in LOCKS)}")
            return 0
    except LockError as error:
        print(f"tools/lock.py: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
