"""skaffold.yaml: builds the image the chart deploys, port-forwards the API, and the dev profile syncs
app/ into a pod that can take the files and restarts the service on change."""

from __future__ import annotations

import re
import sys

import yaml

from app.config import load_settings
from tests.chart.rendering import ROOT, app_container, app_deployment, render, run

SKAFFOLD = yaml.safe_load((ROOT / "skaffold.yaml").read_text())


def _release() -> dict:
    return SKAFFOLD["deploy"]["helm"]["releases"][0]


def _dev_profile() -> dict:
    return next(p for p in SKAFFOLD["profiles"] if p["name"] == "dev")


def test_api_version_and_image_wiring() -> None:
    assert re.fullmatch(r"skaffold/v4beta\d+", SKAFFOLD["apiVersion"])
    (artifact,) = SKAFFOLD["build"]["artifacts"]
    key = re.sub(r"[^A-Za-z0-9]", "_", artifact["image"])
    templates = _release()["setValueTemplates"]
    assert templates["image.repository"] == f"{{{{.IMAGE_REPO_{key}}}}}"
    assert templates["image.tag"] == f"{{{{.IMAGE_TAG_{key}}}}}"
    assert (ROOT / _release()["chartPath"] / "Chart.yaml").is_file()
    stages = re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "Dockerfile").read_text(), flags=re.M)
    assert artifact["docker"]["target"] in stages


def test_port_forward_reaches_the_service_the_chart_renders() -> None:
    docs = render(*[arg for f in _release()["valuesFiles"] for arg in ("--values", str(ROOT / f))])
    (forward,) = SKAFFOLD["portForward"]
    service = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == forward["resourceName"])
    assert forward["port"] in [p["port"] for p in service["spec"]["ports"]]


def test_dev_profile_syncs_python_into_a_writable_reloading_pod() -> None:
    profile = _dev_profile()
    assert profile["activation"] == [{"command": "dev"}]
    patches = {p["path"]: p["value"] for p in profile["patches"]}
    stages = re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "Dockerfile").read_text(), flags=re.M)
    assert patches["/build/artifacts/0/docker/target"] in stages
    assert patches["/build/artifacts/0/sync"] == {"manual": [{"src": "app/**/*.py", "dest": "."}]}
    values = [*_release()["valuesFiles"], patches["/deploy/helm/releases/0/valuesFiles/-"]]
    docs = render(*[arg for f in values for arg in ("--values", str(ROOT / f))])
    container = app_container(docs)
    assert container["securityContext"]["readOnlyRootFilesystem"] is False
    assert container["command"] + container["args"] == ["python", "-m", "app", "serve", "--reload"]
    assert "--reload" in run([sys.executable, "-m", "app", "serve", "--help"]).stdout
    env = {e["name"]: e.get("value") for e in container["env"]}
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "execution")["data"]
    assert load_settings(config, consumer_name="pod").log_level == "DEBUG"
    assert app_deployment(docs)["spec"]["replicas"] == 1 and env["PORT"] == "8002"
