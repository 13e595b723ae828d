"""The connector's Docker image, as Airbyte runs it: ``spec``, ``check``, ``discover`` and a full
then incremental ``read`` in a container, against the emulator on the host.

The image is the project's own Dockerfile built by ``tools/docker_image.py build`` (on a local
stand-in for Airbyte's base image), named by ``SOURCE_USAGE_TEST_IMAGE``; ``.ci/run`` builds it
before the test suite starts, so that no pytest worker waits for a build. Every command runs in
a container (``--network host``, so that the emulator on the host's loopback is reachable; its
files mounted read-only at the same path, readable by the image's ``airbyte`` user) and beside it
the same command through the locally installed ``source-usage``: both must print the same spec,
catalog, records and states. Without an image or an engine the tests skip, saying why; with
``CI`` set they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Tuple

import pytest

from emulator import Emulator, discover_vendors, vendor_options
from integration_tests import clock as moved_clock
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.runner import Run, configured_catalog
from integration_tests.tooling import in_ci, load_tool

# Docker; one worker runs the module, which shares one costly fixture
pytestmark = [pytest.mark.process, pytest.mark.xdist_group("image")]

IMAGE_ENV = "SOURCE_USAGE_TEST_IMAGE"
RUN_TIMEOUT_SECONDS = 300
#: A key of its own for every emulated vendor: no other text of a run can hold one by chance.
KEYS = {name: f"{name}-image-secret-{os.urandom(4).hex()}" for name in discover_vendors()}
#: The image's user (Airbyte's image contract, the Dockerfile's USER).
IMAGE_USER, IMAGE_UID = "airbyte", "1000"


def unavailable(reason: str) -> None:
    """Skip with ``reason``; under ``CI`` fail with it: CI must run the image."""
    if in_ci():
        pytest.fail(f"CI is set but {reason}; .ci/run builds the image with tools/docker_image.py build", pytrace=False)
    pytest.skip(f"{reason} (build the image with `python3 tools/docker_image.py build` and export {IMAGE_ENV} as the tag it prints)")


@pytest.fixture(scope="module")
def image() -> str:
    tag = os.environ.get(IMAGE_ENV, "").strip()
    if not tag:
        unavailable(f"{IMAGE_ENV} names no image")
    answers, said = load_tool("docker_image").engine_answers()
    if not answers:
        unavailable(f"no Docker engine answers ({said})")
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode != 0:
        unavailable(f"the Docker engine has no image {tag} ({IMAGE_ENV})")
    return tag


class ImageConnector(CheckedConnector):
    """Runs each command in a container of ``image``, with this connector's files mounted
    read-only where they are on the host, so that their paths on the command line hold."""

    def __init__(self, workdir: Path, image: str) -> None:
        super().__init__(workdir)
        self.image = image
        #: The suite's moved clock for the container's Python (``tools/test.py --at``), or ``None``.
        self.clock = moved_clock.clock_folder(workdir)

    def run(self, command: str, timeout: float = RUN_TIMEOUT_SECONDS, **files: Any) -> Run:
        args = self.arguments(command, **files)
        mounts = ["-v", f"{self.workdir}:{self.workdir}:ro", *moved_clock.docker_arguments(self.clock)]
        docker = ["docker", "run", "--rm", "--network", "host", *mounts, self.image]
        done = subprocess.run([*docker, *args], capture_output=True, text=True, timeout=timeout)
        return self.keep(args, done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def emulated() -> Iterator[Emulator]:
    factory = EmulatorFactory()
    yield factory(seed=37, rate_limits=False, **vendor_options(lambda vendor: vendor.e2e_options, keys=KEYS))
    factory.stop_all()


@pytest.fixture(scope="module")
def connectors(image: str, emulated: Emulator) -> Iterator[Tuple[ImageConnector, CheckedConnector]]:
    """(in the image, installed here), each writing its files in a folder of its own. The image's
    folder is outside pytest's root-only tmp dirs: the container's ``airbyte`` user reads it."""
    workdir = Path(tempfile.mkdtemp(prefix="source-usage-image-test-"))
    workdir.chmod(0o755)
    local_dir = workdir / "local"
    local_dir.mkdir()
    in_image, local = ImageConnector(workdir, image), CheckedConnector(local_dir)
    yield in_image, local
    try:
        for runner in (in_image, local):
            runner.secrets.update(KEYS.values())
            leaks = runner.leaked()
            assert not leaks, "secrets reached the connector's output: " + "; ".join(leaks)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def config(emulator: Emulator) -> Dict[str, Any]:
    # Two days ending three days ago in UTC: finished in every API's zone, the same in both runs.
    end = datetime.now(timezone.utc).date() - timedelta(days=3)
    return emulator.connector_config(start_date=(end - timedelta(days=1)).isoformat(), end_date=end.isoformat(), lookback_days=1)


def succeeded(run: Run) -> Run:
    assert run.returncode == 0 and not run.errors(), run.describe()
    return run


def one(run: Run, kind: str, field: str) -> Any:
    (message,) = [message[field] for message in run.of_type(kind)]
    return message


def records_by_stream(run: Run) -> Dict[str, List[str]]:
    """Each stream's records as sorted JSON lines: streams read side by side interleave freely."""
    found: Dict[str, List[str]] = {}
    for message in run.of_type("RECORD"):
        found.setdefault(message["record"]["stream"], []).append(json.dumps(message["record"]["data"], sort_keys=True))
    return {stream: sorted(lines) for stream, lines in sorted(found.items())}


def states_by_stream(run: Run, streams: List[str]) -> Dict[str, List[Mapping[str, Any]]]:
    """Each stream's STATE messages in order (a stream's own order is the connector's promise)."""
    return {stream: run.states(stream) for stream in streams}


# --------------------------------------------------------------------------- tests


def test_the_image_runs_the_airbyte_entrypoint_as_the_airbyte_user(image: str) -> None:
    inspected = json.loads(subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True, check=True).stdout)
    settings = inspected[0]["Config"]
    env = dict(entry.split("=", 1) for entry in settings["Env"])

    assert settings["User"] == IMAGE_USER
    assert settings["Entrypoint"] == ["/usr/local/bin/python", "-m", "source_usage.run"]
    assert env["AIRBYTE_ENTRYPOINT"] == " ".join(settings["Entrypoint"])
    uid = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", image, "-u"], capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS
    )
    assert uid.stdout.strip() == IMAGE_UID, uid.stderr


def test_spec_in_the_image_is_the_installed_connectors(connectors: Tuple[ImageConnector, CheckedConnector]) -> None:
    in_image, local = connectors

    spec = one(succeeded(in_image.spec()), "SPEC", "spec")

    assert spec == one(succeeded(local.spec()), "SPEC", "spec")
    assert set(discover_vendors()) <= set(spec["connectionSpecification"]["properties"])


def test_check_in_the_image_succeeds_against_the_emulator_on_the_host(
    connectors: Tuple[ImageConnector, CheckedConnector], emulated: Emulator
) -> None:
    in_image, _ = connectors

    status = one(succeeded(in_image.check(config(emulated))), "CONNECTION_STATUS", "connectionStatus")

    assert status["status"] == "SUCCEEDED", status


def test_discover_in_the_image_is_the_installed_connectors_catalog(
    connectors: Tuple[ImageConnector, CheckedConnector], emulated: Emulator
) -> None:
    in_image, local = connectors

    catalog = one(succeeded(in_image.discover(config(emulated))), "CATALOG", "catalog")

    assert catalog == one(succeeded(local.discover(config(emulated))), "CATALOG", "catalog")
    assert sorted(stream["name"] for stream in catalog["streams"]) == emulated.streams()


def test_a_full_then_incremental_read_in_the_image_gives_the_installed_connectors_records_and_states(
    connectors: Tuple[ImageConnector, CheckedConnector], emulated: Emulator
) -> None:
    in_image, local = connectors
    streams = emulated.streams()
    catalog = configured_catalog(streams, "incremental")
    incremental = sorted(entry["stream"]["name"] for entry in catalog["streams"] if entry["sync_mode"] == "incremental")

    full = succeeded(in_image.read(config(emulated), catalog))
    local_full = succeeded(local.read(config(emulated), catalog))

    assert records_by_stream(full) == records_by_stream(local_full)
    assert states_by_stream(full, incremental) == states_by_stream(local_full, incremental)
    assert sorted(records_by_stream(full)) == streams, "a stream without records proves nothing"
    assert incremental and all(full.states(stream) for stream in incremental), f"a stream of {incremental} has no STATE"

    state = local_full.last_states()
    again = succeeded(in_image.read(config(emulated), catalog, state))
    local_again = succeeded(local.read(config(emulated), catalog, state))

    assert records_by_stream(again) == records_by_stream(local_again)
    assert states_by_stream(again, incremental) == states_by_stream(local_again, incremental)
    # The incremental read starts from the state: it re-reads the lookback day, not the window.
    assert sum(map(len, records_by_stream(again).values())) < sum(map(len, records_by_stream(full).values()))
    assert [again.states(stream)[-1] for stream in incremental] == [full.states(stream)[-1] for stream in incremental]
