"""tools/bootstrap.py, which both README commands run first: a Python ``.venv`` cannot be built
with is refused in one sentence before ``.venv`` is looked at, and ``.venv`` is built from nothing from the lock
whenever it is not known to be complete and current.

The decisions run on a scratch project folder with the build step recorded instead of run; the
build itself runs with pip and venv recorded, so no test here starts a process.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, List, Sequence

import pytest
import tomllib
from packaging.specifiers import SpecifierSet

from integration_tests.tooling import load_tool

ROOT = Path(__file__).resolve().parents[1]
bootstrap: ModuleType = load_tool("bootstrap")


def project(tmp_path: Path) -> Any:
    """A scratch copy of what ``.venv`` is built from: pyproject.toml and the dev lock."""
    (tmp_path / "requirements").mkdir()
    shutil.copyfile(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copyfile(ROOT / "requirements" / "dev.txt", tmp_path / "requirements" / "dev.txt")
    return bootstrap.Environment(tmp_path)


class Builds:
    """The build step, recorded: each call writes a complete ``.venv`` as :func:`bootstrap.build` would."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environment: Any) -> None:
        self.calls += 1
        shutil.rmtree(environment.path, ignore_errors=True)
        environment.python.parent.mkdir(parents=True)
        environment.python.write_text("a python")
        environment.stamp.write_text(environment.wanted())


def complete(environment: Any) -> Any:
    Builds()(environment)
    return environment


def never(*args: Any) -> Any:
    raise AssertionError("called before the Python was checked")


def runs(python: Path) -> bool:
    return True


def does_not_run(python: Path) -> bool:
    return False


# --------------------------------------------------------------------------- the Python


def test_both_python_ranges_are_read_from_pyproject_as_tomllib_reads_them() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    declared = tomllib.loads(text)
    assert bootstrap.requires_python(text) == declared["project"]["requires-python"] == ">=3.10,<3.14"
    assert bootstrap.dev_requires_python(text) == declared["tool"]["source-usage"]["dev-requires-python"] == ">=3.10,<3.13"


@pytest.mark.parametrize(
    "version, supported",
    [((2, 7, 18), False), ((3, 9, 18), False), ((3, 10, 0), True), ((3, 11, 7), True), ((3, 12, 9), True), ((3, 13, 0), False)],
)
def test_the_pythons_venv_is_built_with_are_exactly_those_dev_requires_python_allows(version: Sequence[int], supported: bool) -> None:
    assert bootstrap.supports(">=3.10,<3.13", version) is supported


def test_dev_requires_python_ends_where_a_package_of_venv_stops_supporting_python() -> None:
    """Every package installed in .venv (this test's environment) supports the newest Python of
    the range, which is within requires-python, and the next one is what PyAirbyte 0.71.3,
airbyte-connector-models and sqlalchemy-bigquery (from PyAirbyte) refuse:
    the range is as wide as the dev dependencies allow. (Its floor is the lock's: uv resolves
    it for requires-python's lowest Python, with older pins where a package needs them.)"""
    text = (ROOT / "pyproject.toml").read_text()
    minors = [f"3.{minor}.0" for minor in range(8, 16)]
    allowed = [v for v in minors if bootstrap.supports(bootstrap.dev_requires_python(text), tuple(map(int, v.split("."))))]
    # .get: a package without Requires-Python supports every Python (and a loaded importlib_metadata
    # makes a missing field a KeyError).
    declared = {
        dist.metadata.get("Name"): SpecifierSet(dist.metadata.get("Requires-Python") or "") for dist in importlib.metadata.distributions()
    }

    assert allowed == ["3.10.0", "3.11.0", "3.12.0"]
    assert all(SpecifierSet(bootstrap.requires_python(text)).contains(version) for version in allowed)
    assert {name: spec for name, spec in declared.items() if not spec.contains(allowed[-1])} == {}
    assert sorted(name for name, spec in declared.items() if not spec.contains("3.13.0")) == [
        "airbyte",
        "airbyte-connector-models",
        "sqlalchemy-bigquery",
    ]


@pytest.mark.parametrize("version", [(3, 9, 18), (3, 13, 0)])
def test_an_unsupported_python_is_refused_in_one_sentence_before_venv_is_looked_at(
    version: Sequence[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = project(tmp_path)
    environment.python.parent.mkdir(parents=True)
    environment.python.write_text("left by an earlier run")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["tools/demo.py"])

    with pytest.raises(SystemExit) as refused:
        bootstrap.ensure_venv(environment=environment, version=version, runs=never, builder=never)

    shown = ".".join(map(str, version))
    assert refused.value.code == (
        f"The demo and the tests of source-usage need Python >=3.10,<3.13 (pyproject.toml's dev-requires-python), "
        f"and this is Python {shown} ({sys.executable}): run it with a supported one instead, e.g. python3.12 tools/demo.py."
    )
    assert sorted(path.name for path in environment.path.rglob("*")) == ["bin", "python"]
    assert environment.python.read_text() == "left by an earlier run"


def test_both_readme_commands_check_the_python_before_anything_else() -> None:
    for script in ("demo.py", "test.py"):
        main = (ROOT / "tools" / script).read_text().split("def main(", 1)[1]
        body = [line.strip() for line in main.splitlines()[1:] if line.strip() and not line.strip().startswith(('"""', "#"))]
        assert body[0].startswith("check_python()"), (script, body[0])


# --------------------------------------------------------------------------- when .venv is built again


def test_a_missing_venv_is_built(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    environment, builds = project(tmp_path), Builds()

    python = bootstrap.ensure_venv(environment=environment, version=(3, 11, 7), runs=runs, builder=builds)

    assert (python, builds.calls) == (environment.python, 1)
    assert capsys.readouterr().out == "building .venv from nothing: there is none ...\n"


def test_a_venv_a_failed_run_left_without_its_stamp_is_built_again_from_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    environment, builds = complete(project(tmp_path)), Builds()
    environment.stamp.unlink()  # a run that stopped while pip was installing never wrote it

    bootstrap.ensure_venv(environment=environment, version=(3, 11, 7), runs=runs, builder=builds)

    assert builds.calls == 1
    assert capsys.readouterr().out == "building .venv from nothing: a previous run stopped before it was complete ...\n"


def test_a_venv_whose_python_no_longer_runs_is_built_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    environment, builds = complete(project(tmp_path)), Builds()

    bootstrap.ensure_venv(environment=environment, version=(3, 11, 7), runs=does_not_run, builder=builds)

    assert builds.calls == 1
    assert capsys.readouterr().out == "building .venv from nothing: its Python no longer runs ...\n"


def test_a_venv_built_from_another_lock_is_built_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    environment, builds = complete(project(tmp_path)), Builds()
    with environment.lock.open("a") as lock:
        lock.write("# relocked\n")

    bootstrap.ensure_venv(environment=environment, version=(3, 11, 7), runs=runs, builder=builds)

    assert builds.calls == 1
    assert capsys.readouterr().out == (
        "building .venv from nothing: requirements/dev.txt or pyproject.toml changed since it was built ...\n"
    )


def test_a_complete_current_venv_is_used_as_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    environment, builds = complete(project(tmp_path)), Builds()

    python = bootstrap.ensure_venv(environment=environment, version=(3, 11, 7), runs=runs, builder=builds)

    assert (python, builds.calls, capsys.readouterr().out) == (environment.python, 0, "")


def test_fresh_builds_even_a_complete_venv_again(tmp_path: Path) -> None:
    environment, builds = complete(project(tmp_path)), Builds()

    bootstrap.ensure_venv(fresh=True, environment=environment, version=(3, 11, 7), runs=runs, builder=builds)

    assert builds.calls == 1


# --------------------------------------------------------------------------- the build


class Recorded:
    """pip and venv creation inside :func:`bootstrap.build`, recorded instead of run."""

    def __init__(self, environment: Any, fail_at: int = 0) -> None:
        self.environment = environment
        self.fail_at = fail_at
        self.commands: List[List[str]] = []

    def create(self, path: Path) -> None:
        assert not path.exists(), "the new .venv is made where nothing is left"
        self.environment.python.parent.mkdir(parents=True)
        self.environment.python.write_text("a python")

    def run(self, command: List[str], **options: Any) -> None:
        assert not self.environment.stamp.exists(), "the stamp is written last"
        self.commands.append(command)
        if len(self.commands) == self.fail_at:
            raise bootstrap.subprocess.CalledProcessError(1, command)


def recorded_build(environment: Any, monkeypatch: pytest.MonkeyPatch, fail_at: int = 0) -> Recorded:
    record = Recorded(environment, fail_at)

    class Builder:
        def __init__(self, **options: Any) -> None:
            assert options == {"with_pip": True, "clear": True}

        def create(self, path: Path) -> None:
            record.create(path)

    monkeypatch.setattr(bootstrap.venv, "EnvBuilder", Builder)
    monkeypatch.setattr(bootstrap.subprocess, "run", record.run)
    return record


def test_the_build_installs_the_locked_packages_with_their_hashes_then_the_project_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = project(tmp_path)
    (environment.path / "lib").mkdir(parents=True)
    (environment.path / "lib" / "half-installed").write_text("left by a failed run")
    record = recorded_build(environment, monkeypatch)

    bootstrap.build(environment)

    pip = [str(environment.python), "-m", "pip", "--disable-pip-version-check", "-q", "install"]
    assert record.commands == [
        [*pip, "--require-hashes", "-r", str(tmp_path / "requirements" / "dev.txt")],
        [*pip, "--no-deps", "--no-build-isolation", "-e", str(tmp_path)],
    ]
    assert not (environment.path / "lib" / "half-installed").exists()
    assert environment.stamp.read_text() == environment.wanted()


def test_a_build_that_fails_leaves_no_stamp_so_the_next_run_builds_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environment = project(tmp_path)
    recorded_build(environment, monkeypatch, fail_at=1)

    with pytest.raises(bootstrap.subprocess.CalledProcessError):
        bootstrap.build(environment)

    assert not environment.stamp.exists()
    assert environment.problem(runs) == "a previous run stopped before it was complete"


def test_without_the_lock_the_build_says_how_to_make_it(tmp_path: Path) -> None:
    environment = project(tmp_path)
    environment.lock.unlink()

    with pytest.raises(SystemExit) as refused:
        bootstrap.build(environment)

    assert refused.value.code == "requirements/dev.txt is missing: run python3 tools/lock.py."
    assert not environment.path.exists()
