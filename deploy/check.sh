#!/usr/bin/env bash
# Checks everything in deploy/ without touching the system: both configs validate, the unit
# verifies and rates an exposure of 2.0 or lower, nginx parses the UDP balancer, and the Debian
# package builds and passes lintian without errors.
#   bash deploy/check.sh BUILD_DIR      (coap-gateway and onep-sim built in BUILD_DIR)
# Needs: systemd (systemd-analyze), nginx + libnginx-mod-stream, dpkg-dev, file, lintian
# (scripts/install-deps.sh installs them). Prints "N passed, N failed" last; exit 1 on a failure.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: deploy/check.sh BUILD_DIR}" && pwd)
gateway=$build/bin/coap-gateway
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
check() {  # check NAME COMMAND...: runs COMMAND, output in $work/NAME.log
  local name=$1
  shift
  if "$@" >"$work/$name.log" 2>&1; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    sed 's/^/     /' "$work/$name.log"
  fi
}

# The production config and the one inside the Kubernetes ConfigMap.
check config-host "$gateway" --check-config --config "$root/deploy/gateway.yaml"
awk '/^  gateway.yaml: \|/ { on = 1; next } on && /^[^ ]/ { on = 0 } on { sub(/^    /, ""); print }' \
  "$root/deploy/k8s/configmap.yaml" >"$work/k8s-gateway.yaml"
check config-k8s "$gateway" --check-config --config "$work/k8s-gateway.yaml"

# systemd: the exposure rating (--threshold is in tenths) and a verify of the unit as packaged.
check unit-security systemd-analyze security --offline=true --threshold=20 \
  "$root/deploy/coap-gateway.service"

# nginx: the file as shipped, with its pid file and error log moved to the scratch directory.
sed -e "s#^pid .*#pid $work/nginx.pid;#" -e "s#^error_log .*#error_log $work/nginx-error.log;#" \
  "$root/deploy/nginx-udp.conf" >"$work/nginx-udp.conf"
check nginx-config nginx -t -q -c "$work/nginx-udp.conf"

# The package: build, lint, and verify its unit against its own binary.
rm -f "$build"/coap-gateway_*.deb
check deb-build bash -c "cd '$build' && cpack -G DEB"
deb=$(ls "$build"/coap-gateway_*.deb 2>/dev/null | head -n1)
if [ -z "$deb" ]; then
  # No package, nothing to lint or inspect: each of those checks fails, none is skipped.
  for name in deb-lintian deb-contents deb-conffiles unit-verify; do
    failed=$((failed + 1))
    echo "FAIL $name: no coap-gateway_*.deb in $build"
  done
else
  check deb-lintian lintian --fail-on error "$deb"
  mkdir -p "$work/root"
  dpkg-deb -x "$deb" "$work/root"
  check deb-contents test -x "$work/root/usr/bin/coap-gateway" -a -x "$work/root/usr/bin/onep-sim" \
    -a -f "$work/root/lib/systemd/system/coap-gateway.service" \
    -a -f "$work/root/etc/coap-gateway/gateway.yaml" \
    -a -f "$work/root/usr/share/doc/coap-gateway/copyright" \
    -a -f "$work/root/usr/share/doc/coap-gateway/changelog.Debian.gz"
  check deb-conffiles bash -c "dpkg-deb -I '$deb' conffiles | grep -qx /etc/coap-gateway/gateway.yaml"
  sed "s#/usr/bin/coap-gateway#$work/root/usr/bin/coap-gateway#g" \
    "$work/root/lib/systemd/system/coap-gateway.service" >"$work/coap-gateway.service"
  # verify exits 0 on unknown keys and bad values; any output at all is a finding.
  check unit-verify bash -c "out=\$(systemd-analyze verify '$work/coap-gateway.service' 2>&1); \
    echo \"\$out\"; [ -z \"\$out\" ]"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
