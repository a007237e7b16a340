"""What a container's environment would be in its pod: envFrom and env resolved against the rendered
ConfigMaps and Secrets, the downward API answered with a given pod name. Pure: no processes, no I/O."""

from __future__ import annotations

import base64
from typing import Any

Docs = list[dict[str, Any]]


def _maps(docs: Docs) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    configmaps = {d["metadata"]["name"]: dict(d.get("data") or {}) for d in docs if d["kind"] == "ConfigMap"}
    secrets = {}
    for doc in docs:
        if doc["kind"] == "Secret":
            data = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
            secrets[doc["metadata"]["name"]] = {**data, **(doc.get("stringData") or {})}
    return configmaps, secrets


def _lookup(source: dict[str, dict[str, str]], ref: dict[str, Any], what: str) -> str | None:
    value = source.get(ref["name"], {}).get(ref["key"])
    if value is None and not ref.get("optional", False):
        raise LookupError(f"{what} {ref['name']}/{ref['key']} is not rendered by the chart")
    return value


def resolve_env(container: dict[str, Any], docs: Docs, pod_name: str, namespace: str) -> dict[str, str]:
    configmaps, secrets = _maps(docs)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            ref, pool, what = source["configMapRef"], configmaps, "ConfigMap"
        else:
            ref, pool, what = source["secretRef"], secrets, "Secret"
        if ref["name"] not in pool and not ref.get("optional", False):
            raise LookupError(f"{what} {ref['name']} is not rendered by the chart")
        env.update({source.get("prefix", "") + k: v for k, v in pool.get(ref["name"], {}).items()})
    fields = {"metadata.name": pod_name, "metadata.namespace": namespace}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
            continue
        source = entry["valueFrom"]
        if "fieldRef" in source:
            value: str | None = fields[source["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in source:
            value = _lookup(secrets, source["secretKeyRef"], "Secret")
        else:
            value = _lookup(configmaps, source["configMapKeyRef"], "ConfigMap")
        if value is not None:
            env[entry["name"]] = value
    return env


def port_number(container: dict[str, Any], port: int | str) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p.get("name") == port)
