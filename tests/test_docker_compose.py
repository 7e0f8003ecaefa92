"""docker-compose.yml, validated offline: the compose-spec schema, then what the workshop relies on."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_valid_against_the_compose_spec_schema():
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_can_fail(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  redis:\n    image: redis:7.4.2\n    ports: 6379\n    healthcheck: yes\n")
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run([str(checker), "--builtin-schema", "vendor.compose-spec", str(broken)], capture_output=True)
    assert done.returncode != 0


def test_redis_is_pinned_healthchecked_and_local_only(compose):
    redis = compose["services"]["redis"]
    image, tag = redis["image"].split(":")
    assert image == "redis" and re.match(r"^\d+\.\d+\.\d+(-alpine)?$", tag), "a pinned Redis image"
    version = tag.removesuffix("-alpine")
    readme = (ROOT / "README.md").read_text()
    assert f"| Redis {version} |" in readme, f"redis:{tag} is not a server the README says is tested"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert all(str(p).startswith("127.0.0.1:") for p in redis["ports"])


def test_jupyter_uses_redis_with_a_token_on_loopback(compose):
    jupyter = compose["services"]["jupyter"]
    assert jupyter["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    token = jupyter["environment"]["JUPYTER_TOKEN"]
    assert token.startswith("${JUPYTER_TOKEN") and not token.endswith(":-}"), "a token, settable from .env"
    assert all(str(p).startswith("127.0.0.1:") for p in jupyter["ports"])
    assert jupyter["depends_on"]["redis"]["condition"] == "service_healthy"
    assert any(v.startswith("./:") for v in jupyter["volumes"]), "the repository is mounted"
    assert "--ServerApp.token=''" not in " ".join(jupyter.get("command", [])), "the token is never disabled"


def test_dockerfile_builds_from_a_dated_image_with_the_requirements():
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.MULTILINE).group(1)
    assert re.match(r"^quay\.io/jupyter/[a-z-]+:\d{4}-\d{2}-\d{2}$", base), f"{base}: use a dated quay.io image"
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile
    assert "redis-server" in dockerfile, "notebook 04 needs a redis-server binary for its sandbox"


def test_env_example_documents_every_variable(compose):
    text = COMPOSE.read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    documented = {line.split("=")[0] for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line}
    assert used <= documented, f"undocumented in .env.example: {used - documented}"
