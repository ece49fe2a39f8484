#!/usr/bin/env bash
# Installs every build, test and run dependency from Debian 12 packages.
# Idempotent: apt-get skips what is already installed. Run as root (or through sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost1.81-dev libssl-dev nlohmann-json3-dev libcbor-dev libyaml-cpp-dev catch2
  # coap-gateway's malloc (gperftools' tcmalloc; app/CMakeLists.txt, docs/performance.md).
  libtcmalloc-minimal4
  libcoap3-bin openssl curl python3 procps
  # deploy/: the Debian package (cpack -G DEB: dpkg-shlibdeps, file), its checks (lintian,
  # systemd-analyze) and the nginx UDP load-balancer example and its test.
  dpkg-dev file lintian systemd nginx libnginx-mod-stream
  # tests/integration/test_systemd_boot.py: a minimal Debian 12 root (debootstrap) booted with
  # the .deb installed (systemd-nspawn, in systemd-container).
  debootstrap systemd-container
  # deploy/monitoring: promtool checks and unit-tests the alert rules (test_monitoring.py).
  # Debian ships promtool only inside the server package, which starts where systemd runs.
  prometheus
  # bench/run.sh: wrk drives onep-sim's HTTP API directly (libcoap3-bin above already brings
  # coap-server, the CoAP reference point).
  wrk
  # bench/run.sh renders its charts (SVG) with gnuplot.
  gnuplot-nox
  # Fuzzing (tests/fuzz): clang 14 with libFuzzer, whose runtime (libclang_rt.fuzzer, and the
  # ASan/UBSan ones) is in libclang-rt-14-dev, only a recommendation of clang-14; llvm-14 has the
  # llvm-symbolizer that puts file:line into clang's sanitizer reports.
  clang libclang-rt-14-dev llvm-14
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# tests/integration/test_dtls.py (NodeInterop): node-coap-client, a DTLS PSK client independent
# of OpenSSL and libcoap, from the npm registry. Only where node and npm are already there: the
# machines this runs on have them; elsewhere that test skips and says why.
node_coap_client=node-coap-client@2.1.0
if command -v node >/dev/null && command -v npm >/dev/null &&
   ! npm ls -g "$node_coap_client" >/dev/null 2>&1; then
  npm install -g --no-fund --no-audit "$node_coap_client"
fi
