"""Where the app finds Redis: the bundled StatefulSet, or a URL the user keeps in a Secret."""

from __future__ import annotations

import base64

from tests.chart.rendering import RELEASE, app_container, helm_template, helm_test_pod, of_kind, one, render


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container["env"]}


def test_bundled_redis_is_a_persistent_password_protected_statefulset(defaults) -> None:
    sts = one(defaults, "StatefulSet")
    name = sts["metadata"]["name"]
    service = one(defaults, "Service", name)
    assert service["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == name
    assert service["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data" and claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    conf = one(defaults, "ConfigMap", name)["data"]["redis.conf"]
    for line in ("appendonly yes", "appendfsync always", "dir /data", "maxmemory-policy noeviction",
                 "include /tmp/auth.conf"):
        assert line in conf.splitlines()
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert _env(container)["REDISCLI_AUTH"]["valueFrom"]["secretKeyRef"] == {"name": name, "key": "redis-password"}
    password = base64.b64decode(one(defaults, "Secret", name)["data"]["redis-password"]).decode()
    assert len(password) == 32 and password.isalnum()


def test_app_and_helm_test_use_the_same_redis(defaults) -> None:
    app = _env(app_container(defaults))
    assert app["REDIS_HOST"]["value"] == f"{RELEASE}-execution-redis"
    assert app["REDIS_PORT"]["value"] == "6379"
    assert app["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == f"{RELEASE}-execution-redis"
    assert "REDIS_URL" not in app
    pod_env = _env(helm_test_pod(defaults)["spec"]["containers"][0])
    for name in ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB"):
        assert pod_env[name] == app[name]


def test_external_redis_from_an_existing_secret(rendered) -> None:
    docs = rendered("external-redis")
    assert not of_kind(docs, "StatefulSet")
    env = _env(app_container(docs))
    assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "trading-redis", "key": "url"}
    assert not {"REDIS_HOST", "REDIS_PASSWORD"} & set(env)
    assert not [s for s in of_kind(docs, "Secret") if "redis" in s["metadata"]["name"]]


def test_external_redis_url_is_kept_in_a_secret_not_in_the_configmap() -> None:
    url = "rediss://:s3cret@redis.example.internal:6380/2"
    docs = render("--set", "redis.enabled=false", "--set", f"externalRedis.url={url}")
    secret = one(docs, "Secret", f"{RELEASE}-execution-external-redis")
    assert base64.b64decode(secret["data"]["redis-url"]).decode() == url
    assert "s3cret" not in str(one(docs, "ConfigMap")) and "s3cret" not in str(app_container(docs))


def test_redis_misconfigurations_are_refused() -> None:
    no_url = helm_template("--set", "redis.enabled=false", check=False)
    assert no_url.returncode != 0 and "externalRedis.url" in no_url.stderr
    both = helm_template("--set", "externalRedis.url=redis://x:6379/0", check=False)
    assert both.returncode != 0 and "redis.enabled=false" in both.stderr


def test_existing_redis_secret_is_used_and_not_created() -> None:
    docs = render("--set", "redis.auth.existingSecret=mine", "--set", "redis.auth.existingSecretKey=pw")
    assert not [s for s in of_kind(docs, "Secret") if s["metadata"]["name"].endswith("-redis")]
    assert _env(app_container(docs))["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "mine", "key": "pw"}


def test_aof_fsync_policy_is_a_choice_among_redis_policies() -> None:
    docs = render("--set", "redis.appendfsync=everysec")
    name = one(docs, "StatefulSet")["metadata"]["name"]
    assert "appendfsync everysec" in one(docs, "ConfigMap", name)["data"]["redis.conf"].splitlines()
    refused = helm_template("--set", "redis.appendfsync=sometimes", check=False)
    assert refused.returncode != 0 and "appendfsync" in refused.stderr
