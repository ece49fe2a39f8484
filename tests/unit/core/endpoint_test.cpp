// The message layer driven by a scripted peer in virtual time.
#include <catch2/catch.hpp>

#include <optional>

#include "tests/unit/core/endpoint_rig.hpp"

using namespace gw;
using namespace std::chrono_literals;
using core::time_point;

using namespace gw::test;

TEST_CASE("CON request answered within the threshold is piggybacked") {
  rig r;
  r.receive(request(coap::type::con, coap::codes::get, 0x1234), r.t0);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  CHECK(fw[0].request.path_string() == "/ts");
  CHECK(r.sent().empty());

  r.ep.on_timer(r.t0 + 999ms);
  CHECK(r.sent().empty());

  auto resp = coap::make_response(fw[0].request, coap::codes::content);
  resp.set_payload("1700000000");
  r.ep.on_response(fw[0].id, resp, r.t0 + 999ms);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == coap::type::ack);
  CHECK(out[0].mid == 0x1234);
  CHECK(out[0].token == coap::bytes{0xAB, 0xCD});
  CHECK(out[0].code == coap::codes::content);
  CHECK(out[0].payload_text() == "1700000000");
}

TEST_CASE("slow handler: empty ACK at the threshold, then a CON response retransmitted") {
  rig r;
  r.receive(request(coap::type::con, coap::codes::get, 7), r.t0);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);

  auto timed = r.run_until(r.t0 + 1s);
  REQUIRE(timed.size() == 1);
  CHECK(timed[0].first == r.t0 + 1s);
  CHECK(timed[0].second.type == coap::type::ack);
  CHECK(timed[0].second.code == coap::codes::empty);
  CHECK(timed[0].second.mid == 7);

  const auto t_resp = r.t0 + 3s;
  r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), t_resp);
  auto first = r.sent();
  REQUIRE(first.size() == 1);
  CHECK(first[0].type == coap::type::con);
  CHECK(first[0].token == coap::bytes{0xAB, 0xCD});
  const auto mid = first[0].mid;

  // RFC 7252 §4.2: initial timeout in [ACK_TIMEOUT, ACK_TIMEOUT * 1.5], doubled each time,
  // MAX_RETRANSMIT = 4 retransmissions, then give up after one more timeout.
  auto resends = r.run_until(t_resp + 1h);
  REQUIRE(resends.size() == 4);
  auto initial = resends[0].first - t_resp;
  CHECK(initial >= 2s);
  CHECK(initial <= 3s);
  for (std::size_t i = 0; i < resends.size(); ++i) {
    CHECK(resends[i].second.mid == mid);
    CHECK(resends[i].second.type == coap::type::con);
    CHECK(resends[i].first - t_resp == initial * ((1 << (i + 1)) - 1));
  }
  CHECK(r.ep.stats().gave_up == 1);
  CHECK(r.ep.idle());
}

TEST_CASE("an ACK stops the retransmission of a separate response") {
  rig r;
  r.receive(request(coap::type::con, coap::codes::get, 7), r.t0);
  auto fw = r.ep.take_forwards();
  r.run_until(r.t0 + 1s);
  r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), r.t0 + 2s);
  auto mid = r.sent().at(0).mid;
  coap::message ack;
  ack.type = coap::type::ack;
  ack.mid = mid;
  r.receive(ack, r.t0 + 3s);
  CHECK(r.run_until(r.t0 + 1h).empty());
  CHECK(r.ep.stats().gave_up == 0);
}

TEST_CASE("an RST cancels the retransmission it refers to") {
  rig r;
  r.receive(request(coap::type::con, coap::codes::get, 7), r.t0);
  auto fw = r.ep.take_forwards();
  r.run_until(r.t0 + 1s);
  r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), r.t0 + 2s);
  auto mid = r.sent().at(0).mid;
  coap::message rst;
  rst.type = coap::type::rst;
  rst.mid = mid;
  r.receive(rst, r.t0 + 2500ms);
  CHECK(r.run_until(r.t0 + 1h).empty());
  CHECK(r.ep.stats().rst_received == 1);
}

TEST_CASE("a duplicate CON is answered from the cache and never forwarded again") {
  rig r;
  auto req = request(coap::type::con, coap::codes::post, 0x37, {});
  req.set_payload("37");
  r.receive(req, r.t0);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);

  // Duplicate while still in progress and before the empty ACK: nothing yet.
  r.receive(req, r.t0 + 100ms);
  CHECK(r.ep.take_forwards().empty());
  CHECK(r.sent().empty());

  r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::changed),
                   r.t0 + 200ms);
  auto answer = r.sent();
  REQUIRE(answer.size() == 1);

  for (int i = 0; i < 3; ++i) {
    r.receive(req, r.t0 + 2s * (i + 1));
    CHECK(r.ep.take_forwards().empty());
    auto again = r.sent();
    REQUIRE(again.size() == 1);
    CHECK(again[0] == answer[0]);
  }
  CHECK(r.ep.stats().duplicates == 4);
}

TEST_CASE("a duplicate after the empty ACK gets the empty ACK again") {
  rig r;
  auto req = request(coap::type::con, coap::codes::get, 9);
  r.receive(req, r.t0);
  REQUIRE(r.ep.take_forwards().size() == 1);
  r.run_until(r.t0 + 1s);
  r.receive(req, r.t0 + 2s);
  auto again = r.sent();
  REQUIRE(again.size() == 1);
  CHECK(again[0].type == coap::type::ack);
  CHECK(again[0].code == coap::codes::empty);
  CHECK(again[0].mid == 9);
}

TEST_CASE("the same MID with a different request is a new request (CoAPExample's fixed MID)") {
  rig r;
  auto write = request(coap::type::con, coap::codes::post, 0x37, {});
  write.set_payload("1");
  r.receive(write, r.t0);
  auto fw1 = r.ep.take_forwards();
  REQUIRE(fw1.size() == 1);
  r.ep.on_response(fw1[0].id, coap::make_response(fw1[0].request, coap::codes::changed), r.t0);
  r.sent();

  auto write2 = write;
  write2.set_payload("2");
  r.receive(write2, r.t0 + 5s);
  auto fw2 = r.ep.take_forwards();
  REQUIRE(fw2.size() == 1);
  CHECK(fw2[0].request.payload_text() == "2");

  // Another peer with the same MID and the same bytes is not a duplicate either.
  r.receive(write2, r.t0 + 6s, other_client);
  CHECK(r.ep.take_forwards().size() == 1);
}

TEST_CASE("a write is new again once EXCHANGE_LIFETIME has passed") {
  rig r;
  auto req = request(coap::type::con, coap::codes::post, 11);
  r.receive(req, r.t0);
  auto fw = r.ep.take_forwards();
  r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), r.t0);
  r.sent();
  const auto lifetime = core::transmission_params{}.exchange_lifetime();
  CHECK(lifetime == 247s);
  r.run_until(r.t0 + lifetime - 1ms);
  r.receive(req, r.t0 + lifetime - 1ms);
  CHECK(r.ep.take_forwards().empty());
  r.run_until(r.t0 + 2 * lifetime);
  r.receive(req, r.t0 + 2 * lifetime);
  CHECK(r.ep.take_forwards().size() == 1);
}

TEST_CASE("NON request gets a NON response; its duplicate the same response") {
  rig r;
  auto req = request(coap::type::non, coap::codes::get, 1, {1, 2, 3, 4});  // ExositeReady SDK
  r.receive(req, r.t0);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), r.t0);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == coap::type::non);
  CHECK(out[0].token == coap::bytes{1, 2, 3, 4});
  r.receive(req, r.t0 + 500ms);  // within the replay window of a GET
  CHECK(r.ep.take_forwards().empty());
  auto again = r.sent();
  REQUIRE(again.size() == 1);
  CHECK(again[0] == out[0]);
  // No separate-response timer for NON.
  CHECK(r.run_until(r.t0 + 10s).empty());
}

TEST_CASE("empty CON (ping) is answered with RST; empty NON is ignored") {
  rig r;
  coap::message ping;
  ping.type = coap::type::con;
  ping.mid = 0x4242;
  r.receive(ping, r.t0);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == coap::type::rst);
  CHECK(out[0].mid == 0x4242);
  CHECK(r.ep.take_forwards().empty());

  ping.type = coap::type::non;
  r.receive(ping, r.t0);
  CHECK(r.sent().empty());
}

TEST_CASE("format errors: RST for a CON with a readable header, silence otherwise") {
  rig r;
  // CON, TKL 9 (reserved), GET, MID 0x0102.
  r.receive_bytes({0x49, 0x01, 0x01, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9}, r.t0);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == coap::type::rst);
  CHECK(out[0].mid == 0x0102);
  // Payload marker with no payload, NON: dropped.
  r.receive_bytes({0x50, 0x01, 0x00, 0x01, 0xFF}, r.t0);
  CHECK(r.sent().empty());
  // Version 2: dropped.
  r.receive_bytes({0x80, 0x01, 0x00, 0x01}, r.t0);
  CHECK(r.sent().empty());
  // Too short to have a header.
  r.receive_bytes({0x40, 0x01}, r.t0);
  CHECK(r.sent().empty());
  CHECK(r.ep.stats().malformed == 4);
  CHECK(r.ep.take_forwards().empty());
}

TEST_CASE("unrecognised critical option: 4.02 with a diagnostic; elective ones ignored") {
  rig r;
  auto req = request(coap::type::con, coap::codes::get, 3);
  req.add_option(9, coap::bytes{1});  // unassigned, critical
  r.receive(req, r.t0);
  CHECK(r.ep.take_forwards().empty());
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].code == coap::codes::bad_option);
  CHECK(out[0].type == coap::type::ack);
  CHECK(out[0].payload_text().find("9") != std::string_view::npos);

  auto elective = request(coap::type::con, coap::codes::get, 4);
  elective.add_option(2050, coap::bytes{1});  // unassigned, elective (even)
  r.receive(elective, r.t0);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 1);
  CHECK_FALSE(fw[0].request.has(2050));

  // A repeated non-repeatable critical option counts as unrecognised (RFC 7252 §5.4.5).
  auto repeated = request(coap::type::con, coap::codes::get, 5);
  repeated.add_uint_option(coap::opt::accept, 0);
  repeated.add_option(coap::opt::uri_host, "a");
  repeated.add_option(coap::opt::uri_host, "b");
  r.receive(repeated, r.t0);
  CHECK(r.ep.take_forwards().empty());
  CHECK(r.sent().at(0).code == coap::codes::bad_option);
}

TEST_CASE("Proxy-Uri is answered 5.05") {
  rig r;
  auto req = request(coap::type::con, coap::codes::get, 3);
  req.add_option(coap::opt::proxy_uri, "coap://example.org/x");
  r.receive(req, r.t0);
  CHECK(r.ep.take_forwards().empty());
  CHECK(r.sent().at(0).code == coap::codes::proxying_not_supported);
}

TEST_CASE("a request larger than max_message_size is answered 4.13 with Size1 and Block1") {
  core::endpoint_config cfg;
  cfg.max_message_size = 64;
  cfg.block.max_body = 4096;
  cfg.block.block_size = 32;
  rig r(cfg);
  auto req = request(coap::type::con, coap::codes::post, 3);
  req.payload.assign(100, 'x');
  r.receive(req, r.t0);
  CHECK(r.ep.take_forwards().empty());
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].code == coap::codes::request_entity_too_large);
  // RFC 7959 §2.9.3: Size1 is the largest body taken (through Block1), not the datagram limit,
  // and Block1's SZX tells the block size to send it in.
  CHECK(out[0].uint_option(coap::opt::size1) == 4096u);
  const auto* block1 = out[0].find(coap::opt::block1);
  REQUIRE(block1 != nullptr);
  CHECK(coap::decode_block(block1->value) == coap::block_value{0, false, 1});
}

TEST_CASE("a full duplicate cache of running requests answers 5.03 with Max-Age") {
  core::endpoint_config cfg;
  cfg.dedup_cache_bytes = 16 * 160;  // a quarter for reads: four entries
  rig r(cfg);
  for (std::uint16_t mid = 1; mid <= 4; ++mid)
    r.receive(request(coap::type::con, coap::codes::get, mid), r.t0);
  CHECK(r.ep.take_forwards().size() == 4);
  r.receive(request(coap::type::con, coap::codes::get, 5), r.t0);
  CHECK(r.ep.take_forwards().empty());
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].code == coap::codes::service_unavailable);
  CHECK(out[0].has(coap::opt::max_age));
}

TEST_CASE("when the store of reads is full, answered reads are evicted oldest first") {
  core::endpoint_config cfg;
  cfg.dedup_cache_bytes = 4 * (2 * 160 + 64);  // a quarter for reads
  rig r(cfg);
  for (std::uint16_t mid = 1; mid <= 3; ++mid) {
    r.receive(request(coap::type::non, coap::codes::get, mid), r.t0);
    auto fw = r.ep.take_forwards();
    REQUIRE(fw.size() == 1);
    r.ep.on_response(fw[0].id, coap::make_response(fw[0].request, coap::codes::content), r.t0);
  }
  r.sent();
  // MID 1 was evicted: a late retransmission of it runs again; MID 3 is still known.
  r.receive(request(coap::type::non, coap::codes::get, 3), r.t0);
  CHECK(r.ep.take_forwards().empty());
  r.receive(request(coap::type::non, coap::codes::get, 1), r.t0);
  CHECK(r.ep.take_forwards().size() == 1);
}

namespace {

// One run of a lossy exchange: a client POSTs a CON, retransmitting it on its own schedule
// (ACK_TIMEOUT 2 s, doubled; RFC 7252 §4.2) until it sees an ACK or the response; the upstream
// answers after 3 s, so the response goes out separately (empty ACK at 1 s, then a CON). The
// endpoint's `drop`-th outgoing datagram (0-based) is lost on the way to the client.
struct lossy_run {
  int sent = 0;          // datagrams the endpoint sent, the lost one included
  bool dropped = false;  // the `drop`-th datagram existed and was lost
  int forwards = 0;      // times the request reached the handler
  int answers = 0;       // 2.04 responses that reached the client
  std::uint64_t gave_up = 0;
};

lossy_run run_lossy_exchange(std::optional<int> drop) {
  rig r;
  lossy_run run;
  const auto req = request(coap::type::con, coap::codes::post, 0x99);
  const auto answer_at = r.t0 + 3s;
  auto client_retransmit_at = r.t0 + 2s;
  auto client_timeout = 2s;
  bool client_done = false;      // the client saw an ACK or the response: it stops retransmitting
  core::request_id pending = 0;  // ids start at 1

  r.receive(req, r.t0);
  // 100 ms steps up to a minute: past MAX_TRANSMIT_SPAN (45 s), so every retransmission the
  // endpoint would make has happened by the end.
  for (auto now = r.t0; now <= r.t0 + 60s; now += 100ms) {
    if (now > r.t0) {
      if (!client_done && now >= client_retransmit_at) {
        r.receive(req, now);
        client_timeout *= 2;
        client_retransmit_at = now + client_timeout;
      }
      r.ep.on_timer(now);
    }
    for (auto& f : r.ep.take_forwards()) {
      ++run.forwards;
      pending = f.id;
    }
    if (pending != 0 && now >= answer_at) {
      r.ep.on_response(pending, coap::make_response(req, coap::codes::changed), now);
      pending = 0;
    }
    for (auto& s : r.ep.take_sends()) {
      if (const int index = run.sent++; drop && index == *drop) {
        run.dropped = true;
        continue;
      }
      auto m = decode(s.datagram);
      if (m.type == coap::type::ack && m.mid == req.mid) client_done = true;
      if (m.code == coap::codes::changed && m.token == req.token) {
        ++run.answers;
        client_done = true;
        if (m.type == coap::type::con) {  // RFC 7252 §5.2.2: ACK the separate response
          coap::message ack;
          ack.type = coap::type::ack;
          ack.mid = m.mid;
          r.receive(ack, now);
        }
      }
    }
  }
  run.gave_up = r.ep.stats().gave_up;
  return run;
}

}  // namespace

TEST_CASE("a lost datagram is recovered by retransmission, the request runs once") {
  const auto clean = run_lossy_exchange(std::nullopt);
  // The script as it runs without loss: the empty ACK and the CON response.
  REQUIRE(clean.sent == 2);
  REQUIRE(clean.forwards == 1);
  REQUIRE(clean.answers == 1);

  // Drop the k-th outgoing datagram, for every k the script produces (STYLE.md §7). A lost
  // empty ACK comes again for the client's retransmitted CON; a lost CON response comes again
  // from the endpoint's own retransmission. Either way one datagram more goes out, the client
  // gets its answer once, and the POST reaches the handler once.
  for (int k = 0; k < clean.sent; ++k) {
    INFO("dropped datagram " << k);
    const auto run = run_lossy_exchange(k);
    CHECK(run.dropped);
    CHECK(run.sent == clean.sent + 1);
    CHECK(run.answers == 1);
    CHECK(run.forwards == 1);
    CHECK(run.gave_up == 0);
  }
}

TEST_CASE("every 5.03 the core makes itself carries the one configured Max-Age") {
  core::endpoint_config cfg;
  cfg.overload_max_age_s = 9;
  cfg.block.max_transfers_per_client = 0;  // the block layer refuses every stored transfer
  cfg.dedup_cache_bytes = 4 * 2 * 160;     // two running safe requests (a quarter of it)
  rig r(cfg);

  // The block layer's refusal: a Block1 transfer it may not start (RFC 7959 §2.9).
  auto upload = request(coap::type::con, coap::codes::post, 1);
  upload.add_option(coap::opt::block1, coap::encode_block({0, true, 2}));
  upload.payload.assign(64, 'x');
  r.receive(upload, r.t0);
  auto out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].code == coap::codes::service_unavailable);
  CHECK(out[0].uint_option(coap::opt::max_age) == 9u);

  // The message layer's refusal: the duplicate cache is full of running requests.
  r.receive(request(coap::type::con, coap::codes::get, 2), r.t0);
  r.receive(request(coap::type::con, coap::codes::get, 3), r.t0);
  CHECK(r.ep.take_forwards().size() == 2);
  r.receive(request(coap::type::con, coap::codes::get, 4), r.t0);
  out = r.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].code == coap::codes::service_unavailable);
  CHECK(out[0].uint_option(coap::opt::max_age) == 9u);
}

TEST_CASE("a coaps peer and a plain peer of one address and port share no state") {
  // RFC 7252 §9: coaps is its own transport. The same POST with the same MID from the same
  // address and port, once in the clear and once through a DTLS session, is two requests: the
  // second is no duplicate of the first and runs too.
  rig r;
  core::peer secure = client;
  secure.via = core::transport::dtls;
  secure.forget();  // a changed field: the memo copied from `client` is not its hash
  const auto post = request(coap::type::con, coap::codes::post, 0x0042);
  r.receive(post, r.t0);
  r.receive(post, r.t0 + 1ms, secure);
  auto fw = r.ep.take_forwards();
  REQUIRE(fw.size() == 2);
  CHECK(fw[0].peer == client);
  CHECK(fw[1].peer == secure);
  CHECK(r.ep.stats().duplicates == 0);
  // Each answer goes back over the transport its request came in on.
  r.ep.on_response(fw[1].id, coap::make_response(fw[1].request, coap::codes::changed), r.t0 + 2ms);
  auto sends = r.ep.take_sends();
  REQUIRE(sends.size() == 1);
  CHECK(sends[0].peer.via == core::transport::dtls);
}
