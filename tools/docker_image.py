"""The connector's Docker image, built here from the project's own Dockerfile, and the engine for it.

    python3 tools/docker_image.py tag                        # prints source-usage:<pyproject.toml's version>
    python3 tools/docker_image.py engine [--state-dir DIR]   # a Docker engine that answers
    python3 tools/docker_image.py base [--state-dir DIR]     # prints the stand-in base image's tag
    python3 tools/docker_image.py build [--tag TAG] [--state-dir DIR]   # prints the tag (default: as `tag`)
    python3 tools/docker_image.py stop DIR                   # stops the engine `engine` started, deletes DIR

``tag`` is the image's name and version, never typed by hand: ``source-usage:`` and the version
in pyproject.toml (which metadata.yaml's ``dockerImageTag`` and the changelog's top row repeat),
for ``docker build -t "$(python3 tools/docker_image.py tag)" .`` and for ``build``.

``engine`` uses the Docker engine that answers ``docker info``; when none does, it installs
Debian's ``docker.io`` when ``dockerd`` is missing (root and apt-get only) and starts ``dockerd``
in the background (its log and pid in ``DIR``, default ``/tmp/source-usage-docker``) with the
``overlay2`` storage driver, or ``vfs`` where overlay2 cannot start, then waits for it. ``stop DIR`` stops only an engine started that
way, never one that was already running.

``base`` makes a local stand-in for the Dockerfile's base image (Airbyte's
``python-connector-base``, which a machine without access to Docker Hub cannot pull): a minimal
Debian bookworm made with ``debootstrap`` from the machine's own Debian mirror (its apt sources),
with bookworm's Python 3.11 as ``/usr/local/bin/python`` and ``pip``, the ``airbyte`` user
(uid 1000), and the machine's own pip configuration and CA bundle, so that ``pip install``
inside the build reaches the package index this machine reaches. Nothing of that goes into the
project's Dockerfile. The stand-in is imported with ``docker import`` and tagged
``source-usage-base:bookworm-HASH``, HASH covering this script and every input copied into it,
so it is built once per machine and rebuilt when any of them changes (about 45 to 70 s).

``build`` runs ``engine`` and ``base``, then builds the project's unchanged Dockerfile on the
stand-in (``docker build --build-arg BASE_IMAGE=...``; about 45 s on overlay2, 2 minutes on vfs,
seconds when Docker's layer cache already holds the same sources), and prints the image's tag as the only line on stdout, so that
``.ci/run`` can export it as ``SOURCE_USAGE_TEST_IMAGE`` for ``integration_tests/test_image.py``.
Progress and timings go to stderr.

Standard library only: ``.ci/run`` calls it with the system Python, before any venv exists.
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap import ROOT, pyproject_string, pyproject_text  # noqa: E402

DEFAULT_STATE_DIR = Path("/tmp/source-usage-docker")
#: The image's repository (metadata.yaml's dockerRepository); its tag is the project's version.
REPOSITORY = "source-usage"
BASE_REPOSITORY = "source-usage-base"
SUITE = "bookworm"  # Debian 12, whose python3 is 3.11, the Python of python-connector-base 4.x
PACKAGES = ["python3", "python3-pip", "ca-certificates"]
AIRBYTE_UID = 1000  # the `airbyte` user of Airbyte's image contract (the Dockerfile's USER)
ENGINE_START_TIMEOUT_SECONDS = 90
#: overlay2 where the kernel and file system allow it (a container starts in 0.5 s, the build takes
#: about 45 s); vfs everywhere else (each layer and each container a full copy: about 11 s a
#: container and 2 minutes a build).
STORAGE_DRIVERS = ("overlay2", "vfs")
#: Where pip reads its configuration on Linux (global, then the user's): copied as they are.
PIP_CONFIG_FILES = [
    Path("/etc/pip.conf"),
    Path("/etc/xdg/pip/pip.conf"),
    Path.home() / ".config/pip/pip.conf",
    Path.home() / ".pip/pip.conf",
]
#: In the image, pip runs as root: the user's files go to root's home.
IMAGE_HOME = Path("/root")
#: The pip options given as PIP_* variables are written into the image's site configuration
#: (read after the global and user files, as the variables are).
IMAGE_SITE_PIP_CONF = Path("/usr/pip.conf")
IMAGE_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class DockerError(RuntimeError):
    """No engine, no base, or a failed build; the message says why."""


def project_version(root: Path = ROOT) -> str:
    """pyproject.toml's ``[project] version``."""
    version = pyproject_string(pyproject_text(root), "project", "version")
    if version is None:
        raise DockerError("pyproject.toml's [project] table has no version")
    return version


def default_tag(root: Path = ROOT) -> str:
    return f"{REPOSITORY}:{project_version(root)}"


def log(message: str) -> None:
    print(f"[docker] {message}", file=sys.stderr, flush=True)


def run(command: Sequence[str], **options: object) -> subprocess.CompletedProcess[str]:
    """``command``; its output goes to stderr (stdout carries nothing but the result)."""
    return subprocess.run(list(command), stdout=sys.stderr, text=True, **options)  # type: ignore[call-overload, no-any-return]


def is_root() -> bool:
    return os.geteuid() == 0


def apt_install(packages: List[str]) -> None:
    if not is_root() or not shutil.which("apt-get"):
        raise DockerError(f"{' '.join(packages)} not installed, and this needs root and apt-get: apt-get install -y {' '.join(packages)}")
    log(f"installing {' '.join(packages)} (apt-get) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        if run(command, env=env).returncode != 0:
            raise DockerError(f"{' '.join(command)} failed (see its output above)")


# --------------------------------------------------------------------------- the engine


def engine_answers() -> Tuple[bool, str]:
    """Whether ``docker info`` answers, and what it said when it did not."""
    if not shutil.which("docker"):
        return False, "no docker command on PATH"
    try:
        done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return False, "docker info did not answer within 30 s"
    if done.returncode == 0:
        return True, done.stdout.strip()
    return False, (done.stderr.strip().splitlines() or ["docker info failed"])[-1]


def ensure_engine(state_dir: Path) -> None:
    answers, said = engine_answers()
    if answers:
        log(f"Docker engine {said} answers")
        return
    if not shutil.which("dockerd") or not shutil.which("docker"):
        apt_install(["docker.io"])
    if not is_root():
        raise DockerError(f"no Docker engine answers ({said}) and only root can start one here")
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "dockerd.log"
    failures = []
    for driver in STORAGE_DRIVERS:
        log(f"no Docker engine answers ({said}); starting dockerd --storage-driver={driver} (log {log_path}) ...")
        try:
            start_dockerd(driver, state_dir, log_path)
            return
        except DockerError as error:
            failures.append(f"{driver}: {error}")
    raise DockerError("dockerd did not start: " + "; ".join(failures))


def start_dockerd(driver: str, state_dir: Path, log_path: Path) -> None:
    started = time.monotonic()
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            ["dockerd", f"--storage-driver={driver}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (state_dir / "dockerd.pid").write_text(str(process.pid))
    while time.monotonic() - started < ENGINE_START_TIMEOUT_SECONDS:
        if process.poll() is not None:
            (state_dir / "dockerd.pid").unlink()
            raise DockerError(f"exited with {process.returncode}: {tail(log_path)}")
        if engine_answers()[0]:
            log(f"dockerd (pid {process.pid}, {driver}) answers after {time.monotonic() - started:.1f} s")
            return
        time.sleep(0.5)
    stop_engine(state_dir)
    raise DockerError(f"did not answer within {ENGINE_START_TIMEOUT_SECONDS} s: {tail(log_path)}")


def tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_engine(state_dir: Path) -> None:
    """Stops the dockerd that ``ensure_engine`` started with ``state_dir``, if any, and waits."""
    pid_file = state_dir / "dockerd.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    pid_file.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(60):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            log(f"dockerd (pid {pid}) stopped")
            return
        time.sleep(0.5)
    log(f"dockerd (pid {pid}) did not stop within 30 s; left running")


# --------------------------------------------------------------------------- the stand-in base


def debian_mirror() -> Optional[str]:
    """The machine's Debian mirror for ``SUITE`` main, from its apt sources (deb822 ``.sources``
    files and one-line ``.list`` files); ``None`` leaves the choice to debootstrap."""
    sources = Path("/etc/apt")
    for path in sorted(sources.glob("sources.list.d/*.sources")):
        for block in path.read_text(errors="replace").split("\n\n"):
            fields: Dict[str, str] = {}
            for line in block.splitlines():
                if ":" in line and not line.startswith(("#", " ")):
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.strip()
            if (
                "deb" in fields.get("types", "").split()
                and SUITE in fields.get("suites", "").split()
                and "main" in fields.get("components", "").split()
            ):
                return fields["uris"].split()[0]
    for path in [sources / "sources.list", *sorted(sources.glob("sources.list.d/*.list"))]:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            parts = re.sub(r"\[[^]]*\]", "", line).split()
            if len(parts) >= 4 and parts[0] == "deb" and parts[2] == SUITE and "main" in parts[3:]:
                return parts[1]
    return None


def pip_env_options() -> Dict[str, str]:
    """pip's options given as ``PIP_*`` variables (``PIP_DEFAULT_TIMEOUT`` -> ``default-timeout``)."""
    return {
        key[4:].lower().replace("_", "-"): value
        for key, value in sorted(os.environ.items())
        if key.startswith("PIP_") and key != "PIP_CONFIG_FILE"
    }


def host_ca_bundle() -> Path:
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("REQUESTS_CA_BUNDLE"),
        os.environ.get("SSL_CERT_FILE"),
        str(IMAGE_CA_BUNDLE),
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise DockerError("no CA bundle found (PIP_CERT, REQUESTS_CA_BUNDLE, SSL_CERT_FILE or /etc/ssl/certs/ca-certificates.crt)")


def base_inputs() -> List[Tuple[Path, Path]]:
    """(file on this machine, path in the image) of everything the base copies from this machine:
    pip's configuration files, the files they name as ``cert`` or ``constraint``, the CA bundle."""
    copies: List[Tuple[Path, Path]] = []
    named: List[str] = []
    for path in PIP_CONFIG_FILES:
        if path.is_file():
            in_image = IMAGE_HOME / path.relative_to(Path.home()) if path.is_relative_to(Path.home()) else path
            copies.append((path, in_image))
            parser = configparser.ConfigParser()
            parser.read(path)
            named += [parser[section][key] for section in parser.sections() for key in ("cert", "constraint") if key in parser[section]]
    options = pip_env_options()
    named += [options[key] for key in ("cert", "constraint") if key in options]
    for value in named:
        for part in value.split():
            if Path(part).is_absolute() and Path(part).is_file():
                copies.append((Path(part), Path(part)))
    copies.append((host_ca_bundle(), IMAGE_CA_BUNDLE))
    return sorted(set(copies))


def base_tag(mirror: Optional[str]) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(json.dumps([SUITE, PACKAGES, mirror, pip_env_options()]).encode())
    for source, destination in base_inputs():
        digest.update(f"{destination}\0".encode() + source.read_bytes() + b"\0")
    return f"{BASE_REPOSITORY}:{SUITE}-{digest.hexdigest()[:12]}"


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def ensure_base() -> str:
    """The stand-in base image's tag, built first when this machine has none for these inputs."""
    mirror = debian_mirror()
    tag = base_tag(mirror)
    if image_exists(tag):
        log(f"base image {tag} is cached")
        return tag
    if not shutil.which("debootstrap"):
        apt_install(["debootstrap"])
    if not is_root():
        raise DockerError("debootstrap needs root")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="source-usage-base-", dir="/var/tmp") as scratch:
        rootfs = Path(scratch) / "rootfs"
        log(f"debootstrap {SUITE} ({', '.join(PACKAGES)}) from {mirror or 'debootstrap default mirror'} ...")
        command = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), *([mirror] if mirror else [])]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise DockerError(f"debootstrap failed ({done.returncode}): {' | '.join((done.stdout + done.stderr).splitlines()[-5:])}")
        furnish(rootfs)
        log(f"importing {tag} ...")
        # Without their ids a user's files would belong to this machine's users of those names.
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        changes = ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8", 'CMD ["/bin/bash"]']
        imported = subprocess.run(
            ["docker", "import", *[arg for change in changes for arg in ("--change", change)], "-", tag],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
        )
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            raise DockerError(f"docker import failed: {imported.stderr.strip()}")
    for old in subprocess.run(
        ["docker", "images", BASE_REPOSITORY, "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True
    ).stdout.split():
        if old != tag:
            subprocess.run(["docker", "rmi", old], capture_output=True)
    log(f"base image {tag} built in {time.monotonic() - started:.0f} s")
    return tag


def furnish(rootfs: Path) -> None:
    """What the Dockerfile expects of its base, plus this machine's pip setup."""
    done = subprocess.run(
        ["chroot", str(rootfs), "useradd", "--uid", str(AIRBYTE_UID), "--user-group", "--create-home", "--shell", "/bin/bash", "airbyte"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise DockerError(f"useradd airbyte failed: {done.stderr.strip()}")
    local_bin = rootfs / "usr/local/bin"
    local_bin.mkdir(parents=True, exist_ok=True)
    for name, link in (("python", "/usr/bin/python3"), ("python3", "/usr/bin/python3"), ("pip", "/usr/bin/pip3")):
        (local_bin / name).symlink_to(link)
    # As in the real base, pip installs into the system Python (Debian's pip puts it in /usr/local).
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    for source, destination in base_inputs():
        target = rootfs / destination.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    options = pip_env_options()
    if options:
        site = configparser.ConfigParser(interpolation=None)
        site["global"] = options
        with (rootfs / IMAGE_SITE_PIP_CONF.relative_to("/")).open("w") as out:
            site.write(out)
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / cache).glob("*"):
            if entry.is_file():
                entry.unlink()
    probe = subprocess.run(
        ["chroot", str(rootfs), "/usr/local/bin/python", "-c", "import sys, ssl; print(sys.version)"], capture_output=True, text=True
    )
    if probe.returncode != 0 or not probe.stdout.startswith("3.11"):
        raise DockerError(f"the base's /usr/local/bin/python is not Python 3.11: {probe.stdout.strip()} {probe.stderr.strip()}")


# --------------------------------------------------------------------------- the connector image


def build_image(tag: str, base: str) -> str:
    started = time.monotonic()
    log(f"docker build -t {tag} --build-arg BASE_IMAGE={base} {ROOT} ...")
    # The classic builder (no BuildKit plugin needed); the host's network, where pip's index is.
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    command = ["docker", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={base}", "-t", tag, str(ROOT)]
    if run(command, env=env).returncode != 0:
        raise DockerError(f"docker build of {tag} failed (see its output above)")
    # The image this tag named before, and its layers no other image uses (vfs copies every layer whole).
    subprocess.run(["docker", "image", "prune", "-f"], capture_output=True)
    log(f"image {tag} built in {time.monotonic() - started:.0f} s")
    return tag


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("tag", help="print source-usage:<version>, the version in pyproject.toml")
    for name in ("engine", "base", "build"):
        command = commands.add_parser(name)
        command.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="where a dockerd started here keeps its log and pid")
        if name == "build":
            command.add_argument("--tag", help="the image's tag (default: source-usage:<the version in pyproject.toml>)")
    commands.add_parser("stop").add_argument("state_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "tag":
            print(default_tag())
            return 0
        if args.command == "stop":
            stop_engine(args.state_dir)
            shutil.rmtree(args.state_dir, ignore_errors=True)
            return 0
        ensure_engine(args.state_dir)
        if args.command == "base":
            print(ensure_base())
        elif args.command == "build":
            print(build_image(args.tag or default_tag(), ensure_base()))
    except DockerError as error:
        log(f"error: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
