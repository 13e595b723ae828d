"""Run the whole test suite: ruff, mypy on source_usage/, and pytest (unit and end-to-end).

Usage: ``python3 tools/test.py [--fresh] [pytest arguments]``. Sets up ``.venv`` first when
needed (see ``tools/bootstrap.py``); ``--fresh`` rebuilds it from nothing, as CI does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap import ROOT, ensure_venv, venv_bin  # noqa: E402


def main(argv: list[str]) -> int:
    fresh = "--fresh" in argv
    pytest_args = [arg for arg in argv if arg != "--fresh"]
    python = ensure_venv(fresh=fresh)
    steps = [
        ("ruff", [str(venv_bin("ruff")), "check", "conftest.py", "source_usage", "unit_tests", "integration_tests", "tools", "bench"]),
        ("mypy", [str(venv_bin("mypy")), "source_usage"]),
        ("hadolint", [str(venv_bin("hadolint")), "Dockerfile"]),
        # Most tests wait on a subprocess or a loopback server: one worker per core roughly halves
        # the wall time. A file's tests stay on one worker (module fixtures, e.g. the standard
        # tests' configs, are per file).
        ("pytest", [str(python), "-m", "pytest", *(pytest_args or ["-n", "auto", "--dist", "loadfile"])]),
    ]
    for name, command in steps:
        print(f"== {name}: {' '.join(Path(part).name if i == 0 else part for i, part in enumerate(command))}", flush=True)
        result = subprocess.run(command, cwd=ROOT)
        if result.returncode != 0:
            print(f"== {name} failed (exit {result.returncode})", flush=True)
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
