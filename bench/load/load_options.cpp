#include "bench/load/load_options.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>

namespace gw::bench {
namespace {

template <class T>
bool parse_number(std::string_view text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find(sep, start), text.size());
    if (end > start) parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string replace_all(std::string text, std::string_view what, std::string_view with) {
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size()))
    text.replace(at, what.size(), with);
  return text;
}

bool parse_positive_duration(std::string_view text, nanoseconds& out) {
  return parse_duration(text, out) && out.count() > 0;
}

}  // namespace

const std::string_view usage_text =
    "usage: coap-load [options]\n"
    "  --target HOST:PORT     IPv4 server address (default 127.0.0.1:5683)\n"
    "  --clients N            simulated clients, one UDP socket each (default 64)\n"
    "  --outstanding N        closed loop: requests in flight per client (default 1);\n"
    "                         open loop: the most in flight per client (default 16)\n"
    "  --rate R [--poisson]   open loop: R requests/s over all clients, evenly spread or\n"
    "                         Poisson arrivals; latency counts from the scheduled time\n"
    "  --request 'M /path?q'  request template (default 'GET /.well-known/core'); <CIK> is\n"
    "                         replaced by the client's CIK\n"
    "  --payload TEXT         request payload; --content-format N its Content-Format\n"
    "  --ciks FILE            one CIK a line; client i uses line i mod count; or --cik CIK\n"
    "  --non                  NON requests (default CON)\n"
    "  --no-retransmit        CON without retransmission (RFC 7252 4.2 back-off otherwise)\n"
    "  --ack-timeout D        ACK_TIMEOUT (default 2s); --ack-random-factor F (1.5);\n"
    "                         --max-retransmit N (4)\n"
    "  --timeout D            answer wait when nothing is retransmitted (default 5s)\n"
    "  --duration D           measured time (default 5s); --warmup D before it (default 1s);\n"
    "                         --drain D after it, answers still counted (default 500ms)\n"
    "  --observe              register Observe=0 on the request's resource during the warm-up\n"
    "                         and measure notification latency from a CLOCK_REALTIME us value\n"
    "  --write 'M /path?q'    observe mode: one extra socket sends this every\n"
    "                         --write-interval D (default 1s) with the current time as payload\n"
    "  --register-over D      observe mode: spread the registrations over the first D of the\n"
    "                         warm-up (default all of it); writes then start D + the write\n"
    "                         interval in, uncounted until the window\n"
    "  --dtls-psk ID:KEY      DTLS 1.2 with this PSK (KEY: hex:..., text:... or text; '\\:'\n"
    "                         escapes a ':' in ID); handshakes done before the warm-up\n"
    "  --dtls-ciphers LIST    OpenSSL cipher list (default PSK-AES128-CCM8)\n"
    "  --handshake-concurrency N  handshakes in progress at once (default 64);\n"
    "                         --handshake-timeout D per handshake (default 10s)\n"
    "  --idle                 send no requests: hold the clients (and sessions) for the run\n"
    "  --marks                print 'coap-load: window starts' and '... ends' on stderr\n"
    "  --sources A[-B]        bind clients round-robin to the IPv4 addresses A..B\n"
    "  --seed N               random seed (MIDs, tokens, back-off, Poisson); default 1\n"
    "  --json FILE            also write the results as JSON ('-': stdout)\n"
    "  --quiet                no human summary\n"
    "Durations: 5, 5s, 500ms, 250us, 2m.\n";

bool request_template::needs_cik() const {
  const auto has = [](const std::string& s) { return s.find(cik_placeholder) != s.npos; };
  for (const auto& s : path)
    if (has(s)) return true;
  for (const auto& q : queries)
    if (has(q)) return true;
  return false;
}

bool parse_request_template(std::string_view text, request_template& out, std::string& problem) {
  const auto space = text.find(' ');
  if (space == std::string_view::npos) {
    problem = "expected 'METHOD /path[?query&...]', got '" + std::string(text) + "'";
    return false;
  }
  const auto method = text.substr(0, space);
  auto target = text.substr(space + 1);
  while (!target.empty() && target.front() == ' ') target.remove_prefix(1);
  request_template t;
  if (method == "GET") {
    t.method = coap::codes::get;
  } else if (method == "POST") {
    t.method = coap::codes::post;
  } else if (method == "PUT") {
    t.method = coap::codes::put;
  } else if (method == "DELETE") {
    t.method = coap::codes::del;
  } else if (method == "FETCH") {
    t.method = coap::codes::fetch;
  } else {
    problem = "unknown method '" + std::string(method) + "'";
    return false;
  }
  if (target.empty() || target.front() != '/') {
    problem = "the path must start with '/'";
    return false;
  }
  const auto question = target.find('?');
  t.path = split(target.substr(0, question), '/');
  if (question != std::string_view::npos) t.queries = split(target.substr(question + 1), '&');
  out = std::move(t);
  return true;
}

coap::message make_request(const request_template& t, std::string_view cik) {
  coap::message m;
  m.code = t.method;
  for (const auto& s : t.path)
    m.add_option(coap::opt::uri_path, replace_all(s, cik_placeholder, cik));
  for (const auto& q : t.queries)
    m.add_option(coap::opt::uri_query, replace_all(q, cik_placeholder, cik));
  return m;
}

bool parse_ipv4(std::string_view text, std::uint32_t& out) {
  const auto parts = split(text, '.');
  if (parts.size() != 4 || text.front() == '.' || text.back() == '.' ||
      text.find("..") != std::string_view::npos)
    return false;
  std::uint32_t address = 0;
  for (const auto& p : parts) {
    unsigned octet = 0;
    if (p.size() > 3 || !parse_number(std::string_view(p), octet) || octet > 255) return false;
    address = (address << 8) | octet;
  }
  out = address;
  return true;
}

bool parse_sources(std::string_view text, std::vector<std::uint32_t>& out, std::string& problem) {
  const auto dash = text.find('-');
  std::uint32_t first = 0, last = 0;
  if (!parse_ipv4(text.substr(0, dash), first) ||
      !parse_ipv4(dash == std::string_view::npos ? text : text.substr(dash + 1), last)) {
    problem = "--sources: expected A.B.C.D or A.B.C.D-A.B.C.E, got '" + std::string(text) + "'";
    return false;
  }
  if (last < first || last - first >= 65536) {
    problem = "--sources: the range must ascend and hold at most 65536 addresses";
    return false;
  }
  out.clear();
  for (std::uint64_t a = first; a <= last; ++a) out.push_back(static_cast<std::uint32_t>(a));
  return true;
}

bool parse_duration(std::string_view text, nanoseconds& out) {
  std::size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.'))
    ++digits;
  double value = 0;
  if (!parse_number(text.substr(0, digits), value) || value < 0) return false;
  const auto unit = text.substr(digits);
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1e9;
  } else if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "us") {
    scale = 1e3;
  } else if (unit == "m") {
    scale = 60e9;
  } else {
    return false;
  }
  out = nanoseconds(static_cast<std::int64_t>(std::llround(value * scale)));
  return true;
}

bool parse_dtls_psk(std::string_view text, dtls_psk& out, std::string& problem) {
  dtls_psk psk;
  std::size_t i = 0;
  for (; i < text.size() && text[i] != ':'; ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == ':' || text[i + 1] == '\\')) ++i;
    psk.identity += text[i];
  }
  if (i == text.size() || psk.identity.empty()) {
    problem = "--dtls-psk: expected IDENTITY:KEY";
    return false;
  }
  auto key = text.substr(i + 1);
  if (key.starts_with("hex:")) {
    key.remove_prefix(4);
    if (key.size() % 2 != 0) {
      problem = "--dtls-psk: a hex key has an even number of digits";
      return false;
    }
    for (std::size_t k = 0; k < key.size(); k += 2) {
      std::uint8_t byte = 0;
      const auto [end, ec] = std::from_chars(key.data() + k, key.data() + k + 2, byte, 16);
      if (ec != std::errc{} || end != key.data() + k + 2) {
        problem = "--dtls-psk: not a hex key";
        return false;
      }
      psk.key.push_back(byte);
    }
  } else {
    if (key.starts_with("text:")) key.remove_prefix(5);
    psk.key.assign(key.begin(), key.end());
  }
  // RFC 4279 §5.3: keys up to 64 bytes, identities up to 128 (what the gateway accepts).
  if (psk.key.empty() || psk.key.size() > 64 || psk.identity.size() > 128) {
    problem = "--dtls-psk: the key takes 1 to 64 bytes, the identity 1 to 128";
    return false;
  }
  out = std::move(psk);
  return true;
}

bool parse_command_line(std::span<const std::string_view> args, load_options& out,
                        std::string& problem) {
  bool outstanding_given = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto flag = args[i];
    if (flag == "--help" || flag == "-h") {
      out.help = true;
      return true;
    }
    // Flags without a value.
    if (flag == "--poisson") {
      out.poisson = true;
      continue;
    }
    if (flag == "--non") {
      out.non = true;
      continue;
    }
    if (flag == "--no-retransmit") {
      out.retransmit = false;
      continue;
    }
    if (flag == "--observe") {
      out.observe = true;
      continue;
    }
    if (flag == "--quiet") {
      out.quiet = true;
      continue;
    }
    if (flag == "--idle") {
      out.idle = true;
      continue;
    }
    if (flag == "--marks") {
      out.marks = true;
      continue;
    }
    if (i + 1 >= args.size()) {
      problem = std::string(flag) + (flag.starts_with("--") ? ": missing value" : ": unknown");
      return false;
    }
    const auto value = args[++i];
    const auto bad = [&](std::string_view expected) {
      problem = std::string(flag) + ": expected " + std::string(expected) + ", got '" +
                std::string(value) + "'";
      return false;
    };
    if (flag == "--target") {
      const auto colon = value.rfind(':');
      if (colon == std::string_view::npos ||
          !parse_ipv4(value.substr(0, colon), out.target_address) ||
          !parse_number(value.substr(colon + 1), out.target_port) || out.target_port == 0)
        return bad("IPv4:PORT");
    } else if (flag == "--clients") {
      if (!parse_number(value, out.clients) || out.clients == 0) return bad("a count above 0");
    } else if (flag == "--outstanding") {
      if (!parse_number(value, out.outstanding) || out.outstanding == 0 || out.outstanding > 256)
        return bad("1 to 256");
      outstanding_given = true;
    } else if (flag == "--rate") {
      double r = 0;
      if (!parse_number(value, r) || !(r > 0) || !std::isfinite(r))
        return bad("requests/s above 0");
      out.rate = r;
    } else if (flag == "--request" || flag == "--write") {
      request_template t;
      std::string why;
      if (!parse_request_template(value, t, why)) {
        problem = std::string(flag) + ": " + why;
        return false;
      }
      (flag == "--request" ? out.request : out.write.emplace()) = std::move(t);
    } else if (flag == "--payload") {
      out.payload = std::string(value);
    } else if (flag == "--content-format") {
      std::uint16_t cf = 0;
      if (!parse_number(value, cf)) return bad("0 to 65535");
      out.content_format = cf;
    } else if (flag == "--ciks") {
      out.ciks_file = std::string(value);
    } else if (flag == "--cik") {
      out.ciks.emplace_back(value);
    } else if (flag == "--ack-timeout") {
      if (!parse_positive_duration(value, out.ack_timeout)) return bad("a duration above 0");
    } else if (flag == "--ack-random-factor") {
      if (!parse_number(value, out.ack_random_factor) || out.ack_random_factor < 1.0)
        return bad("a factor >= 1");
    } else if (flag == "--max-retransmit") {
      if (!parse_number(value, out.max_retransmit) || out.max_retransmit > 20)
        return bad("0 to 20");
    } else if (flag == "--timeout") {
      if (!parse_positive_duration(value, out.timeout)) return bad("a duration above 0");
    } else if (flag == "--duration") {
      if (!parse_positive_duration(value, out.duration)) return bad("a duration above 0");
    } else if (flag == "--warmup") {
      if (!parse_duration(value, out.warmup)) return bad("a duration");
    } else if (flag == "--drain") {
      if (!parse_duration(value, out.drain)) return bad("a duration");
    } else if (flag == "--register-over") {
      if (!parse_duration(value, out.register_over.emplace())) return bad("a duration");
    } else if (flag == "--write-interval") {
      if (!parse_positive_duration(value, out.write_interval)) return bad("a duration above 0");
    } else if (flag == "--dtls-psk") {
      if (!parse_dtls_psk(value, out.dtls.emplace(), problem)) return false;
    } else if (flag == "--dtls-ciphers") {
      if (value.empty()) return bad("an OpenSSL cipher list");
      out.dtls_ciphers = std::string(value);
    } else if (flag == "--handshake-concurrency") {
      if (!parse_number(value, out.handshake_concurrency) || out.handshake_concurrency == 0)
        return bad("a count above 0");
    } else if (flag == "--handshake-timeout") {
      if (!parse_positive_duration(value, out.handshake_timeout)) return bad("a duration above 0");
    } else if (flag == "--sources") {
      if (!parse_sources(value, out.sources, problem)) return false;
    } else if (flag == "--seed") {
      if (!parse_number(value, out.seed)) return bad("a number");
    } else if (flag == "--json") {
      out.json_path = std::string(value);
    } else {
      problem = std::string(flag) + ": unknown option";
      return false;
    }
  }
  if (out.rate && !outstanding_given) out.outstanding = 16;
  if (out.observe && out.rate) {
    problem = "--observe and --rate do not go together (observers send one registration each)";
    return false;
  }
  if (out.idle && (out.observe || out.rate)) {
    problem = "--idle sends nothing: it goes with neither --observe nor --rate";
    return false;
  }
  if (out.register_over && (!out.observe || *out.register_over > out.warmup)) {
    problem = "--register-over is for --observe mode, and at most the warm-up";
    return false;
  }
  if (out.write && !out.observe) {
    problem = "--write is for --observe mode";
    return false;
  }
  const bool cik_needed = out.request.needs_cik() || (out.write && out.write->needs_cik());
  if (cik_needed && out.ciks.empty() && out.ciks_file.empty()) {
    problem = "the request uses <CIK>: give --ciks FILE or --cik CIK";
    return false;
  }
  return true;
}

bool load_ciks(const std::string& path, std::vector<std::string>& out, std::string& problem) {
  std::ifstream in(path);
  if (!in) {
    problem = path + ": cannot read";
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    out.push_back(line.substr(first, last - first + 1));
  }
  if (out.empty()) {
    problem = path + ": no CIK in the file";
    return false;
  }
  return true;
}

}  // namespace gw::bench
