"""`make lab` serves JupyterLab on notebooks/, with notebook 00, the widgets extension and no news pop-up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEWS_PLUGIN = "@jupyterlab/apputils-extension:notification"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def test_make_lab_serves_the_notebooks(tmp_path):
    port, token = free_port(), "test-token"
    # --allow-root: CI runs as root, which JupyterLab refuses by default.
    args = f"--no-browser --allow-root --port={port} --IdentityProvider.token={token} --ServerApp.ip=127.0.0.1"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path)  # no clash with a learner's own servers
    lab = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert lab.poll() is None, lab.stderr.read().decode(errors="replace")[-2000:]
            try:
                status, _ = get(f"{base}/api/status?token={token}")
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not start within 60 s"
                time.sleep(0.25)
        assert status == 200
        status, page = get(f"{base}/lab?token={token}")
        assert status == 200 and b"JupyterLab" in page
        status, body = get(f"{base}/api/contents/00_first_cache.ipynb?content=0&token={token}")
        assert status == 200 and json.loads(body)["type"] == "notebook"  # served from notebooks/
        status, body = get(f"{base}/lab/api/extensions?token={token}")
        names = {extension["name"] for extension in json.loads(body)}
        assert "jupyter-widgets-jupyterlab-manager" in names, f"ipywidgets' JupyterLab extension missing: {names}"
        status, body = get(f"{base}/lab/api/settings/{NEWS_PLUGIN}?token={token}")
        defaults = json.loads(body)["schema"]["properties"]
        assert defaults["fetchNews"]["default"] == "false", "the 'Jupyter news?' pop-up would ask at first start"
    finally:
        stop_group(lab)


def stop_group(process: subprocess.Popen) -> None:
    """Stop make and the JupyterLab it started (one process group), whatever state they are in."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    process.wait()
    process.stderr.close()


def test_the_settings_override_silences_the_news_pop_up():
    """lab/overrides.json is what make lab, the Dockerfile and binder/postBuild install."""
    overrides = json.loads((ROOT / "lab" / "overrides.json").read_text())
    assert overrides[NEWS_PLUGIN]["fetchNews"] == "false"
    assert "lab/overrides.json" in (ROOT / "Dockerfile").read_text()
    assert "lab/overrides.json" in (ROOT / "binder" / "postBuild").read_text()
