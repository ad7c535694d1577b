"""A node runs only the areas installed on it: a venv with the kernel plus the identity and
object-storage distributions (and their frontends and drivers) and nothing else runs an
object-storage-only cloud that python-swiftclient uses as a Swift cluster.

The venv is built once per run from the tree (``pip install -e``, dependencies from the same
constraints as the README's install); the swift client is the test environment's own, unmodified.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cumulo.testing.cloud import CumuloCloud

ROOT = Path(__file__).resolve().parents[2]

#: What an object-storage node installs: the kernel, the two areas, their frontends and drivers.
DISTRIBUTIONS = ("core", "plugins/cumulo-service-identity", "plugins/cumulo-service-object",
                 "plugins/cumulo-api-identity", "plugins/cumulo-api-object", "plugins/cumulo-auth-sql",
                 "plugins/cumulo-token-fernet", "plugins/cumulo-object-dir")


@pytest.fixture(scope="module")
def node_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    missing = [d for d in DISTRIBUTIONS if not (ROOT / d / "pyproject.toml").exists()]
    assert not missing, f"distributions missing from the tree: {missing}"
    venv = tmp_path_factory.mktemp("object-node") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    args = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "-c", str(ROOT / "constraints.txt")]
    for dist in DISTRIBUTIONS:
        args += ["-e", str(ROOT / dist)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return python


@pytest.fixture(scope="module")
def cloud(node_python: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    c = CumuloCloud(tmp_path_factory.mktemp("object-node-cloud"), python=node_python, config={
        "api": {"frontends": "identity,object-store"},
        "object": {"backend": "dir"},
        "auth_sql": {"password_hash_rounds": 4}, "identity": {"password_hash_rounds": 4}})
    c.start()
    yield c
    c.stop()


def node(python: str, code: str) -> str:
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_the_node_has_only_its_areas(node_python: str) -> None:
    areas = json.loads(node(node_python, "import json; from cumulo import registry; "
                                          "print(json.dumps(registry.names('service')))"))
    assert areas == ["identity", "object"]
    absent = node(node_python, (
        "from cumulo.services import ServiceHub, AreaNotInstalled\n"
        "try:\n    ServiceHub().compute\nexcept AreaNotInstalled as err:\n    print(err)\n"))
    assert "No compute service is installed" in absent and "identity, object" in absent
    for package in ("cumulo_service_compute", "cumulo_service_network", "cumulo_api_compute"):
        proc = subprocess.run([node_python, "-c", f"import {package}"], capture_output=True, text=True)
        assert proc.returncode != 0, f"{package} is importable on the object node"


def test_swiftclient_against_the_object_node(cloud: CumuloCloud, tmp_path: Path) -> None:
    with open(cloud.clouds_yaml) as f:
        auth = yaml.safe_load(f)["clouds"]["cumulo"]["auth"]
    env = {**cloud.env, "OS_AUTH_URL": auth["auth_url"], "OS_USERNAME": auth["username"],
           "OS_PASSWORD": auth["password"], "OS_PROJECT_NAME": auth["project_name"],
           "OS_USER_DOMAIN_NAME": auth.get("user_domain_name", "Default"),
           "OS_PROJECT_DOMAIN_NAME": auth.get("project_domain_name", "Default"), "OS_IDENTITY_API_VERSION": "3"}
    swift = os.path.join(os.path.dirname(sys.executable), "swift")
    container = f"node-{uuid.uuid4().hex[:8]}"
    payload = os.urandom(300_000)
    (tmp_path / "blob.bin").write_bytes(payload)

    def run(*args: str) -> str:
        proc = subprocess.run([swift, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert proc.returncode == 0, f"swift {' '.join(args)}: {proc.stderr[-2000:]}"
        return proc.stdout

    run("upload", container, "blob.bin")
    assert run("list", container).split() == ["blob.bin"]
    run("download", container, "blob.bin", "-o", "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == payload
    stat = run("stat")
    assert "Containers: 1" in stat and "Objects: 1" in stat
    # The catalog of this node lists identity and object-store only.
    catalog = cloud.openstack("catalog", "list")
    assert sorted(entry["Type"] for entry in catalog) == ["identity", "object-store"]
