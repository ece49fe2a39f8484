#include "sim/data_api.hpp"

#include <algorithm>
#include <charconv>

#include "http/form.hpp"
#include "http/http_date.hpp"

namespace gw::sim {
namespace {

constexpr std::string_view cik_header = "X-Exosite-CIK";

device* authenticate(const request& req, state& st) {
  const auto cik = req.header(cik_header);
  return cik ? st.find_by_cik(*cik) : nullptr;
}

// The query of a read: bare aliases, so only the keys matter; duplicates answered once.
boost::system::result<std::vector<std::string>> read_aliases(std::string_view query) {
  auto pairs = http::form_decode(query);
  if (!pairs) return pairs.error();
  std::vector<std::string> aliases;
  for (auto& [key, value] : *pairs) {
    if (std::find(aliases.begin(), aliases.end(), key) == aliases.end()) {
      aliases.push_back(std::move(key));
    }
  }
  return aliases;
}

// All aliases of one write share one timestamp; aliases that do not exist are skipped (and the
// write still answers 204, as upstream does).
bool apply_writes(const request& req, device& d, state& st, time_point now) {
  auto pairs = http::form_decode(req.body);
  if (!pairs) return false;
  const auto ts = to_unix(now);
  for (auto& [alias, value] : *pairs) {
    if (auto* port = state::find_alias(d, alias)) st.append(*port, ts, std::move(value));
  }
  return true;
}

response read_answer(const std::vector<std::string>& aliases, device& d) {
  http::form_pairs found;
  for (const auto& alias : aliases) {
    const auto* port = state::find_alias(d, alias);
    if (const auto* p = port ? port->latest() : nullptr) found.emplace_back(alias, p->value);
  }
  if (found.empty()) return make_response(204);
  return make_response(200, http::form_encode(found), form_urlencoded);
}

class longpoll final : public deferred {
 public:
  longpoll(std::string cik, std::string alias, unix_seconds since, std::uint64_t seq_at_start,
           time_point deadline)
      : cik_(std::move(cik)),
        alias_(std::move(alias)),
        since_(since),
        seq_at_start_(seq_at_start),
        deadline_(deadline) {}

  time_point deadline() const override { return deadline_; }

  std::optional<response> poll(state& st, time_point now) override {
    auto* d = st.find_by_cik(cik_);
    const auto* port = d ? state::find_alias(*d, alias_) : nullptr;
    const auto* p = port ? port->latest() : nullptr;
    if (p && is_newer(*p, since_, seq_at_start_)) {
      return make_response(200, http::form_encode({{alias_, p->value}}), form_urlencoded)
          .with("Last-Modified", http::format_http_date(p->ts));
    }
    if (now >= deadline_) return make_response(304);
    return std::nullopt;
  }

 private:
  std::string cik_;
  std::string alias_;
  unix_seconds since_;
  std::uint64_t seq_at_start_;
  time_point deadline_;
};

outcome start_longpoll(const request& req, device& d, state& st, time_point now) {
  const auto text = *req.header("Request-Timeout");
  std::uint64_t ms = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return make_response(400, "Request-Timeout must be decimal milliseconds");
  }
  const auto aliases = read_aliases(req.query());
  if (!aliases) return make_response(400, "bad percent escape in the query");
  if (aliases->size() != 1) return make_response(400, "a long-poll reads exactly one alias");
  const auto timeout = std::min(std::chrono::milliseconds(ms), max_request_timeout);
  // RFC 9110 §13.1.3: an invalid If-Modified-Since is ignored, which here means "since now".
  auto since = to_unix(now);
  if (const auto ims = req.header("If-Modified-Since")) {
    if (const auto parsed = http::parse_time_header(*ims)) since = *parsed;
  }
  auto poll =
      std::make_unique<longpoll>(d.cik, aliases->front(), since, st.last_seq(), now + timeout);
  // A point that is already newer answers at once.
  if (auto answer = poll->poll(st, now)) return std::move(*answer);
  return poll;
}

}  // namespace

bool is_longpoll(const request& req) {
  return req.method == "GET" && req.header("Request-Timeout").has_value();
}

outcome handle_stack_alias(const request& req, state& st, time_point now) {
  if (req.method != "GET" && req.method != "POST") {
    return make_response(405).with("Allow", "GET, POST");
  }
  auto* d = authenticate(req, st);
  if (!d) return make_response(401);
  if (is_longpoll(req)) return start_longpoll(req, *d, st, now);

  const auto aliases = read_aliases(req.query());
  if (!aliases) return make_response(400, "bad percent escape in the query");
  if (req.method == "POST") {
    if (!apply_writes(req, *d, st, now)) return make_response(400, "bad form body");
    if (req.query().empty()) return make_response(204);
  }
  return read_answer(*aliases, *d);
}

response handle_timestamp(const request& req, time_point now) {
  if (req.method != "GET") return make_response(405).with("Allow", "GET");
  return make_response(200, std::to_string(to_unix(now)));
}

}  // namespace gw::sim
