"""Render the chart with the pinned helm and look things up in the result.

Tools come from the project's own set-up (.ci/install-tools.sh into .tools/bin, Python tools from the
venv). A missing tool is a failure with the command that installs it, never a skip.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "execution"
VALUES_DIR = Path(__file__).resolve().parent / "values"
RELEASE = "rel"
NAMESPACE = "trading"
# The values files the suite renders: the defaults plus one file per deployment shape.
VALUES_CASES = ("defaults", "external-redis", "everything", "minimal")


def tool(name: str) -> str:
    """Path of a command-line tool: .tools/bin first, then the venv, then PATH; fail loudly if absent."""
    for candidate in (ROOT / ".tools" / "bin" / name, Path(sys.executable).parent / name):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise AssertionError(f"{name} is not installed: run `bash .ci/install-tools.sh` (or `make install tools`)")


def run(args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def values_args(case: str) -> list[str]:
    return [] if case == "defaults" else ["--values", str(VALUES_DIR / f"{case}.yaml")]


def helm_template(*extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([tool("helm"), "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *extra], check=check)


def render(*extra: str) -> list[dict[str, Any]]:
    """Every manifest `helm template` prints (helm test hooks included), as dicts."""
    return [doc for doc in yaml.safe_load_all(helm_template(*extra).stdout) if doc]


def render_case(case: str, *extra: str) -> list[dict[str, Any]]:
    return render(*values_args(case), *extra)


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc.get("kind") == kind]


def one(docs: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in of_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def app_deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment")


def app_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = app_deployment(docs)["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "execution")


def helm_test_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    pods = [p for p in of_kind(docs, "Pod") if p["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
    assert len(pods) == 1, "expected exactly one helm test pod"
    return pods[0]


def env_names(container: dict[str, Any]) -> list[str]:
    return [entry["name"] for entry in container.get("env", [])]
