"""What the Docker image would run, without a Docker engine: the Dockerfile's own command line,
against the connector as the image installs it.

The image's builder stage copies some files of the checkout into ``/airbyte/integration_code``,
installs the runtime lock with its hashes and then that folder, without dependencies, into
``/usr/local``; Airbyte then runs ``AIRBYTE_ENTRYPOINT`` (which must equal ``ENTRYPOINT``) from
some working directory. Here: the files the builder stage's ``COPY`` lines name are copied into a
folder of their own, built into a wheel, installed the same way (the lock, then the wheel alone)
into a clean virtual environment (no system site packages, nothing of the checkout), and the
Dockerfile's command line is run with one substitution, the image's
``/usr/local/bin/`` becoming the environment's ``bin/``, from a working directory outside the
repository, so that the code and the schemas can only come from the wheel.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import venv
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from emulator import Emulator, discover_vendors, vendor_options
from integration_tests import clock as moved_clock
from integration_tests.conftest import EmulatorFactory
from integration_tests.runner import Run, parse_messages

# pip and the installed command; one worker runs the module, which shares one costly fixture
pytestmark = [pytest.mark.process, pytest.mark.xdist_group("wheel")]

ROOT = Path(__file__).resolve().parents[1]
IMAGE_WORKDIR = "/airbyte/integration_code"
IMAGE_PREFIX = "/usr/local/bin/"  # where the image's pip installs python and the scripts
#: A key of its own for every emulated vendor: no other text of a run can hold one by chance.
KEYS = {name: f"{name}-wheel-secret-{os.urandom(4).hex()}" for name in discover_vendors()}
INSTALL_TIMEOUT_SECONDS = 600
RUN_TIMEOUT_SECONDS = 180


# --------------------------------------------------------------------------- the Dockerfile


def dockerfile_stages() -> List[List[str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped), per stage,
    each from its ``FROM`` (the global ``ARG``s before the first one are left out)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: List[List[str]] = []
    for line in (line.strip() for line in text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    assert stages, "the Dockerfile has no FROM"
    return stages


def instruction(stage: List[str], keyword: str) -> List[str]:
    """The arguments of every ``keyword`` instruction of a stage, in order."""
    return [line[len(keyword) :].strip() for line in stage if line.upper().startswith(keyword + " ")]


def image_command() -> List[str]:
    """The final stage's ``ENTRYPOINT``, after checking that ``AIRBYTE_ENTRYPOINT`` says the same."""
    final = dockerfile_stages()[-1]
    (entrypoint_json,) = instruction(final, "ENTRYPOINT")[-1:]
    entrypoint = json.loads(entrypoint_json)  # the exec form: Airbyte runs it without a shell
    env = [value for value in instruction(final, "ENV") if value.startswith("AIRBYTE_ENTRYPOINT=")]
    assert env, "the final stage sets no ENV AIRBYTE_ENTRYPOINT"
    airbyte_entrypoint = shlex.split(env[-1].removeprefix("AIRBYTE_ENTRYPOINT="))
    assert len(airbyte_entrypoint) == 1, f"ENV AIRBYTE_ENTRYPOINT is not one value: {env[-1]}"
    assert shlex.split(airbyte_entrypoint[0]) == entrypoint, f"AIRBYTE_ENTRYPOINT {airbyte_entrypoint[0]!r} != ENTRYPOINT {entrypoint}"
    return list(entrypoint)


def stage_build_context(target: Path) -> Path:
    """``target`` filled as the builder stage fills its ``WORKDIR``: the sources of every ``COPY``
    (Docker copies a folder's contents, a file into a folder when the destination ends with ``/``)."""
    builder = dockerfile_stages()[0]
    (workdir,) = instruction(builder, "WORKDIR")[-1:]
    assert workdir == IMAGE_WORKDIR, f"the builder stage works in {workdir}"
    for arguments in instruction(builder, "COPY"):
        parts = [part for part in shlex.split(arguments) if not part.startswith("--")]
        assert not arguments.startswith("--from"), f"the builder stage copies from another image: {arguments}"
        *sources, destination = parts
        into = target / os.path.relpath(destination if destination.startswith("/") else f"{workdir}/{destination}", workdir)
        for source in sources:
            origin = ROOT / source
            assert origin.exists(), f"COPY {arguments}: the checkout has no {source}"
            if origin.is_dir():
                shutil.copytree(origin, into, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                into_folder = destination.endswith("/") or len(sources) > 1
                (into if into_folder else into.parent).mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, into / origin.name if into_folder else into)
    (install,) = [run for run in instruction(builder, "RUN") if "pip install" in run][-1:]
    assert shlex.split(install)[-1] == workdir, f"the builder stage installs {install!r}, not its WORKDIR"
    return target


# --------------------------------------------------------------------------- the installed wheel


@dataclass
class Installed:
    wheel: Path
    environment: Path  # the clean virtual environment
    command: List[str]  # the Dockerfile's command line, pointing into the environment
    workdir: Path  # outside the repository, empty
    #: The suite's moved clock for the environment's Python (``tools/test.py --at``), or ``None``.
    clock: Optional[Path] = None

    def env(self) -> Dict[str, str]:
        """The caller's environment minus whatever could point Python at the checkout (with
        ``--at``, its ``PYTHONPATH`` is a copy of the clock's start-up file and ``time_machine``)."""
        drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV"}
        kept = {key: value for key, value in os.environ.items() if key not in drop} | {"PYTHONNOUSERSITE": "1"}
        return moved_clock.environment(self.clock, kept)

    def run(self, *args: str, files: Optional[Dict[str, Any]] = None) -> Run:
        """The image's command with ``args``; ``files`` (name -> JSON) are written beside it and
        named by path, as the platform mounts them."""
        for name, content in (files or {}).items():
            (self.workdir / name).write_text(json.dumps(content))
        done = subprocess.run(
            [*self.command, *args],
            cwd=self.workdir,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
        )
        return Run(list(args), done.returncode, done.stdout, done.stderr, parse_messages(done.stdout))


def in_image(command: List[str], environment: Path) -> List[str]:
    """``command`` with the image's ``/usr/local/bin/`` replaced by the environment's ``bin/``
    (the only difference between the image and this environment); every such path must exist."""
    replaced = []
    for part in command:
        if part.startswith(IMAGE_PREFIX):
            part = str(environment / "bin" / part.removeprefix(IMAGE_PREFIX))
            assert Path(part).exists(), f"the image's {command} names {part}, which the installed wheel does not provide"
        replaced.append(part)
    return replaced


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    assert not base.resolve().is_relative_to(ROOT), "the working directory must be outside the repository"
    context = stage_build_context(base / "integration_code")
    pip_quiet = ["--disable-pip-version-check", "-q"]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *pip_quiet, "--no-deps", "-w", str(base / "dist"), str(context)],
        check=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    (wheel,) = (base / "dist").glob("source_usage-*.whl")
    environment = base / "venv"
    venv.EnvBuilder(with_pip=True, clear=True, system_site_packages=False).create(environment)
    # As in the image: the runtime lock with its hashes checked, then the wheel without dependencies
    # (pip's cache makes reruns quick); nothing compiled ahead, as the Dockerfile's install does not either.
    pip = [str(environment / "bin" / "python"), "-m", "pip", "install", *pip_quiet, "--no-compile"]
    for install in ([*pip, "--require-hashes", "-r", str(context / "requirements" / "runtime.txt")], [*pip, "--no-deps", str(wheel)]):
        subprocess.run(
            install,
            check=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            cwd=base,
            env=moved_clock.environment(None, os.environ),  # pip is not under test, and has no time_machine
        )
    workdir = base / "integration_code_run"
    workdir.mkdir()
    return Installed(wheel, environment, in_image(image_command(), environment), workdir, moved_clock.clock_folder(base))


# --------------------------------------------------------------------------- the emulator and a config


def config(emulator: Emulator) -> Dict[str, Any]:
    # Two days ending three days ago in UTC: finished in every API's zone.
    end = datetime.now(timezone.utc).date() - timedelta(days=3)
    return emulator.connector_config(start_date=(end - timedelta(days=1)).isoformat(), end_date=end.isoformat())


@pytest.fixture
def emulated(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(seed=31, rate_limits=False, **vendor_options(lambda vendor: vendor.e2e_options, keys=KEYS))


def assert_succeeded(run: Run, *secrets: str) -> None:
    assert run.returncode == 0 and not run.errors(), run.describe()
    leaked = [secret[:4] + "…" for secret in secrets if secret in run.stdout or secret in run.stderr]
    assert not leaked, f"secrets in the output: {leaked}"


# --------------------------------------------------------------------------- tests


def test_the_image_command_is_absolute_and_runs_the_wheel_not_the_checkout(installed: Installed) -> None:
    command = image_command()
    assert command[0].startswith("/"), f"ENTRYPOINT {command} is not an absolute path (the platform may change the working directory)"
    python = installed.command[0]
    probe = subprocess.run(
        [python, "-c", "import json, source_usage; print(json.dumps(source_usage.__file__))"],
        cwd=installed.workdir,
        env=installed.env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    assert probe.returncode == 0, probe.stderr
    module_file = Path(json.loads(probe.stdout)).resolve()
    assert module_file.is_relative_to(installed.environment.resolve()), f"source_usage was imported from {module_file}"
    assert not module_file.is_relative_to(ROOT)


def test_the_wheel_ships_the_mit_license(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        shipped = {name: wheel.read(name).decode() for name in wheel.namelist() if name.endswith(".dist-info/licenses/LICENSE")}
    assert list(shipped.values()) == [(ROOT / "LICENSE").read_text()]


def test_the_wheel_ships_a_schema_for_every_stream(installed: Installed, emulated: Emulator) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
    shipped = sorted(name.removeprefix("source_usage/schemas/") for name in names if name.startswith("source_usage/schemas/"))
    assert shipped == sorted(f"{stream}.json" for stream in emulated.streams())
    assert shipped == sorted(path.name for path in (ROOT / "schemas").glob("*.json"))


def test_spec(installed: Installed) -> None:
    run = installed.run("spec")

    assert_succeeded(run)
    (spec,) = [message["spec"] for message in run.of_type("SPEC")]
    sections = spec["connectionSpecification"]["properties"]
    assert set(discover_vendors()) <= set(sections)


def test_check_succeeds_against_the_emulator(installed: Installed, emulated: Emulator) -> None:
    run = installed.run("check", "--config", "config.json", files={"config.json": config(emulated)})

    assert_succeeded(run, *KEYS.values())
    assert run.connection_status()["status"] == "SUCCEEDED", run.describe()


def discover(installed: Installed, emulator: Emulator) -> Tuple[Run, List[Dict[str, Any]]]:
    run = installed.run("discover", "--config", "config.json", files={"config.json": config(emulator)})
    assert_succeeded(run, *KEYS.values())
    (catalog,) = [message["catalog"] for message in run.of_type("CATALOG")]
    return run, catalog["streams"]


def test_discover_lists_every_stream_with_its_packaged_schema(installed: Installed, emulated: Emulator) -> None:
    _, streams = discover(installed, emulated)

    assert sorted(stream["name"] for stream in streams) == emulated.streams()
    with zipfile.ZipFile(installed.wheel) as wheel:
        for stream in streams:
            packaged = json.loads(wheel.read(f"source_usage/schemas/{stream['name']}.json"))
            assert stream["json_schema"] == packaged, f"{stream['name']}: the discovered schema is not the wheel's"


def test_read_emits_records_of_every_stream_and_state(installed: Installed, emulated: Emulator) -> None:
    _, streams = discover(installed, emulated)
    catalog = {
        "streams": [
            {
                "stream": stream,
                "sync_mode": "incremental" if "incremental" in stream["supported_sync_modes"] else "full_refresh",
                "cursor_field": stream.get("default_cursor_field", []),
                "destination_sync_mode": "append",
            }
            for stream in streams
        ]
    }
    incremental = sorted(entry["stream"]["name"] for entry in catalog["streams"] if entry["sync_mode"] == "incremental")

    run = installed.run(
        "read", "--config", "config.json", "--catalog", "catalog.json", files={"config.json": config(emulated), "catalog.json": catalog}
    )

    assert_succeeded(run, *KEYS.values())
    without_records = [name for name in emulated.streams() if not run.records(name)]
    assert not without_records, f"no RECORD of {without_records}"
    assert incremental, "discover offers no incremental stream"
    without_state = [name for name in incremental if not run.states(name)]
    assert not without_state, f"no STATE of {without_state}"
    # Every day of the window is over, so those cursors moved; a month's cursor does not move
    # while the month runs (the window may lie in the current month).
    may_stay = {stream for vendor in emulated.vendors.values() for stream in vendor.cursor_may_not_move}
    daily = [name for name in incremental if name not in may_stay]
    without_cursor = [name for name in daily if not run.states(name)[-1]]
    assert not without_cursor, f"the last STATE of {without_cursor} holds no cursor"
