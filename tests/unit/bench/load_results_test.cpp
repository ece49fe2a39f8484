#include <catch2/catch.hpp>

#include "bench/load/load_results.hpp"

using namespace gw::bench;

TEST_CASE("JSON results: throughput over the window, percentiles in microseconds", "[results]") {
  load_options o;
  load_results r;
  r.measured_s = 2;
  r.sent = 1000;
  r.answered = 990;
  r.answered_in_window = 1000;
  r.timeouts = 10;
  r.codes["2.05"] = 990;
  for (int i = 1; i <= 100; ++i) r.latency.record(static_cast<std::uint64_t>(i) * 1000);
  const auto j = to_json(o, r);
  CHECK(j["throughput"].get<double>() == 500.0);
  CHECK(j["config"]["mode"] == "closed");
  CHECK(j["config"]["type"] == "CON");
  CHECK(j["codes"]["2.05"] == 990);
  CHECK(j["timeouts"] == 10);
  // 50 us lies in an exact-to-1/128 bucket: reported as the bucket's highest value.
  CHECK(j["latency_us"]["p50"].get<double>() == Approx(50.0).epsilon(0.01));
  CHECK(j["latency_us"]["max"].get<double>() == 100.0);
  CHECK_FALSE(j.contains("observe"));
  CHECK(summary(o, r).find("500 answers/s") != std::string::npos);
}

TEST_CASE("JSON results in observe mode: expected notifications = observers x writes",
          "[results]") {
  load_options o;
  o.observe = true;
  load_results r;
  r.registered = 10'000;
  r.writes_answered = 3;
  r.notifications = 29'000;
  r.notification_latency.record(2'000'000);
  const auto j = to_json(o, r);
  CHECK(j["config"]["mode"] == "observe");
  CHECK(j["observe"]["expected_notifications"] == 30'000);
  CHECK(j["observe"]["latency_us"]["max"].get<double>() == 2000.0);
}

TEST_CASE("JSON results with DTLS: handshakes apart, handshakes/s over the handshake phase",
          "[results][dtls]") {
  load_options o;
  o.dtls = dtls_psk{"bench", {1, 2, 3}};
  o.idle = true;
  load_results r;
  r.handshakes_ok = 1000;
  r.handshakes_failed = 2;
  r.handshake_s = 4;
  r.handshake_latency.record(3'000'000);
  const auto j = to_json(o, r);
  CHECK(j["config"]["mode"] == "idle");
  CHECK(j["dtls"]["identity"] == "bench");
  CHECK(j["dtls"]["handshakes_ok"] == 1000);
  CHECK(j["dtls"]["handshakes_failed"] == 2);
  CHECK(j["dtls"]["handshakes_per_s"].get<double>() == 250.0);
  CHECK(j["dtls"]["handshake_latency_us"]["max"].get<double>() == 3000.0);
  // The key is a secret: never in the results.
  CHECK(j.dump().find("\\u0001") == std::string::npos);
  CHECK_FALSE(j["dtls"].contains("key"));
  const auto text = summary(o, r);
  CHECK(text.find("1000 handshakes in 4.00 s (250/s") != std::string::npos);
  CHECK(text.find("requests:") == std::string::npos);  // idle: no request figures

  load_options plain;
  CHECK_FALSE(to_json(plain, r).contains("dtls"));
}
