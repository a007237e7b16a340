"""The app Deployment: probes, drain budget, hardening, rollout and scaling behaviour."""

from __future__ import annotations

from tests.chart.rendering import app_container, app_deployment, helm_template, one, render


def test_probes_point_at_the_named_http_port(defaults) -> None:
    container = app_container(defaults)
    assert container["ports"] == [{"name": "http", "containerPort": 8002, "protocol": "TCP"}]
    assert container["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    env = {e["name"]: e for e in container["env"]}
    assert env["PORT"]["value"] == "8002"
    assert env["CONSUMER_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_grace_period_covers_pre_stop_and_drain() -> None:
    for drain, sleep in ((20, 5), (45.5, 0), (90, 10)):
        docs = render("--set", f"config.DRAIN_TIMEOUT_S={drain}", "--set", f"preStopSleepSeconds={sleep}")
        pod = app_deployment(docs)["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] > drain + sleep
        lifecycle = app_container(docs).get("lifecycle")
        if sleep:
            assert lifecycle == {"preStop": {"exec": {"command": ["sleep", str(sleep)]}}}
        else:
            assert lifecycle is None


def test_pod_is_hardened(defaults) -> None:
    pod = app_deployment(defaults)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = app_container(defaults)
    ctx = container["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    service_account = one(defaults, "ServiceAccount")
    assert service_account["automountServiceAccountToken"] is False


def test_rollout_never_drops_below_desired_and_spreads(defaults) -> None:
    spec = app_deployment(defaults)["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    spread = spec["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    assert all(c["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"] for c in spread)
    assert one(defaults, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]


def test_config_or_secret_change_rolls_the_pods(defaults) -> None:
    def annotations(*args: str) -> dict[str, str]:
        return app_deployment(render(*args))["spec"]["template"]["metadata"]["annotations"]

    base = annotations("--set", "redis.auth.password=p")
    assert annotations("--set", "redis.auth.password=p") == base
    assert annotations("--set", "redis.auth.password=p", "--set", "config.MAX_LEVERAGE=5")["checksum/config"] \
        != base["checksum/config"]
    assert annotations("--set", "redis.auth.password=p", "--set", "secrets.adminToken=t")["checksum/secret"] \
        != base["checksum/secret"]
    assert annotations("--set", "redis.auth.password=q")["checksum/redis"] != base["checksum/redis"]


def test_autoscalers_own_the_replica_count(rendered) -> None:
    minimal = rendered("minimal")
    assert "replicas" not in app_deployment(minimal)["spec"]
    hpa = one(minimal, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == app_deployment(minimal)["metadata"]["name"]
    everything = rendered("everything")
    assert "replicas" not in app_deployment(everything)["spec"]
    assert not [d for d in everything if d["kind"] == "HorizontalPodAutoscaler"]


def test_hpa_and_keda_together_are_refused() -> None:
    proc = helm_template("--set", "autoscaling.enabled=true", "--set", "keda.enabled=true", check=False)
    assert proc.returncode != 0
    assert "mutually exclusive" in proc.stderr


def test_image_by_tag_or_digest(defaults, rendered) -> None:
    assert app_container(defaults)["image"] == "ghcr.io/example-org/execution-service:0.1.0"
    assert app_container(rendered("everything"))["image"].startswith("ghcr.io/example-org/execution-service@sha256:")
