"""The ``source-usage`` command without its start-up: each run a fork of one process that has
already imported the connector.

Starting the command costs 1.5 s of CPU, nearly all of it importing the CDK, and the end-to-end
tests run it about 150 times. Here one server process per test process imports
``source_usage.run`` once; each run is a fork of it that takes the command's arguments, working
folder, environment and standard streams, calls the console script's function
(``source_usage.run:run``, what ``source-usage`` calls) and exits with its status. The run is a
process of its own, with its own pid, stdout and stderr, that a signal stops as it stops the
command; what it executes after the imports is the command's code.

What only the installed command shows (its script, its interpreter's start-up, the wheel and the
image) is tested on the real command: ``test_wheel_entrypoint.py``, ``test_image.py``,
``test_readme_commands.py``, the PyAirbyte tests, and ``Connector(forked=False)``.

    python -m integration_tests.forked_command SOCKET_PATH    # the server (started by ForkServer)
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
#: Each message: its length (4 bytes, big-endian), then that many bytes of JSON.
HEADER = struct.Struct(">I")
START_TIMEOUT_SECONDS = 120


def send_message(connection: socket.socket, content: Mapping[str, Any], fds: Sequence[int] = ()) -> None:
    payload = json.dumps(content).encode()
    socket.send_fds(connection, [HEADER.pack(len(payload)) + payload], list(fds))


def receive_message(connection: socket.socket, want_fds: int = 0) -> Tuple[Optional[Dict[str, Any]], List[int]]:
    """One message and the file descriptors sent with it; ``None`` when the peer closed first."""
    data, fds, _, _ = socket.recv_fds(connection, 1 << 16, want_fds)
    if not data:
        return None, list(fds)
    while len(data) < HEADER.size or len(data) < HEADER.size + HEADER.unpack_from(data)[0]:
        more = connection.recv(1 << 16)
        if not more:
            raise ConnectionError("the message ended early")
        data += more
    (length,) = HEADER.unpack_from(data)
    return json.loads(data[HEADER.size : HEADER.size + length]), list(fds)


# --------------------------------------------------------------------------- the server


def run_command(request: Mapping[str, Any], fds: Sequence[int]) -> int:
    """In the forked child: become the command ``source-usage ARGS`` and return its exit status."""
    from source_usage.run import run

    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = ["source-usage", *request["args"]]
    try:
        run()
        return 0
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - what the interpreter does with an uncaught error: its hook, then status 1
        sys.excepthook(*sys.exc_info())
        return 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass


def serve(socket_path: str) -> None:
    import source_usage.run  # noqa: F401 - the point of the server: every run starts with it imported

    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    waiting: Dict[int, socket.socket] = {}
    print("ready", flush=True)
    while os.getppid() == parent:  # the test process is gone: so is its server
        for key, _ in selector.select(timeout=1.0):
            if key.fileobj is listener:
                connection, _ = listener.accept()
                request, fds = receive_message(connection, want_fds=3)
                if request is None or len(fds) != 3:
                    connection.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    for fd in (listener.fileno(), wake_read, wake_write, *(c.fileno() for c in waiting.values())):
                        os.close(fd)
                    connection.close()
                    os._exit(run_command(request, fds))
                for fd in fds:
                    os.close(fd)
                send_message(connection, {"pid": pid})
                waiting[pid] = connection
            else:
                while True:
                    try:
                        if not os.read(wake_read, 512):
                            break
                    except BlockingIOError:
                        break
        reap(waiting)


def reap(waiting: Dict[int, socket.socket]) -> None:
    """Tell each finished run's client its exit status (negative: the signal that ended it)."""
    while waiting:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = waiting.pop(pid, None)
        if connection is not None:
            try:
                send_message(connection, {"returncode": os.waitstatus_to_exitcode(status)})
            except OSError:
                pass
            connection.close()


# --------------------------------------------------------------------------- the client


class ForkServer:
    """The server process of this test process, started on first use."""

    _instance: Optional[ForkServer] = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="source-usage-forks-")
        self.path = os.path.join(self.folder, "server.sock")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "integration_tests.forked_command", self.path], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline().strip()
        if ready != "ready":
            self.process.kill()
            raise RuntimeError(f"the fork server did not start (it said {ready!r}, exit {self.process.wait()})")

    @classmethod
    def shared(cls) -> ForkServer:
        with cls._lock:
            if cls._instance is None or cls._instance.process.poll() is not None:
                cls._instance = cls()
            return cls._instance

    def start(
        self, args: Sequence[str], cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None, stderr: Optional[int] = None
    ) -> ForkedProcess:
        """A run of ``source-usage ARGS``; ``stderr``: a file descriptor it writes its stderr to
        instead of a pipe (``ForkedProcess.stderr`` is then ``None``)."""
        return ForkedProcess(self.path, list(args), cwd or os.getcwd(), dict(os.environ if env is None else env), stderr)


class ForkedProcess:
    """One run of the command, with what the tests use of :class:`subprocess.Popen` (text mode)."""

    def __init__(self, server: str, args: List[str], cwd: str, env: Dict[str, str], stderr: Optional[int] = None) -> None:
        self.args = args
        self.returncode: Optional[int] = None
        self._texts: Dict[str, str] = {}
        self._readers: List[threading.Thread] = []
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe() if stderr is None else (None, os.dup(stderr))
        devnull = os.open(os.devnull, os.O_RDONLY)
        self._control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._control.connect(server)
            send_message(self._control, {"args": args, "cwd": cwd, "env": env}, [devnull, out_write, err_write])
        finally:
            for fd in (devnull, out_write, err_write):
                os.close(fd)
        self.stdout = open(out_read, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed by communicate
        self.stderr = None if err_read is None else open(err_read, encoding="utf-8", errors="replace")  # noqa: SIM115
        started, _ = receive_message(self._control)
        if started is None:
            raise RuntimeError("the fork server closed the connection before starting the command")
        self.pid: int = started["pid"]

    def poll(self) -> Optional[int]:
        return self.returncode if self.returncode is not None else self._finished(0.0)

    def wait(self, timeout: Optional[float] = None) -> int:
        code = self.returncode if self.returncode is not None else self._finished(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return code

    def _finished(self, timeout: Optional[float]) -> Optional[int]:
        self._control.settimeout(timeout)
        try:
            message, _ = receive_message(self._control)
        except (TimeoutError, BlockingIOError):
            return None
        finally:
            self._control.settimeout(None)
        self.returncode = -signal.SIGKILL if message is None else int(message["returncode"])
        self._control.close()
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def communicate(self, timeout: Optional[float] = None) -> Tuple[str, str]:
        """Everything the run writes from now on to stdout and stderr, once it has ended (after a
        timeout, call it again: what was read so far is kept)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._readers:
            streams = [("out", self.stdout), ("err", self.stderr)]
            self._readers = [
                threading.Thread(target=self._read_whole, args=(name, stream), daemon=True)
                for name, stream in streams
                if stream is not None
            ]
            for reader in self._readers:
                reader.start()
        for reader in self._readers:
            reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if reader.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return self._texts.get("out", ""), self._texts.get("err", "")

    def _read_whole(self, name: str, stream: Any) -> None:
        with stream:
            self._texts[name] = stream.read()


if __name__ == "__main__":
    serve(sys.argv[1])
