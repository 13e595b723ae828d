"""A throwaway PostgreSQL server on loopback, for the destination test.

    python3 tools/postgres.py start DIR   # prints postgresql://airbyte:PASSWORD@127.0.0.1:PORT/source_usage
    python3 tools/postgres.py stop DIR    # stops the server and deletes DIR

``start`` installs the Debian ``postgresql`` package when no ``pg_ctl`` is found (root only),
creates the cluster in ``DIR`` (``initdb``), starts it on 127.0.0.1 with a free port and password
authentication, and prints the connection URL as the only line on stdout (progress goes to
stderr), so that ``.ci/run`` can export it as ``SOURCE_USAGE_TEST_PG``. It is idempotent: on a
``DIR`` whose server runs it prints the same URL again; on one whose server stopped it restarts it.

PostgreSQL refuses to run as root, so under root every server command runs as the ``postgres``
system user that the Debian package creates, and ``DIR`` is given to that user (so every
directory above ``DIR`` must let that user through: ``/tmp/...`` does, pytest's root-only tmp
dirs do not).

Standard library only: ``.ci/run`` calls it with the system Python, before any venv exists.
The tests import it too (``integration_tests/test_postgres_destination.py``).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

USER = "airbyte"
DATABASE = "source_usage"
SERVER_USER = "postgres"  # the system user the Debian package creates; the server runs as it under root
STATE_FILE = "source-usage.json"  # beside the cluster: its port and password, for idempotent reruns


class PostgresError(RuntimeError):
    """PostgreSQL is missing and cannot be installed, or did not start; the message says why."""


def log(message: str) -> None:
    print(f"[postgres] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- binaries


def find_bin_dir() -> Optional[Path]:
    """The directory holding ``pg_ctl``, ``initdb`` and ``postgres``: PATH first, else the newest
    ``/usr/lib/postgresql/*/bin`` (Debian keeps the server binaries off PATH)."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: _version(Path(p).parents[1].name))
    return Path(candidates[-1]).parent if candidates else None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def install() -> Path:
    """The binaries' directory, installing the Debian package first when they are missing."""
    found = find_bin_dir()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PostgresError("PostgreSQL is not installed and cannot be installed here (needs root and apt-get): apt-get install postgresql")
    log("installing the Debian package postgresql (apt-get) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # The output goes to stderr: stdout carries nothing but the URL.
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]):
        if subprocess.run(command, env=env, stdout=sys.stderr).returncode != 0:
            raise PostgresError(f"{' '.join(command)} failed (see its output above)")
    found = find_bin_dir()
    if not found:
        raise PostgresError("apt-get installed postgresql but no pg_ctl was found under /usr/lib/postgresql/*/bin")
    return found


# --------------------------------------------------------------------------- running as the server's user


def _server_run(command: List[str], cwd: Path, capture: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs a PostgreSQL program, as the ``postgres`` user when this process is root.

    ``cwd``: the server user may not be able to enter the caller's working directory."""
    user: Optional[int] = None
    group: Optional[int] = None
    extra_groups: Optional[List[int]] = None
    env: Optional[Dict[str, str]] = None
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise PostgresError(f"running as root, but there is no '{SERVER_USER}' user to run PostgreSQL as (it refuses root)") from None
        user, group, extra_groups = account.pw_uid, account.pw_gid, []
        env = {**os.environ, "HOME": account.pw_dir, "USER": SERVER_USER, "LOGNAME": SERVER_USER}
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.run(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if capture else subprocess.DEVNULL,
        text=True,
        user=user,
        group=group,
        extra_groups=extra_groups,
        env=env,
    )


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVER_USER)
        os.chown(path, account.pw_uid, account.pw_gid)


def _run(bin_dir: Path, program: str, args: List[str], cwd: Path) -> None:
    """Runs a PostgreSQL program; on failure, raises with its output."""
    done = _server_run([str(bin_dir / program), *args], cwd)
    if done.returncode != 0:
        raise PostgresError(f"{program} {' '.join(args)} failed (exit {done.returncode}):\n{done.stdout}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- the cluster


def url(port: int, password: str) -> str:
    return f"postgresql://{USER}:{password}@127.0.0.1:{port}/{DATABASE}"


def _cluster(data_dir: Path) -> Path:
    return data_dir / "cluster"


def is_running(bin_dir: Path, data_dir: Path) -> bool:
    return _server_run([str(bin_dir / "pg_ctl"), "status", "-D", str(_cluster(data_dir))], data_dir, capture=False).returncode == 0


def start(data_dir: Path) -> str:
    """Starts (or finds running) the server of ``data_dir``; its URL."""
    bin_dir = install()
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    _give_to_server_user(data_dir)
    os.chmod(data_dir, 0o700)
    state_path = data_dir / STATE_FILE
    cluster = _cluster(data_dir)

    if state_path.exists() and (cluster / "PG_VERSION").exists():
        state = json.loads(state_path.read_text())
        if is_running(bin_dir, data_dir):
            log(f"already running on port {state['port']} ({data_dir})")
            return url(state["port"], state["password"])
    else:
        state = {"password": secrets.token_hex(12)}
        shutil.rmtree(cluster, ignore_errors=True)  # a half-made cluster from an interrupted run
        password_file = data_dir / "password"
        password_file.write_text(state["password"] + "\n")
        _give_to_server_user(password_file)
        log(f"initdb {cluster} ...")
        # C collation with UTF-8: the data has Chinese names, and no OS locale needs to exist.
        # Password (scram) on TCP, as a real destination has; trust on the socket in DIR only.
        _run(
            bin_dir,
            "initdb",
            ["-D", str(cluster), "-U", USER, f"--pwfile={password_file}", "-E", "UTF8", "--no-locale",
             "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"],
            data_dir,
        )  # fmt: skip
        password_file.unlink()

    # Another process may take the probed port before the server binds it: try a few.
    # No durability needed for throwaway data: fsync off makes the test's writes fast.
    for attempt in range(3):
        port = free_port()
        options = f"-h 127.0.0.1 -p {port} -k {shlex.quote(str(data_dir))} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            log_file = str(data_dir / "server.log")
            _run(bin_dir, "pg_ctl", ["start", "-D", str(cluster), "-l", log_file, "-w", "-t", "60", "-o", options], data_dir)
            break
        except PostgresError:
            if attempt == 2:
                log_tail = (data_dir / "server.log").read_text(errors="replace")[-2000:] if (data_dir / "server.log").exists() else ""
                raise PostgresError(f"PostgreSQL did not start; server.log ends:\n{log_tail}") from None
    state["port"] = port
    if not state.get("database_created"):
        _run(bin_dir, "createdb", ["-h", str(data_dir), "-p", str(port), "-U", USER, DATABASE], data_dir)
        state["database_created"] = True
    state_path.write_text(json.dumps(state))
    os.chmod(state_path, 0o600)
    log(f"running on 127.0.0.1:{port}, data in {cluster}")
    return url(port, state["password"])


def stop(data_dir: Path, keep: bool = False) -> None:
    """Stops the server of ``data_dir`` (if any) and deletes ``data_dir`` unless ``keep``."""
    data_dir = data_dir.resolve()
    bin_dir = find_bin_dir()
    if bin_dir and (_cluster(data_dir) / "postmaster.pid").exists():
        _run(bin_dir, "pg_ctl", ["stop", "-D", str(_cluster(data_dir)), "-m", "fast", "-w", "-t", "60"], data_dir)
        log(f"stopped ({data_dir})")
    if not keep:
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("command", choices=("install", "start", "stop"))
    parser.add_argument("data_dir", nargs="?", type=Path, help="the throwaway directory of the cluster (start, stop)")
    parser.add_argument("--keep", action="store_true", help="stop: keep the directory")
    args = parser.parse_args(argv)
    if args.command != "install" and args.data_dir is None:
        parser.error(f"{args.command} needs DATA_DIR")
    try:
        if args.command == "install":
            print(install())
        elif args.command == "start":
            print(start(args.data_dir), flush=True)
        else:
            stop(args.data_dir, keep=args.keep)
    except PostgresError as error:
        log(f"error: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
