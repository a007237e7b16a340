"""Every rendered manifest, for every values file, against the Kubernetes OpenAPI schemas (strict: unknown
fields fail) and the CRDs' models for ServiceMonitor, PrometheusRule, ScaledObject and TriggerAuthentication."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from cloudcoil.models.keda import v1alpha1 as keda
from cloudcoil.models.prometheus_operator import v1 as monitoring
from pydantic import BaseModel

from tests.chart.rendering import VALUES_CASES

KUBERNETES_VERSION = "1.35.0"
CRD_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): monitoring.ServiceMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): monitoring.PrometheusRule,
    ("keda.sh/v1alpha1", "ScaledObject"): keda.ScaledObject,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): keda.TriggerAuthentication,
}


def _prune(value: Any) -> Any:
    """Drop empty containers and None, which a model dump and a manifest may spell differently."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def validate_crd(doc: dict[str, Any]) -> None:
    """Validate against the CRD's generated model; a field the model does not know is an error too."""
    model = CRD_MODELS[(doc["apiVersion"], doc["kind"])]
    parsed = model.model_validate(doc)
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert _prune(dumped) == _prune(doc), f"{doc['kind']} has fields its CRD does not define"


def validate(doc: dict[str, Any]) -> None:
    if (doc["apiVersion"], doc["kind"]) in CRD_MODELS:
        validate_crd(doc)
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("case", VALUES_CASES)
def test_every_manifest_is_valid(rendered, case: str) -> None:
    docs = rendered(case)
    assert docs, "nothing rendered"
    for doc in docs:
        validate(doc)


def test_everything_renders_every_crd_kind(rendered) -> None:
    kinds = {(d["apiVersion"], d["kind"]) for d in rendered("everything")}
    assert set(CRD_MODELS) <= kinds


def test_strict_validation_rejects_an_unknown_field(defaults) -> None:
    deployment = next(d for d in defaults if d["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_crd_validation_rejects_unknown_fields_and_wrong_types(rendered) -> None:
    scaled = next(d for d in rendered("everything") if d["kind"] == "ScaledObject")
    with pytest.raises(AssertionError):
        validate({**scaled, "spec": {**scaled["spec"], "minReplicas": 1}})
    with pytest.raises(ValueError):
        validate({**scaled, "spec": {**scaled["spec"], "maxReplicaCount": "many"}})
    monitor = next(d for d in rendered("everything") if d["kind"] == "ServiceMonitor")
    endpoint = {**monitor["spec"]["endpoints"][0], "scrapeEvery": "30s"}
    with pytest.raises(AssertionError):
        validate({**monitor, "spec": {**monitor["spec"], "endpoints": [endpoint]}})
