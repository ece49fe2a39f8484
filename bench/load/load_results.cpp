#include "bench/load/load_results.hpp"

#include <cstdio>

namespace gw::bench {
namespace {

std::string ipv4_text(std::uint32_t a) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
                a & 0xff);
  return buf;
}

double seconds(nanoseconds d) {
  return static_cast<double>(d.count()) / 1e9;
}

// Percentiles in microseconds: the histogram holds nanoseconds.
nlohmann::json percentiles_us(const latency_histogram& h) {
  const auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e3; };
  return {{"count", h.count()},          {"mean", h.mean() / 1e3},
          {"p50", us(h.percentile(50))}, {"p90", us(h.percentile(90))},
          {"p99", us(h.percentile(99))}, {"p99.9", us(h.percentile(99.9))},
          {"max", us(h.max())}};
}

std::string latency_line(const latency_histogram& h) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f us",
                static_cast<double>(h.percentile(50)) / 1e3,
                static_cast<double>(h.percentile(90)) / 1e3,
                static_cast<double>(h.percentile(99)) / 1e3,
                static_cast<double>(h.percentile(99.9)) / 1e3, static_cast<double>(h.max()) / 1e3);
  return buf;
}

std::string codes_line(const std::map<std::string, std::uint64_t>& codes) {
  std::string out;
  for (const auto& [code, n] : codes) out += "  " + code + " x" + std::to_string(n);
  return out.empty() ? "  (none)" : out;
}

double handshake_rate(const load_results& r) {
  return r.handshake_s > 0 ? static_cast<double>(r.handshakes_ok) / r.handshake_s : 0;
}

std::string mode_of(const load_options& o) {
  if (o.observe) return "observe";
  if (o.idle) return "idle";
  return o.rate ? "open" : "closed";
}

}  // namespace

nlohmann::json to_json(const load_options& o, const load_results& r) {
  nlohmann::json j;
  j["config"] = {{"target", ipv4_text(o.target_address) + ":" + std::to_string(o.target_port)},
                 {"mode", mode_of(o)},
                 {"clients", o.clients},
                 {"outstanding", o.outstanding},
                 {"rate", o.rate ? nlohmann::json(*o.rate) : nlohmann::json(nullptr)},
                 {"poisson", o.poisson},
                 {"type", o.non ? "NON" : "CON"},
                 {"retransmit", !o.non && o.retransmit},
                 {"duration_s", seconds(o.duration)},
                 {"warmup_s", seconds(o.warmup)},
                 {"sources", o.sources.size()}};
  j["measured_s"] = r.measured_s;
  j["sent"] = r.sent;
  j["answered"] = r.answered;
  j["throughput"] = r.measured_s > 0 ? static_cast<double>(r.answered_in_window) / r.measured_s : 0;
  j["retransmissions"] = r.retransmissions;
  j["timeouts"] = r.timeouts;
  j["rst"] = r.rst;
  j["separate"] = r.separate;
  j["skipped"] = r.skipped;
  j["unfinished"] = r.unfinished;
  j["unmatched"] = r.unmatched;
  j["send_errors"] = r.send_errors;
  j["codes"] = r.codes;
  j["latency_us"] = percentiles_us(r.latency);
  j["cpu_s"] = r.cpu_s;
  if (o.dtls) {
    j["dtls"] = {{"identity", o.dtls->identity},
                 {"ciphers", o.dtls_ciphers},
                 {"handshake_concurrency", o.handshake_concurrency},
                 {"handshakes_ok", r.handshakes_ok},
                 {"handshakes_failed", r.handshakes_failed},
                 {"handshake_s", r.handshake_s},
                 {"handshakes_per_s", handshake_rate(r)},
                 {"handshake_latency_us", percentiles_us(r.handshake_latency)},
                 {"sessions_lost", r.sessions_lost}};
  }
  if (o.observe) {
    j["observe"] = {{"registered", r.registered},
                    {"registration_failed", r.registration_failed},
                    {"registration_codes", r.registration_codes},
                    {"notifications", r.notifications},
                    {"expected_notifications", r.registered * r.writes_answered},
                    {"stale_notifications", r.stale_notifications},
                    {"duplicate_notifications", r.duplicate_notifications},
                    {"relations_ended", r.relations_ended},
                    {"writes", r.writes},
                    {"writes_answered", r.writes_answered},
                    {"write_codes", r.write_codes},
                    {"latency_us", percentiles_us(r.notification_latency)}};
  }
  return j;
}

std::string summary(const load_options& o, const load_results& r) {
  char buf[400];
  std::string s;
  std::snprintf(buf, sizeof buf,
                "coap-load: %zu clients, %s loop%s, %s%s, %.1f s measured after %.1f s warm-up, "
                "target %s:%u\n",
                o.clients, o.rate ? "open" : "closed",
                o.observe ? " (observe)" : (o.idle ? " (idle)" : ""), o.non ? "NON" : "CON",
                (!o.non && !o.retransmit) ? " without retransmission" : "", r.measured_s,
                seconds(o.warmup), ipv4_text(o.target_address).c_str(), o.target_port);
  s += buf;
  if (o.observe || o.idle) {
    buf[0] = '\0';
  } else if (o.rate) {
    std::snprintf(buf, sizeof buf, "  offered %.0f req/s%s, at most %zu in flight per client\n",
                  *o.rate, o.poisson ? " (Poisson)" : "", o.outstanding);
  } else {
    std::snprintf(buf, sizeof buf, "  %zu in flight per client\n", o.outstanding);
  }
  s += buf;
  const double rate =
      r.measured_s > 0 ? static_cast<double>(r.answered_in_window) / r.measured_s : 0;
  std::snprintf(
      buf, sizeof buf,
      "  requests: %llu sent, %llu answered, %.0f answers/s; %llu timeouts, "
      "%llu retransmissions, %llu RST, %llu separate, %llu skipped, %llu unfinished\n",
      static_cast<unsigned long long>(r.sent), static_cast<unsigned long long>(r.answered), rate,
      static_cast<unsigned long long>(r.timeouts),
      static_cast<unsigned long long>(r.retransmissions), static_cast<unsigned long long>(r.rst),
      static_cast<unsigned long long>(r.separate), static_cast<unsigned long long>(r.skipped),
      static_cast<unsigned long long>(r.unfinished));
  // Observers send only their registration, idle clients nothing: the request figures would be
  // all zero.
  if (!o.observe && !o.idle) {
    s += buf;
    if (r.latency.count()) s += "  latency: " + latency_line(r.latency) + "\n";
    s += "  codes:" + codes_line(r.codes) + "\n";
  }
  if (o.observe) {
    std::snprintf(buf, sizeof buf,
                  "  observe: %llu registered, %llu failed; %llu writes answered; %llu of %llu "
                  "notifications (%llu stale, %llu duplicates, %llu relations ended)\n",
                  static_cast<unsigned long long>(r.registered),
                  static_cast<unsigned long long>(r.registration_failed),
                  static_cast<unsigned long long>(r.writes_answered),
                  static_cast<unsigned long long>(r.notifications),
                  static_cast<unsigned long long>(r.registered * r.writes_answered),
                  static_cast<unsigned long long>(r.stale_notifications),
                  static_cast<unsigned long long>(r.duplicate_notifications),
                  static_cast<unsigned long long>(r.relations_ended));
    s += buf;
    if (r.notification_latency.count())
      s += "  notification latency: " + latency_line(r.notification_latency) + "\n";
    if (!r.registration_codes.empty())
      s += "  registration codes:" + codes_line(r.registration_codes) + "\n";
  }
  if (o.dtls) {
    std::snprintf(buf, sizeof buf,
                  "  DTLS PSK (%s): %llu handshakes in %.2f s (%.0f/s, %zu at once), %llu failed, "
                  "%llu sessions lost during the run\n",
                  o.dtls_ciphers.c_str(), static_cast<unsigned long long>(r.handshakes_ok),
                  r.handshake_s, handshake_rate(r), o.handshake_concurrency,
                  static_cast<unsigned long long>(r.handshakes_failed),
                  static_cast<unsigned long long>(r.sessions_lost));
    s += buf;
    if (r.handshake_latency.count())
      s += "  handshake time: " + latency_line(r.handshake_latency) + "\n";
  }
  std::snprintf(buf, sizeof buf, "  load generator CPU: %.2f s\n", r.cpu_s);
  s += buf;
  return s;
}

}  // namespace gw::bench
