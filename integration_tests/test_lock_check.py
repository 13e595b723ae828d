"""The locks' guard and the README commands' first sentence, as commands: ``tools/lock.py --check``
fails when pyproject.toml changed without relocking, and both README commands refuse a Python
``.venv`` cannot be built with (outside ``dev-requires-python``) before ``.venv`` exists.

Each runs on a scratch copy of the files the command reads (``tools/``, pyproject.toml, the
locks), so nothing of the checkout changes. uv comes from the checkout's ``.cache/lock-tool/``
when ``tools/test.py`` already installed it there (its ``lock`` step runs before pytest), put on
``PATH`` for the copy; otherwise the copy installs its own.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from integration_tests.tooling import in_ci, load_tool

# uv and an older Python
pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[1]
lock_tool = load_tool("lock")
TIMEOUT_SECONDS = 300


def scratch_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "tools", tmp_path / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    shutil.copyfile(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def environment_with_uv() -> Dict[str, str]:
    uv = ROOT / ".cache" / "lock-tool" / f"uv-{lock_tool.UV_VERSION}" / "bin"
    path = os.pathsep.join([str(uv), os.environ.get("PATH", "")]) if (uv / "uv").exists() else os.environ.get("PATH", "")
    return {**os.environ, "PATH": path}


def lock_check(root: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    command = ["python3", "tools/lock.py", "--check"]
    env = {**environment_with_uv(), **environment}
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)


def test_the_lock_check_passes_on_the_committed_locks_and_fails_once_pyproject_changes_without_relocking(tmp_path: Path) -> None:
    root = scratch_copy(tmp_path)
    assert lock_check(root).returncode == 0

    # ijson stays locked (the CDK needs it too); only pyproject.toml no longer asks for it.
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text.replace('    "ijson>=3.3,<4",\n', ""))
    # From uv's cache alone: the check above left every package it needs there, and the index,
    # which the check asks again when its cache disagrees with a lock, would say the same in ~30 s.
    done = lock_check(root, UV_OFFLINE="1")

    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "requirements/dev.txt and requirements/runtime.txt no longer match pyproject.toml: run python3 tools/lock.py and commit the result."
    )
    assert "-    #   source-usage (pyproject.toml)" in done.stderr


# --------------------------------------------------------------------------- an unsupported Python


def python_versions() -> List[Tuple[str, Tuple[int, ...]]]:
    """Interpreters on this machine other than this one: (path, version), for a look at the old ones."""
    candidates = [shutil.which(f"python3.{minor}") for minor in (7, 8, 9, 14, 15)]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(path) for path in sorted(pyenv.glob("3.*/bin/python3"))]
    found = []
    for candidate in filter(None, candidates):
        try:
            done = subprocess.run([candidate, "-c", "import sys; print(*sys.version_info[:3])"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            found.append((candidate, tuple(int(part) for part in done.stdout.split())))
    return found


def unsupported_python() -> Optional[Tuple[str, Tuple[int, ...]]]:
    bootstrap = load_tool("bootstrap")
    spec = bootstrap.dev_requires_python((ROOT / "pyproject.toml").read_text())
    # 3.7 and newer read the scripts' syntax; an older one fails to parse them before any check can run.
    old = [(path, version) for path, version in python_versions() if version >= (3, 7) and not bootstrap.supports(spec, version)]
    return old[0] if old else None


@pytest.mark.parametrize("script", ["tools/demo.py", "tools/test.py"])
def test_both_readme_commands_refuse_an_unsupported_python_in_one_sentence_before_creating_venv(script: str, tmp_path: Path) -> None:
    found = unsupported_python()
    if found is None:
        reason = "no Python outside requires-python (3.7 or newer) on this machine"
        pytest.fail(reason) if in_ci() else pytest.skip(reason)
    python, version = found
    root = scratch_copy(tmp_path)

    done = subprocess.run([python, script], cwd=root, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)

    shown = ".".join(map(str, version))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"The demo and the tests of source-usage need Python >=3.10,<3.13 (pyproject.toml's dev-requires-python), "
        f"and this is Python {shown} ({python}): run it with a supported one instead, e.g. python3.12 {script}.\n"
    )
    assert not (root / ".venv").exists()
    assert re.fullmatch(r"[^\n]+\.\n", done.stderr)
