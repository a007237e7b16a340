"""GitHub workflows: schema-valid, actions pinned to commits, least privilege, and the e2e job wired to
files that exist in this repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.chart.rendering import ROOT, run, tool

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yaml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def _load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=yaml.BaseLoader)  # BaseLoader: keeps the `on` key a string


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_there_are_ci_and_release_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yaml", "release.yaml"}


def test_workflows_match_the_github_schema() -> None:
    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)])
    assert "ok" in result.stdout


def test_schema_check_would_catch_a_broken_workflow(tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    proc = run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken)], check=False)
    assert proc.returncode != 0


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_and_permissions_minimal(path: Path) -> None:
    workflow = _load(path)
    assert workflow["permissions"] == {"contents": "read"}
    for step in _steps(workflow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{step['uses']} is not pinned to a commit"
    for name, job in workflow["jobs"].items():
        extra = {k: v for k, v in job.get("permissions", {}).items() if v != "read"}
        assert set(extra) <= {"packages"}, f"{name} asks for {extra}"
        assert "timeout-minutes" in job


def test_e2e_job_builds_loads_installs_tests_and_dumps_on_failure() -> None:
    job = _load(ROOT / ".github" / "workflows" / "ci.yaml")["jobs"]["e2e"]
    steps = job["steps"]
    kind = next(s for s in steps if s.get("uses", "").startswith("helm/kind-action@"))
    assert (ROOT / kind["with"]["config"]).is_file()
    script = "\n".join(s.get("run", "") for s in steps)
    for needle in ("docker build", "kind load docker-image", "monitoring.coreos.com_servicemonitors.yaml",
                   "helm install", "--wait", "helm test", "python -m app send", "--expect-status"):
        assert needle in script, needle
    values = re.search(r"--values (\S+)", script).group(1)
    assert (ROOT / values).is_file()
    image = yaml.safe_load((ROOT / values).read_text())["image"]
    assert f"{image['repository']}:{image['tag']}" in script
    dump = next(s for s in steps if s.get("if") == "failure()")
    assert "logs" in dump["run"] and "events" in dump["run"]


def test_release_pushes_image_and_chart_to_ghcr() -> None:
    workflow = _load(ROOT / ".github" / "workflows" / "release.yaml")
    assert workflow["on"]["push"]["tags"] == ["v*"]
    uses = [s.get("uses", "").split("@")[0] for s in _steps(workflow)]
    assert "docker/build-push-action" in uses and "docker/login-action" in uses
    script = "\n".join(s.get("run", "") for s in _steps(workflow))
    assert "helm package" in script and "helm push" in script and "oci://ghcr.io/" in script
    assert "ghcr.io/example-org/execution-service" in (ROOT / "charts" / "execution" / "values.yaml").read_text(), \
        "the release job rewrites this default repository; keep them in step"


def test_tests_run_with_a_redis_service_container() -> None:
    job = _load(ROOT / ".github" / "workflows" / "ci.yaml")["jobs"]["test"]
    assert job["services"]["redis"]["image"].startswith("redis:")
    smoke = next(s for s in job["steps"] if "REDIS_URL" in s.get("env", {}))
    assert smoke["env"]["REDIS_URL"].startswith("redis://redis:6379")
    assert "python -m app send" in smoke["run"] and "--expect-status FILLED" in smoke["run"]
