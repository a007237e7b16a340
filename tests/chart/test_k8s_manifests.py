"""k8s/: the plain manifests stay in sync with the chart, build with kustomize and are schema-valid; the kind
config used by CI and skaffold is well-formed."""

from __future__ import annotations

import yaml

from tests.chart.rendering import ROOT, run, tool
from tests.chart.test_manifest_schemas import validate

K8S = ROOT / "k8s"


def test_plain_manifests_are_a_fresh_render_of_the_chart(tmp_path) -> None:
    fresh = tmp_path / "execution.yaml"
    run(["bash", str(K8S / "render.sh"), str(fresh)])
    committed = (K8S / "manifests" / "execution.yaml").read_text()
    assert fresh.read_text() == committed, "k8s/manifests/execution.yaml is stale: run k8s/render.sh"


def test_plain_manifests_carry_no_secret_values() -> None:
    docs = [d for d in yaml.safe_load_all((K8S / "manifests" / "execution.yaml").read_text()) if d]
    assert not [d for d in docs if d["kind"] == "Secret"], "secrets are created by the user, not committed"
    assert not [d for d in docs if d["kind"] == "Pod"], "helm test pods are not plain manifests"


def test_kustomize_builds_a_valid_namespaced_set() -> None:
    built = run([tool("kubectl"), "kustomize", str(K8S / "manifests")]).stdout
    docs = [d for d in yaml.safe_load_all(built) if d]
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "Deployment", "StatefulSet", "Service", "ConfigMap"} <= kinds
    for doc in docs:
        validate(doc)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "execution"


def test_kind_cluster_config() -> None:
    config = yaml.safe_load((K8S / "kind" / "cluster.yaml").read_text())
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4" and config["kind"] == "Cluster"
    roles = [node["role"] for node in config["nodes"]]
    assert roles.count("control-plane") == 1 and roles.count("worker") >= 2, "room for the topology spread"
