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
