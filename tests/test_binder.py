"""binder/: what repo2docker builds for a Binder launch, checked offline (its buildpack and build script)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
REPO2DOCKER = Path(sys.executable).with_name("repo2docker")
SUPPORTED_PYTHONS = {"3.10", "3.11", "3.12", "3.13"}


@pytest.fixture(scope="module")
def build_script() -> str:
    """The Dockerfile repo2docker generates for this repository (no Docker needed: --no-build)."""
    done = subprocess.run(
        [str(REPO2DOCKER), "--no-build", "--debug", "--user-name", "jovyan", "--user-id", "1000", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr


def test_binder_installs_redis_server_the_requirements_and_the_helpers():
    assert "redis-server" in (BINDER / "apt.txt").read_text().split()
    assert "-r ../requirements.txt" in (BINDER / "requirements.txt").read_text().splitlines()
    post_build = BINDER / "postBuild"
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable"
    text = post_build.read_text()
    assert "pip install" in text and "-e ." in text and "lab/overrides.json" in text
    assert "helpers.core.preflight" in text  # the build fails when something a notebook needs is missing
    subprocess.run(["bash", "-n", str(post_build)], check=True)


def test_the_python_version_is_one_the_suite_passes_on():
    version = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", version) and version.removeprefix("python-") in SUPPORTED_PYTHONS


def test_repo2docker_picks_binder_and_builds_in_order(build_script):
    """binder/ wins over the root Dockerfile, and the repository is in place before pip reads it."""
    assert "FROM docker.io/library/buildpack-deps" in build_script  # the Python buildpack, not our Dockerfile
    assert "quay.io/jupyter/minimal-notebook" not in build_script
    assert "python=3.11" in build_script or "python-3.11" in build_script
    steps = [
        "apt-get install --yes --no-install-recommends redis-server",
        "COPY --chown=1000:1000 src/ ${REPO_DIR}/",  # the whole repository: notebooks, helpers, requirements
        'pip install --no-cache-dir -r "binder/requirements.txt"',
        "./binder/postBuild",
    ]
    positions = [build_script.find(step) for step in steps]
    assert all(at >= 0 for at in positions), dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions), "repo2docker must copy the repository before installing from it"


def test_the_readme_badge_launches_notebook_00():
    readme = (ROOT / "README.md").read_text()
    badge = re.search(r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\((\S+)\)", readme)
    assert badge, "the README needs a Launch-on-Binder badge"
    assert badge.group(1).startswith("https://mybinder.org/v2/gh/")
    assert badge.group(1).endswith("?urlpath=lab/tree/notebooks/00_first_cache.ipynb")
