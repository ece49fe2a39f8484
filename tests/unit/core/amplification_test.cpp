// The amplification bound (gateway/core/amplification.hpp) in virtual time: towards a source
// that never proves it receives, bytes out stay within factor x bytes in, whatever the route.
#include "gateway/core/amplification.hpp"

#include <map>
#include <string>

#include "tests/unit/core/observe_rig.hpp"

namespace gw::test {
namespace {

const std::string cik = "a32c85ba9dda45823be416246cf8b433baa068d7";

std::string text_of(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + i % 26));
  return s;
}

// The endpoint with the bound on (factor 3 by default), counting UDP payload bytes per peer.
struct metered {
  core::endpoint ep;
  time_point t0{std::chrono::hours(1)};
  std::map<std::uint32_t, std::uint64_t> in, out;  // by port

  explicit metered(core::endpoint_config cfg = {}) : ep(cfg, 42, observable) {}

  void receive(const coap::message& m, time_point now, const core::peer& from = client) {
    auto b = coap::encode(m);
    in[from.port] += b.size();
    ep.on_datagram(from, b, now);
  }
  std::vector<coap::message> sent(const core::peer& to = client) {
    std::vector<coap::message> got;
    for (auto& s : ep.take_sends()) {
      out[s.peer.port] += s.datagram.size();
      if (s.peer == to) got.push_back(decode(s.datagram));
    }
    return got;
  }
  std::vector<coap::message> run_until(time_point until, const core::peer& to = client) {
    std::vector<coap::message> got;
    while (auto next = ep.next_deadline()) {
      if (*next > until) break;
      ep.on_timer(*next);
      for (auto& m : sent(to)) got.push_back(m);
    }
    return got;
  }
  bool within(unsigned factor = 3, const core::peer& p = client) {
    INFO("in " << in[p.port] << " out " << out[p.port]);
    return out[p.port] <= factor * in[p.port];
  }
  // Answers every forwarded request with `body`, as a read of that value would.
  void answer_all(const std::string& body, time_point now) {
    for (auto& f : ep.take_forwards()) {
      auto resp = coap::make_response(f.request, coap::codes::content);
      resp.add_uint_option(coap::opt::content_format, 0);
      resp.set_payload(body);
      ep.on_response(f.id, resp, now);
    }
  }
};

coap::message read_get(std::uint16_t mid, coap::bytes token = {0x01, 0x02}) {
  coap::message m;
  m.type = coap::type::con;
  m.code = coap::codes::get;
  m.mid = mid;
  m.token = std::move(token);
  m.add_option(coap::opt::uri_path, "1a");
  m.add_option(coap::opt::uri_path, "temp");
  m.add_option(coap::opt::uri_query, cik);
  return m;
}

coap::message ack_of(const coap::message& m) {
  coap::message a;
  a.type = coap::type::ack;
  a.mid = m.mid;
  return a;
}

}  // namespace

TEST_CASE("send_budget and szx_within") {
  CHECK(core::send_budget(10, 0, 3) == 30);
  CHECK(core::send_budget(10, 29, 3) == 1);
  CHECK(core::send_budget(10, 30, 3) == 0);
  CHECK(core::send_budget(10, 45, 3) == 0);  // never below zero
  CHECK(core::send_budget(0, 0, 3) == 0);
  CHECK(core::szx_within(0, 20) == 0);     // nothing fits: the smallest block
  CHECK(core::szx_within(36, 20) == 0);    // 16 + 20
  CHECK(core::szx_within(52, 20) == 1);    // 32 + 20
  CHECK(core::szx_within(2000, 20) == 6);  // 1024 at most
  CHECK(core::szx_within(1043, 20) == 5);
}

TEST_CASE(
    "a 1000-byte answer to an unverified client: a first block within the budget, the "
    "rest by Block2 follow-ups, never more than 3x out") {
  metered m;
  const auto body = text_of(1000);
  m.receive(read_get(1), m.t0);
  m.answer_all(body, m.t0);
  auto first = m.sent();
  REQUIRE(first.size() == 1);
  CHECK(m.within());
  auto block = coap::decode_block(first[0].find(coap::opt::block2)->value);
  REQUIRE(block);
  CHECK(block->more);
  CHECK(first[0].uint_option(coap::opt::size2) == 1000u);
  // The client fetches the rest at the size the server chose (RFC 7959 §2.4).
  std::string got = std::string(first[0].payload_text());
  std::uint16_t mid = 2;
  while (block->more) {
    auto follow = read_get(mid++);
    follow.add_option(coap::opt::block2, coap::encode_block({block->num + 1, false, block->szx}));
    m.receive(follow, m.t0 + 1s);
    m.answer_all(body, m.t0 + 1s);
    auto next = m.sent();
    REQUIRE(next.size() == 1);
    REQUIRE(m.within());
    block = coap::decode_block(next[0].find(coap::opt::block2)->value);
    REQUIRE(block);
    got += next[0].payload_text();
  }
  CHECK(got == body);
}

TEST_CASE("discovery-sized answer to a small request: a 16- or 32-byte first block, within 3x") {
  metered m;
  // GET /.well-known/core without a token: 21 bytes, so 63 to spend.
  coap::message req;
  req.type = coap::type::con;
  req.code = coap::codes::get;
  req.mid = 9;
  req.add_option(coap::opt::uri_path, ".well-known");
  req.add_option(coap::opt::uri_path, "core");
  m.receive(req, m.t0);
  m.answer_all(text_of(400), m.t0);
  auto out = m.sent();
  REQUIRE(out.size() == 1);
  CHECK(m.within());
  CHECK(coap::decode_block(out[0].find(coap::opt::block2)->value)->szx <= 1);
}

TEST_CASE(
    "separate response to a client that never ACKs: retransmissions that do not fit are "
    "skipped, the exchange still gives up") {
  metered m;
  auto req = request(coap::type::con, coap::codes::get, 7);
  m.receive(req, m.t0);
  auto fw = m.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  auto acks = m.run_until(m.t0 + 1s);
  REQUIRE(acks.size() == 1);  // the empty ACK
  auto resp = coap::make_response(fw[0].request, coap::codes::content);
  resp.set_payload("1700000000");
  m.ep.on_response(fw[0].id, resp, m.t0 + 2s);
  auto con = m.sent();
  REQUIRE(con.size() == 1);  // the separate response once
  CHECK(con[0].type == coap::type::con);
  auto resends = m.run_until(m.t0 + 1h);
  CHECK(resends.size() < 4);  // MAX_RETRANSMIT would be 4 without the bound
  CHECK(m.within());
  CHECK(m.ep.stats().gave_up == 1);
  CHECK(m.ep.stats().amplification_skipped >= 1);
  CHECK(m.ep.stats().amplification_held_bytes >= coap::encode(con[0]).size());
  CHECK(m.ep.idle());
}

TEST_CASE("notifications to an observer that never ACKs stay within 3x, and it is dropped") {
  metered m;
  m.receive(observe_get(100, {1}), m.t0);
  m.answer_all("v0", m.t0);
  REQUIRE(m.sent().size() == 1);
  for (int i = 1; i <= 50; ++i) {
    const auto at = m.t0 + std::chrono::seconds(i);
    m.run_until(at);
    m.ep.notify({cik, "temp"}, value(text_of(300)), at);
    m.sent();
    REQUIRE(m.within());
  }
  m.run_until(m.t0 + 2h);
  CHECK(m.within());
  CHECK(m.ep.observers() == 0);
}

TEST_CASE("an observer that ACKs is verified and gets whole values") {
  metered m;
  m.receive(observe_get(100, {1}), m.t0);
  m.answer_all("v0", m.t0);
  m.sent();
  m.ep.notify({cik, "temp"}, value("v1"), m.t0 + 1s);
  auto n = m.sent();
  REQUIRE(n.size() == 1);
  CHECK(m.ep.stats().verified_sources == 0);
  m.receive(ack_of(n[0]), m.t0 + 2s);
  CHECK(m.ep.stats().verified_sources == 1);
  CHECK(m.ep.verified(client, m.t0 + 2s));
  const auto big = text_of(900);
  m.ep.notify({cik, "temp"}, value(big), m.t0 + 3s);
  auto whole = m.sent();
  REQUIRE(whole.size() == 1);
  CHECK(whole[0].payload_text() == big);
  CHECK_FALSE(m.within());  // the bound no longer applies
}

TEST_CASE("every observer stays verified when there are more of them than tracked sources") {
  // 40 observers, 16 sources tracked: the table follows observe.max_observers, or LRU
  // eviction would make each observer a stranger again and hold its notifications back.
  core::endpoint_config cfg;
  cfg.amplification.max_sources = 16;
  cfg.observe.max_observers = 64;
  metered m(cfg);
  auto peer_of = [](int i) {
    return core::peer{0, false, {10, 0, 1, static_cast<std::uint8_t>(i)}, 40000};
  };
  constexpr int observers = 40;
  for (int i = 0; i < observers; ++i) {
    m.receive(observe_get(static_cast<std::uint16_t>(100 + i), {1}), m.t0, peer_of(i));
    m.answer_all("v0", m.t0);
  }
  m.ep.take_sends();
  const auto big = text_of(300);  // past the floor: an unverified observer would get a block
  for (int round = 1; round <= 3; ++round) {
    const auto at = m.t0 + std::chrono::seconds(round);
    m.ep.notify({cik, "temp"}, value(round == 1 ? "v1" : big), at);
    int whole = 0;
    for (auto& s : m.ep.take_sends()) {
      auto n = decode(s.datagram);
      if (n.payload_text() == big) ++whole;
      m.receive(ack_of(n), at, s.peer);  // every observer ACKs: verified
    }
    if (round > 1) CHECK(whole == observers);
  }
  CHECK(m.ep.stats().amplification_skipped == 0);
}

TEST_CASE(
    "the floor: answers up to 64 payload bytes are never cut; one that does not fit waits "
    "for a retransmission of the request") {
  SECTION("a request carrying a CIK always has room for a 64-byte value") {
    metered m;
    m.receive(read_get(1), m.t0);
    m.answer_all(text_of(64), m.t0);
    auto out = m.sent();
    REQUIRE(out.size() == 1);
    CHECK(out[0].payload_text() == text_of(64));
    CHECK_FALSE(out[0].has(coap::opt::block2));
    CHECK(m.within());
  }
  SECTION("a 7-byte request: held back whole, sent whole to a copy once the budget allows") {
    metered m;
    auto req = request(coap::type::con, coap::codes::get, 9, {});
    m.receive(req, m.t0);
    m.answer_all(text_of(64), m.t0);
    CHECK(m.sent().empty());
    std::vector<coap::message> got;
    for (int i = 1; i <= 4 && got.empty(); ++i) {
      // The client's retransmission, past the replay window: the GET runs again (a copy
      // within it would get the cached answer the same way).
      m.receive(req, m.t0 + std::chrono::seconds(2 * i));
      m.answer_all(text_of(64), m.t0 + std::chrono::seconds(2 * i));
      got = m.sent();
      CHECK(m.within());
    }
    REQUIRE(got.size() == 1);
    CHECK(got[0].payload_text() == text_of(64));
    CHECK_FALSE(got[0].has(coap::opt::block2));
  }
  SECTION("an error that does not fit keeps as much of its diagnostic as fits") {
    metered m;
    auto req = request(coap::type::con, coap::codes::get, 9, {});
    m.receive(req, m.t0);
    auto fw = m.ep.take_forwards();
    REQUIRE(fw.size() == 1);
    m.ep.on_response(fw[0].id,
                     coap::make_error(fw[0].request, coap::codes::not_found,
                                      "no such resource here, nor anywhere else"),
                     m.t0);
    auto out = m.sent();
    REQUIRE(out.size() == 1);
    CHECK(out[0].code == coap::codes::not_found);
    // 7 bytes in, 21 out: the 4-byte header, the marker, 16 bytes of diagnostic.
    CHECK(out[0].payload_text() == "no such resource");
    CHECK(coap::encode(out[0]).size() == 21);
    CHECK(m.within());
  }
  SECTION("a diagnostic is cut on a character boundary") {
    metered m;
    auto req = request(coap::type::con, coap::codes::get, 9, {});
    m.receive(req, m.t0);
    auto fw = m.ep.take_forwards();
    REQUIRE(fw.size() == 1);
    // 15 ASCII bytes, then a 2-byte character straddling the 16-byte limit.
    m.ep.on_response(
        fw[0].id,
        coap::make_error(fw[0].request, coap::codes::not_found, "0123456789abcde\u00e9 and more"),
        m.t0);
    auto out = m.sent();
    REQUIRE(out.size() == 1);
    CHECK(out[0].payload_text() == "0123456789abcde");
    CHECK(m.within());
  }
}

TEST_CASE("verification by ACK lifts the bound; idleness restores it; stray ACKs are counted") {
  core::endpoint_config cfg;
  cfg.amplification.verified_idle = 10min;
  metered m(cfg);
  const auto body = text_of(1000);
  // A stray ACK verifies nothing.
  coap::message stray;
  stray.type = coap::type::ack;
  stray.mid = 1234;
  m.receive(stray, m.t0);
  CHECK(m.ep.stats().unmatched_acks == 1);
  CHECK_FALSE(m.ep.verified(client, m.t0));

  // A separate response, ACKed by the client: its MID was ours to choose.
  m.receive(request(coap::type::con, coap::codes::get, 7), m.t0);
  auto fw = m.ep.take_forwards();
  m.run_until(m.t0 + 1s);
  m.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content),
                   m.t0 + 1500ms);
  auto con = m.sent();
  REQUIRE(con.size() == 1);
  m.receive(ack_of(con[0]), m.t0 + 2s);
  CHECK(m.ep.verified(client, m.t0 + 2s));
  CHECK(m.ep.stats().verified_sources == 1);

  m.receive(read_get(20), m.t0 + 3s);
  m.answer_all(body, m.t0 + 3s);
  auto whole = m.sent();
  REQUIRE(whole.size() == 1);
  CHECK(whole[0].payload_text() == body);  // 1000 bytes in one datagram

  // Idle past verified_idle: a stranger again (NATs reuse ports).
  const auto later = m.t0 + 3s + 10min;
  CHECK_FALSE(m.ep.verified(client, later));
  m.in.clear();
  m.out.clear();
  m.receive(read_get(21), later);
  m.answer_all(body, later);
  auto cut = m.sent();
  REQUIRE(cut.size() == 1);
  CHECK(cut[0].has(coap::opt::block2));
  CHECK(m.within());
}

TEST_CASE("mark_verified: the hook for a DTLS handshake") {
  metered m;
  m.ep.mark_verified(client, m.t0);
  m.receive(read_get(1), m.t0);
  m.answer_all(text_of(1000), m.t0);
  auto out = m.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].payload.size() == 1000);
}

TEST_CASE("factor 0 turns the bound off") {
  core::endpoint_config cfg;
  cfg.amplification.factor = 0;
  metered m(cfg);
  m.receive(read_get(1), m.t0);
  m.answer_all(text_of(1000), m.t0);
  auto out = m.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].payload.size() == 1000);
}

TEST_CASE("per-source state is bounded, least recently seen evicted first, and expires") {
  core::amplification_guard g({3, 10min, 4, 64});
  const time_point t0{std::chrono::hours(1)};
  auto source = [](std::uint16_t port) { return core::peer{0, false, {192, 0, 2, 1}, port}; };
  g.on_received(source(1), 100, t0);
  g.mark_verified(source(1), t0);
  for (std::uint16_t p = 2; p <= 4; ++p) g.on_received(source(p), 100, t0 + 1s);
  CHECK(g.stats().sources == 4);
  g.on_received(source(2), 10, t0 + 2s);  // seen again: no longer the oldest after 1
  g.on_received(source(5), 100, t0 + 3s);
  CHECK(g.stats().sources == 4);
  CHECK_FALSE(g.verified(source(1), t0 + 3s));  // the least recently seen went first
  CHECK(g.stats().verified_sources == 0);
  CHECK(g.allowance(source(1), t0 + 3s) == 0u);
  g.on_received(source(6), 100, t0 + 4s);
  CHECK(g.allowance(source(3), t0 + 4s) == 0u);  // next oldest
  CHECK(g.allowance(source(2), t0 + 4s) == 330u);
  CHECK(g.try_send(source(2), 330, t0 + 4s));
  CHECK_FALSE(g.try_send(source(2), 1, t0 + 4s));
  CHECK(g.stats().skipped_sends == 1);
  g.expire(t0 + 4s + 10min);
  CHECK(g.stats().sources == 0);
}

// A separate response to an unverified client: the CON whose MID only it could know.
coap::message separate_con(metered& m, time_point at, std::uint16_t mid = 7) {
  m.receive(request(coap::type::con, coap::codes::get, mid), at);
  auto fw = m.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  m.run_until(at + 1s);  // the empty ACK
  m.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), at + 1500ms);
  auto con = m.sent();
  REQUIRE(con.size() == 1);
  REQUIRE(con[0].type == coap::type::con);
  return con[0];
}

coap::message rst_of(const coap::message& m) {
  coap::message r;
  r.type = coap::type::rst;
  r.mid = m.mid;
  return r;
}

TEST_CASE("an RST of one of our CONs verifies its source too (RFC 7252 §4.2)") {
  metered m;
  auto con = separate_con(m, m.t0);
  m.receive(rst_of(con), m.t0 + 2s);
  CHECK(m.ep.verified(client, m.t0 + 2s));
  CHECK(m.ep.stats().verified_by_rst == 1);
  CHECK(m.ep.stats().verified_by_ack == 0);
  m.receive(read_get(20), m.t0 + 3s);
  m.answer_all(text_of(1000), m.t0 + 3s);
  auto whole = m.sent();
  REQUIRE(whole.size() == 1);
  CHECK(whole[0].payload.size() == 1000);
}

TEST_CASE("guessing MIDs: after 8 unmatched ACKs or RSTs a matching one verifies nothing") {
  metered m;
  auto stray = [&](std::uint16_t mid, coap::type type, time_point at) {
    coap::message a;
    a.type = type;
    a.mid = mid;
    m.receive(a, at);
  };
  SECTION("seven strays within the window still leave the real ACK its effect") {
    for (std::uint16_t i = 0; i < 7; ++i) stray(i, coap::type::ack, m.t0);
    auto con = separate_con(m, m.t0 + 1s);
    m.receive(ack_of(con), m.t0 + 3s);
    CHECK(m.ep.verified(client, m.t0 + 3s));
    CHECK(m.ep.stats().verification_lockouts == 0);
  }
  SECTION("eight lock the source out for ten minutes, then it may verify again") {
    for (std::uint16_t i = 0; i < 8; ++i) stray(i, i % 2 ? coap::type::rst : coap::type::ack, m.t0);
    CHECK(m.ep.stats().unmatched_acks == 8);
    CHECK(m.ep.stats().verification_lockouts == 1);
    auto con = separate_con(m, m.t0 + 1s);
    m.receive(ack_of(con), m.t0 + 3s);  // the right MID, by luck or not
    CHECK_FALSE(m.ep.verified(client, m.t0 + 3s));
    m.run_until(m.t0 + 9min);  // the client stays active (not idle) past the lockout
    m.receive(read_get(30), m.t0 + 9min);
    m.answer_all("x", m.t0 + 9min);
    m.sent();
    auto later = separate_con(m, m.t0 + 10min + 5s, 31);
    m.receive(ack_of(later), m.t0 + 10min + 7s);
    CHECK(m.ep.verified(client, m.t0 + 10min + 7s));
  }
  SECTION("strays spread wider than the window never lock out") {
    for (int i = 0; i < 20; ++i)
      stray(static_cast<std::uint16_t>(i), coap::type::ack, m.t0 + std::chrono::seconds(10 * i));
    CHECK(m.ep.stats().verification_lockouts == 0);
  }
}

TEST_CASE("Echo values: a keyed MAC of the source and the time, short-lived") {
  const core::amplification_guard g({});
  const time_point t0{std::chrono::hours(5)};
  const base::hash_key key{1, 2};
  const core::peer a{0, false, {192, 0, 2, 1}, 5683};
  const core::peer b{0, false, {192, 0, 2, 1}, 5684};
  auto v = core::make_echo_value(key, a, t0);
  CHECK(v.size() == core::echo_value_size);
  CHECK(core::check_echo_value(key, a, v, t0, 60s));
  CHECK(core::check_echo_value(key, a, v, t0 + 59s, 60s));
  CHECK_FALSE(core::check_echo_value(key, a, v, t0 + 60s, 60s));  // stale
  CHECK_FALSE(core::check_echo_value(key, a, v, t0 - 1s, 60s));   // from the future
  CHECK_FALSE(core::check_echo_value(key, b, v, t0, 60s));        // another port
  CHECK_FALSE(core::check_echo_value({1, 3}, a, v, t0, 60s));     // another key
  auto tampered = v;
  tampered[0] ^= 1;  // the time moved, the MAC did not
  CHECK_FALSE(core::check_echo_value(key, a, tampered, t0, 60s));
  CHECK_FALSE(core::check_echo_value(key, a, std::span(v).first(11), t0, 60s));
}

TEST_CASE("Echo (RFC 9175 §2.4): only a client that sent Echo is challenged with 4.01 + Echo") {
  metered m;
  const auto body = text_of(1000);
  SECTION("a client that never sent Echo gets a first block, never a 4.01") {
    m.receive(read_get(1), m.t0);
    m.answer_all(body, m.t0);
    auto out = m.sent();
    REQUIRE(out.size() == 1);
    CHECK(out[0].code == coap::codes::content);
    CHECK(out[0].has(coap::opt::block2));
    CHECK_FALSE(out[0].has(coap::opt::echo));
    CHECK(m.ep.stats().echo_challenges == 0);
  }
  SECTION("a client that sent Echo: 4.01 + Echo, then the request with it gets all of it") {
    auto first = read_get(1);
    first.add_option(coap::opt::echo, coap::bytes{0x01, 0x02, 0x03});  // not ours: no proof
    m.receive(first, m.t0);
    CHECK_FALSE(m.ep.verified(client, m.t0));
    m.answer_all(body, m.t0);
    auto challenge = m.sent();
    REQUIRE(challenge.size() == 1);
    CHECK(challenge[0].code == coap::codes::unauthorized);
    const auto* echo = challenge[0].find(coap::opt::echo);
    REQUIRE(echo != nullptr);
    CHECK(m.within());
    CHECK(m.ep.stats().echo_challenges == 1);

    auto again = read_get(2);
    again.add_option(coap::opt::echo, echo->value);
    m.receive(again, m.t0 + 1s);
    CHECK(m.ep.verified(client, m.t0 + 1s));
    CHECK(m.ep.stats().verified_by_echo == 1);
    m.answer_all(body, m.t0 + 1s);
    auto whole = m.sent();
    REQUIRE(whole.size() == 1);
    CHECK(whole[0].payload_text() == body);
  }
  SECTION("an answer that fits the budget goes out as it is, Echo or not") {
    auto first = read_get(1);
    first.add_option(coap::opt::echo, coap::bytes{0x01});
    m.receive(first, m.t0);
    m.answer_all("21.5", m.t0);
    auto out = m.sent();
    REQUIRE(out.size() == 1);
    CHECK(out[0].code == coap::codes::content);
  }
  SECTION("a stale Echo value verifies nothing and is challenged again") {
    auto first = read_get(1);
    first.add_option(coap::opt::echo, coap::bytes{0x01});
    m.receive(first, m.t0);
    m.answer_all(body, m.t0);
    const auto value = m.sent().at(0).find(coap::opt::echo)->value;
    auto late = read_get(2);
    late.add_option(coap::opt::echo, value);
    m.receive(late, m.t0 + 2min);
    CHECK_FALSE(m.ep.verified(client, m.t0 + 2min));
    m.answer_all(body, m.t0 + 2min);
    auto out = m.sent();
    REQUIRE(out.size() == 1);
    CHECK(out[0].code == coap::codes::unauthorized);
    CHECK(out[0].find(coap::opt::echo)->value != value);
  }
  SECTION("an Echo value made for another port verifies nothing") {
    const core::peer other{0, false, {127, 0, 0, 1}, 40001};
    auto first = read_get(1);
    first.add_option(coap::opt::echo, coap::bytes{0x01});
    m.receive(first, m.t0, other);
    m.answer_all(body, m.t0);
    const auto value = m.sent(other).at(0).find(coap::opt::echo)->value;
    auto stolen = read_get(2);
    stolen.add_option(coap::opt::echo, value);
    m.receive(stolen, m.t0 + 1s);
    CHECK_FALSE(m.ep.verified(client, m.t0 + 1s));
  }
}

TEST_CASE(
    "a handler that cuts its own blocks (Download Content) is asked for a first block within "
    "the budget; other handlers never see the added Block2") {
  metered m;
  auto download = read_get(1);
  m.receive(download, m.t0);
  auto fw = m.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  const auto* asked = fw[0].request.find(coap::opt::block2);
  REQUIRE(asked != nullptr);
  const auto block = coap::decode_block(asked->value);
  REQUIRE(block);
  CHECK(block->num == 0);
  CHECK(block->size() <= 128);  // a ~60-byte request earns ~180 bytes
  SECTION("the handler's own block fits and goes out") {
    auto resp = coap::make_response(fw[0].request, coap::codes::content);
    resp.set_option(coap::opt::block2, coap::encode_block({0, true, block->szx}));
    resp.add_uint_option(coap::opt::size2, 5000);
    resp.payload.assign(block->size(), 0x42);
    m.ep.on_response(fw[0].id, resp, m.t0);
    auto out = m.sent();
    REQUIRE(out.size() == 1);
    CHECK(out[0].payload.size() == block->size());
    CHECK(m.within());
  }
  SECTION("a whole body in that block goes out as it would have without the Block2") {
    auto resp = coap::make_response(fw[0].request, coap::codes::content);
    resp.set_option(coap::opt::block2, coap::encode_block({0, false, block->szx}));
    resp.add_uint_option(coap::opt::size2, 3);
    resp.set_payload("abc");
    m.ep.on_response(fw[0].id, resp, m.t0);
    auto out = m.sent();
    REQUIRE(out.size() == 1);
    CHECK_FALSE(out[0].has(coap::opt::block2));
    CHECK_FALSE(out[0].has(coap::opt::size2));
    CHECK(out[0].payload_text() == "abc");
  }
  SECTION("a handler that answers whole: the floor and the block layer decide as before") {
    auto resp = coap::make_response(fw[0].request, coap::codes::content);
    resp.set_payload(text_of(64));
    m.ep.on_response(fw[0].id, resp, m.t0);
    auto out = m.sent();
    REQUIRE(out.size() == 1);
    CHECK_FALSE(out[0].has(coap::opt::block2));
    CHECK(out[0].payload_text() == text_of(64));
  }
}

TEST_CASE("no Block2 is added for a verified client, a registration or a POST") {
  SECTION("verified") {
    metered m;
    m.ep.mark_verified(client, m.t0);
    m.receive(read_get(1), m.t0);
    auto fw = m.ep.take_forwards();
    REQUIRE(fw.size() == 1);
    CHECK_FALSE(fw[0].request.has(coap::opt::block2));
  }
  SECTION("a registration") {
    metered m;
    m.receive(observe_get(100, {1}), m.t0);
    auto fw = m.ep.take_forwards();
    REQUIRE(fw.size() == 1);
    CHECK_FALSE(fw[0].request.has(coap::opt::block2));
  }
  SECTION("a POST") {
    metered m;
    auto post = read_get(1);
    post.code = coap::codes::post;
    m.receive(post, m.t0);
    auto fw = m.ep.take_forwards();
    REQUIRE(fw.size() == 1);
    CHECK_FALSE(fw[0].request.has(coap::opt::block2));
  }
}

TEST_CASE(
    "a burst of requests: the budget is shared by the answers owed, none is held for the "
    "others") {
  metered m;
  // Eight reads arrive before any answer: 8 x ~60 bytes banked. Sized by the whole budget,
  // the first answers would take 1024-byte blocks and leave the last ones nothing.
  for (std::uint16_t i = 0; i < 8; ++i)
    m.receive(read_get(i, {static_cast<std::uint8_t>(i)}), m.t0);
  m.answer_all(text_of(1000), m.t0);
  auto out = m.sent();
  CHECK(out.size() == 8);
  for (const auto& a : out) {
    REQUIRE(a.has(coap::opt::block2));
    CHECK(coap::decode_block(a.find(coap::opt::block2)->value)->size() <= 256);
  }
  CHECK(m.within());
}

}  // namespace gw::test
