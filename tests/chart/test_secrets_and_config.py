"""The ConfigMap carries every non-secret setting the app knows; secrets stay in a Secret (or the user's own)."""

from __future__ import annotations

import base64

import yaml

from app.config import Settings, load_settings
from tests.chart.rendering import CHART, app_container, of_kind, one

# Set by the chart from the pod and Redis settings, or read from the Secret: never in the ConfigMap.
CHART_MANAGED = {"REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD", "CONSUMER_NAME", "HOST", "PORT"}
SECRET_SETTINGS = {"BINANCE_API_KEY", "BINANCE_API_SECRET", "ADMIN_TOKEN"}


def _values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def test_values_config_names_every_non_secret_setting_and_nothing_else() -> None:
    settings = {name.upper() for name in Settings.model_fields}
    assert CHART_MANAGED | SECRET_SETTINGS <= settings, "the chart sets a variable the app no longer reads"
    expected, listed = settings - CHART_MANAGED - SECRET_SETTINGS, set(_values()["config"])
    assert not expected - listed, (f"add {sorted(expected - listed)} with the app's defaults to `config:` in "
                                   "charts/execution/values.yaml, then run k8s/render.sh")
    assert not listed - expected, f"the app has no setting {sorted(listed - expected)}"


def test_configmap_matches_the_apps_own_defaults(defaults) -> None:
    """The chart documents the defaults; it must not change them by rendering (e.g. 1e+06 for 1000000)."""
    data = one(defaults, "ConfigMap", "rel-execution")["data"]
    assert data["EXECUTION_MODE"] == "PAPER" and data["STREAM_MAXLEN"] == "1000000"
    from_chart = load_settings(data, consumer_name="pod")
    app_defaults = load_settings({}, consumer_name="pod")
    for name in data:
        assert getattr(from_chart, name.lower()) == getattr(app_defaults, name.lower()), name


def test_chart_secret_holds_the_keys_and_the_app_reads_them_optionally(rendered) -> None:
    docs = rendered("everything")
    secret = one(docs, "Secret", "rel-execution")
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {"BINANCE_API_KEY": "test-key-not-real", "BINANCE_API_SECRET": "test-secret-not-real",
                       "ADMIN_TOKEN": "test-admin-token"}
    env = {e["name"]: e for e in app_container(docs)["env"]}
    for name in SECRET_SETTINGS:
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "rel-execution", "key": name, "optional": True}
    for doc in docs:
        if doc["kind"] != "Secret":
            assert "test-secret-not-real" not in str(doc), f"secret value leaked into {doc['kind']}"


def test_existing_secret_means_no_chart_secret(rendered) -> None:
    docs = rendered("external-redis")
    assert not [s for s in of_kind(docs, "Secret") if s["metadata"]["name"] == "rel-execution"]
    env = {e["name"]: e for e in app_container(docs)["env"]}
    assert env["BINANCE_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "trading-keys"
    annotations = docs[[d["kind"] for d in docs].index("Deployment")]["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/secret" not in annotations
