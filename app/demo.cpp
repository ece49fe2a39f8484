#include "app/demo.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "app/demo_state.hpp"
#include "app/gateway_app.hpp"
#include "sim/server.hpp"

namespace gw::app {

namespace {

// Some hosts (containers without IPv6) have no ::1; the demo then listens on IPv4 only.
bool ipv6_loopback_available() {
  int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

constexpr const char* demo_cik = "a32c85ba9dda45823be416246cf8b433baa068d7";
// coaps: a demo PSK (RFC 4279), in the psk_file syntax. Public, like the demo CIK.
constexpr const char* demo_psk_identity = "demo";
constexpr const char* demo_psk_key = "demo-secret";

// The "coaps://host[:port]" base of the first coaps address, or "" when there is none.
std::string coaps_base(const std::vector<std::string>& dtls) {
  if (dtls.empty()) return {};
  const auto& address = dtls.front();
  auto colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  return "coaps://" + host + (port == "5684" ? "" : ":" + port);
}

// `address` is the first bound "host:port" ("[::1]:5683" for IPv6).
void print_commands(const std::string& address, const std::string& secure) {
  auto colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  const std::string base = "coap://" + host + (port == "5683" ? "" : ":" + port);
  const std::string q = std::string("?") + demo_cik;
  const std::string c = "coap-client-notls -B 5 ";
  std::cout
      << "\nDemo device: vendor demo, model gateway, sn 0001, CIK " << demo_cik << "\n"
      << "Try, from another terminal (Debian package libcoap3-bin):\n\n"
      << "  # Discovery\n  " << c << "-m get " << base << "/.well-known/core\n"
      << "  # Write\n  " << c << "-m post -e 22.5 '" << base << "/1a/temp" << q << "'\n"
      << "  # Read\n  " << c << "-m get '" << base << "/1a/temp" << q << "'\n"
      << (secure.empty()
              ? std::string()
              : std::string("  # Read over coaps (DTLS 1.2, PSK identity ") + demo_psk_identity +
                    ")\n  coap-client-openssl -B 5 -u " + demo_psk_identity + " -k " +
                    demo_psk_key + " -m get '" + secure + "/1a/temp" + q + "'\n")
      << "  # Observed Read (then Write from another terminal)\n  "
      << "coap-client-notls -s 60 -m get '" << base << "/1a/temp" << q << "'\n"
      << "  # Multiple Read and Write (CBOR map {\"humidity\": \"41\"}; reads temp, humidity)\n  "
      << "printf '\\xa1\\x68humidity\\x62\\x34\\x31' > /tmp/writes.cbor\n  " << c
      << "-m post -t 60 -f /tmp/writes.cbor '" << base << "/1a" << q
      << "&temp&humidity' | od -An -tx1\n"
      << "  # Activate (the second call answers 4.09)\n  " << c << "-m post '" << base
      << "/provision/activate/demo/gateway/0002'\n"
      << "  # List Content IDs\n  " << c << "-m get '" << base << "/provision/download/demo/gateway"
      << q << "'\n"
      << "  # Get Content Info\n  " << c << "-m get '" << base
      << "/provision/download/demo/gateway/firmware.bin/info" << q << "'\n"
      << "  # Download Content (blockwise, 128-byte blocks)\n  " << c
      << "-b 128 -m get -o firmware.bin '" << base
      << "/provision/download/demo/gateway/firmware.bin" << q << "'\n"
      << "  # Timestamp (text; binary with -A 42)\n  " << c << "-m get " << base << "/ts\n"
      << "  # RPC proxy, JSON in and out\n  " << c
      << "-m post -t 50 -A 50 -e '{\"auth\":{\"cik\":\"" << demo_cik
      << "\"},\"calls\":[{\"id\":1,\"procedure\":\"read\",\"arguments\":[{\"alias\":\"temp\"},{}]}]"
         "}' "
      << base << "/rpc\n\n"
      << std::flush;
}

}  // namespace

int run_demo(conf::config config, bool keep_listen) {
  auto seed = sim::load_state_string(demo_state_yaml, "sim/example-state.yaml");
  if (!seed) {
    std::cerr << "coap-gateway: demo state: " << seed.error().message << "\n";
    return 1;
  }
  boost::asio::io_context sim_io;
  sim::server sim(sim_io, std::move(*seed), "127.0.0.1", 0);
  auto port = sim.start();
  if (!port) {
    std::cerr << "coap-gateway: demo simulator: " << port.error().message() << "\n";
    return 1;
  }
  auto guard = boost::asio::make_work_guard(sim_io);
  std::thread sim_thread([&] { sim_io.run(); });

  config.upstream.url = sim.url();
  // The embedded simulator starts afresh every time: nothing to carry over a restart.
  config.state.directory.clear();
  if (!keep_listen) {
    config.coap.listen = {{"127.0.0.1", 5683}};
    if (ipv6_loopback_available()) config.coap.listen.push_back({"::1", 5683});
  }
  // coaps beside each plain address: 5684 beside 5683 (RFC 7252 §12.7), a free port beside a
  // free port, unless the config names its own.
  if (config.coap.dtls.listen.empty()) {
    for (const auto& l : config.coap.listen)
      config.coap.dtls.listen.push_back(
          {l.host, static_cast<std::uint16_t>(l.port == 0 ? 0 : 5684)});
  }
  const std::string psk_text = std::string(demo_psk_identity) + ": text:" + demo_psk_key + "\n";
  std::cout << "coap-gateway demo: One Platform simulator on " << sim.url() << "\n";

  int status = run_gateway(
      config, std::nullopt,
      [](const std::vector<std::string>& addresses, const std::vector<std::string>& dtls) {
        if (!addresses.empty()) print_commands(addresses.front(), coaps_base(dtls));
      },
      psk_text);

  sim.stop();
  guard.reset();
  sim_io.stop();
  sim_thread.join();
  return status;
}

}  // namespace gw::app
