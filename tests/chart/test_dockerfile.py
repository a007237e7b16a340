"""The Dockerfile: hadolint-clean, non-root, exec-form entrypoint, OCI labels, and what the chart expects of it."""

from __future__ import annotations

import json
import re

from tests.chart.rendering import ROOT, app_container, run, tool

DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def _final_stage() -> list[tuple[str, str]]:
    """Instructions that apply to the default build target: the last stage and the stages it derives from."""
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for op, arg in _instructions():
        if op == "FROM":
            parts = arg.split()
            parent = stages.get(parts[0], [])
            current = list(parent)
            stages[parts[-1] if len(parts) == 3 else f"#{len(stages)}"] = current
        current.append((op, arg))
    return current


def test_hadolint_is_clean() -> None:
    result = run([tool("hadolint"), "--failure-threshold", "info", str(DOCKERFILE)], check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_an_argument_defaulting_to_python_slim() -> None:
    args = [arg for op, arg in _instructions() if op == "ARG" and arg.startswith("BASE_IMAGE")]
    assert args == ["BASE_IMAGE=python:3.12-slim"]
    froms = [arg.split()[0] for op, arg in _instructions() if op == "FROM"]
    assert froms[0] == "${BASE_IMAGE}" and len(froms) >= 2, "multi-stage from the BASE_IMAGE argument"


def test_final_image_runs_as_a_numeric_non_root_user_with_exec_form_entrypoint() -> None:
    final = _final_stage()
    user = [arg for op, arg in final if op == "USER"][-1]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    entrypoint = json.loads([arg for op, arg in final if op == "ENTRYPOINT"][-1])
    cmd = json.loads([arg for op, arg in final if op == "CMD"][-1])
    assert entrypoint == ["python", "-m", "app"] and cmd == ["serve"]
    labels = " ".join(arg for op, arg in final if op == "LABEL")
    for key in ("title", "description", "version", "revision", "created", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_chart_runs_the_images_command_as_the_images_user(defaults) -> None:
    container = app_container(defaults)
    assert container["command"] + container["args"] == ["python", "-m", "app", "serve"]
    user = [arg for op, arg in _final_stage() if op == "USER"][-1]
    pod_user = defaults[[d["kind"] for d in defaults].index("Deployment")]["spec"]["template"]["spec"][
        "securityContext"]["runAsUser"]
    assert user.split(":")[0] == str(pod_user)


def test_dockerignore_keeps_the_context_to_what_the_image_needs() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0] == "*", "ignore everything, then allow what the build copies"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for op, arg in _instructions():
        if op == "COPY" and "--from" not in arg:
            copied |= {src.rstrip("/").removeprefix("./") for src in arg.split()[:-1]}
    assert copied == allowed
