#!/usr/bin/env bash
# Installs what is needed, builds, and runs the gateway. Without arguments it runs the embedded
# demo (127.0.0.1:5683 and [::1]:5683 in front of a simulated One Platform); any arguments are
# passed to coap-gateway instead, e.g. `scripts/run.sh --config /etc/coap-gateway/gateway.yaml`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" >/dev/null
if [ "$#" -eq 0 ]; then set -- --demo; fi
exec "${GW_BUILD_DIR:-$root/build}/bin/coap-gateway" "$@"
