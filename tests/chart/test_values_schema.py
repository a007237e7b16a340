"""values.schema.json: helm refuses wrong types, unknown keys and settings that belong elsewhere."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.chart.rendering import CHART, VALUES_CASES, VALUES_DIR, helm_template, run, tool

REJECTED = [
    (("--set", "replicaCount=two"), "replicaCount"),
    (("--set", "surprise=1"), "surprise"),
    (("--set", "image.pullPolicy=Sometimes"), "pullPolicy"),
    (("--set", "config.EXECUTION_MODE=YOLO"), "EXECUTION_MODE"),
    (("--set", "config.REDIS_URL=redis://elsewhere:6379/0"), "REDIS_URL"),
    (("--set", "config.BINANCE_API_SECRET=oops"), "BINANCE_API_SECRET"),
    (("--set", "config.lower_case=1"), "lower_case"),
    (("--set", "redis.persistence.size=lots"), "size"),
    (("--set", "externalRedis.url=http://not-redis"), "url"),
    (("--set", "image.digest=latest"), "digest"),
    (("--set", "keda.lagCount=-1"), "lagCount"),
    (("--set-json", 'serviceMonitor={"enabled":true,"labels":{}}'), "labels"),
]


@pytest.mark.parametrize(("args", "mentioned"), REJECTED, ids=[m for _, m in REJECTED])
def test_helm_rejects_bad_values(args: tuple[str, ...], mentioned: str) -> None:
    proc = helm_template(*args, check=False)
    assert proc.returncode != 0, f"{args} was accepted"
    assert "schema" in proc.stderr and mentioned in proc.stderr


def test_live_mode_needs_confirmation() -> None:
    proc = helm_template("--set", "config.EXECUTION_MODE=LIVE", check=False)
    assert proc.returncode != 0 and "LIVE_TRADING_CONFIRMED" in proc.stderr
    helm_template("--set", "config.EXECUTION_MODE=LIVE", "--set", "config.LIVE_TRADING_CONFIRMED=true")


@pytest.mark.parametrize("case", [c for c in VALUES_CASES if c != "defaults"])
def test_every_values_file_is_valid_against_the_schema(case: str) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(defaults, schema)
    overrides = yaml.safe_load((VALUES_DIR / f"{case}.yaml").read_text())
    for key in overrides:
        assert key in schema["properties"], f"{case}.yaml sets unknown top-level key {key}"


@pytest.mark.parametrize("case", VALUES_CASES)
def test_helm_lint_strict(case: str) -> None:
    args = [] if case == "defaults" else ["--values", str(VALUES_DIR / f"{case}.yaml")]
    result = run([tool("helm"), "lint", "--strict", str(CHART), *args])
    assert "0 chart(s) failed" in result.stdout
