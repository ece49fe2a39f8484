// The HTTP -> CoAP code table of DESIGN.md row by row, the per-procedure exceptions of
// /provision/download, Retry-After -> Max-Age, and the gateway's own answers to upstream failures.
#include "translate/status_map.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "http/http_date.hpp"
#include "tests/unit/translate/translate_test_support.hpp"

namespace gw::translate {
namespace {

using namespace coap::codes;

constexpr std::int64_t now_unix = 1410360840;  // Wed, 10 Sep 2014 14:54:00 GMT

const std::vector<procedure> all_procedures = {
    procedure::write,    procedure::read,         procedure::multi,
    procedure::activate, procedure::list_content, procedure::content_info,
    procedure::download, procedure::timestamp,    procedure::rpc};

bool is_download_family(procedure p) {
  return p == procedure::list_content || p == procedure::content_info || p == procedure::download;
}

TEST_CASE("DESIGN.md's status table, for every procedure", "[translate][status]") {
  struct row {
    unsigned status;
    coap::code code;
  };
  // The rows that hold for every procedure (the exceptions are tested below).
  const std::vector<row> rows = {
      {200, content},
      {206, content},
      {401, unauthorized},
      {404, not_found},
      {405, method_not_allowed},
      {406, not_acceptable},
      {409, conflict},
      {412, precondition_failed},
      {413, request_entity_too_large},
      {415, unsupported_content_format},
      {429, too_many_requests},
      {500, internal_server_error},
      {501, not_implemented},
      {502, bad_gateway},
      {503, service_unavailable},
      {504, gateway_timeout},
  };
  for (auto p : all_procedures) {
    for (const auto& r : rows) {
      INFO(to_string(p) << " " << r.status);
      CHECK(map_status(p, r.status) == r.code);
    }
    INFO(to_string(p));
    if (!is_download_family(p)) {
      CHECK(map_status(p, 400) == bad_request);
      CHECK(map_status(p, 403) == forbidden);
    }
    if (p != procedure::download) CHECK(map_status(p, 416) == bad_request);
  }
  CHECK(map_status(procedure::write, 204) == changed);
  CHECK(map_status(procedure::multi, 204) == changed);
}

TEST_CASE("/provision/download: 204, 400 and 403 mean no device or no content",
          "[translate][status]") {
  for (auto p : {procedure::list_content, procedure::content_info, procedure::download}) {
    INFO(to_string(p));
    CHECK(map_status(p, 204) == not_found);
    CHECK(map_status(p, 400) == not_found);
    CHECK(map_status(p, 403) == not_found);
    CHECK(map_status(p, 404) == not_found);
    CHECK(map_status(p, 401) == unauthorized);
    CHECK(map_status(p, 200) == content);
  }
  // A block past the end (RFC 7959 §2.2) is 4.02 on a download only.
  CHECK(map_status(procedure::download, 416) == bad_option);
  CHECK(map_status(procedure::list_content, 416) == bad_request);
  CHECK(map_status(procedure::content_info, 416) == bad_request);
}

TEST_CASE("unknown 4xx is 4.00, unknown 5xx is 5.02", "[translate][status]") {
  for (auto p : all_procedures) {
    for (unsigned s : {402u, 407u, 408u, 410u, 411u, 414u, 417u, 418u, 428u, 431u, 451u, 499u}) {
      INFO(to_string(p) << " " << s);
      CHECK(map_status(p, s) == bad_request);
    }
    for (unsigned s : {505u, 506u, 507u, 508u, 511u, 599u}) {
      INFO(to_string(p) << " " << s);
      CHECK(map_status(p, s) == bad_gateway);
    }
  }
}

TEST_CASE("Retry-After as delta-seconds or HTTP-date", "[translate][status]") {
  const auto with = [](std::string name, std::string value) {
    return test::make_answer(503, "", {{std::move(name), std::move(value)}});
  };
  CHECK(retry_after_seconds(with("Retry-After", "120"), now_unix) == 120u);
  CHECK(retry_after_seconds(with("retry-after", "0"), now_unix) == 0u);
  CHECK(retry_after_seconds(with("RETRY-AFTER", "7"), now_unix) == 7u);
  CHECK(retry_after_seconds(with("Retry-After", http::format_http_date(now_unix + 30)), now_unix) ==
        30u);
  CHECK(retry_after_seconds(with("Retry-After", "Wed, 10 Sep 2014 14:55:00 GMT"), now_unix) == 60u);
  // The obsolete forms a recipient must accept (RFC 9110 §5.6.7).
  CHECK(retry_after_seconds(with("Retry-After", "Wednesday, 10-Sep-14 14:54:10 GMT"), now_unix) ==
        10u);
  CHECK(retry_after_seconds(with("Retry-After", "Wed Sep 10 14:54:20 2014"), now_unix) == 20u);
  // A date in the past: retry now.
  CHECK(retry_after_seconds(with("Retry-After", http::format_http_date(now_unix - 100)),
                            now_unix) == 0u);
  // Max-Age is a 32-bit uint (RFC 7252 §5.10.5).
  CHECK(retry_after_seconds(with("Retry-After", "99999999999"), now_unix) ==
        std::numeric_limits<std::uint32_t>::max());

  CHECK_FALSE(retry_after_seconds(test::make_answer(503), now_unix).has_value());
  CHECK_FALSE(retry_after_seconds(with("Retry-After", "soon"), now_unix).has_value());
  CHECK_FALSE(retry_after_seconds(with("Retry-After", ""), now_unix).has_value());
  CHECK_FALSE(retry_after_seconds(with("Retry-After", "12s"), now_unix).has_value());
  CHECK_FALSE(retry_after_seconds(with("Retry-Later", "12"), now_unix).has_value());
}

TEST_CASE("error_response: mapped code, diagnostic, Max-Age on 5.03 and 4.29",
          "[translate][status]") {
  const auto request = test::make_request(get, {"1a", "temp"}, {test::cik});

  SECTION("503 with delta-seconds") {
    auto answer = test::make_answer(503, "busy", {{"Retry-After", "120"}});
    auto msg = error_response(request, procedure::read, answer, now_unix);
    test::check_error(msg, service_unavailable);
    CHECK(msg.uint_option(coap::opt::max_age) == 120u);
  }
  SECTION("503 with an HTTP-date") {
    auto answer =
        test::make_answer(503, "", {{"Retry-After", http::format_http_date(now_unix + 45)}});
    auto msg = error_response(request, procedure::write, answer, now_unix);
    test::check_error(msg, service_unavailable);
    CHECK(msg.uint_option(coap::opt::max_age) == 45u);
  }
  SECTION("429 with delta-seconds and with an HTTP-date") {
    auto msg = error_response(request, procedure::rpc,
                              test::make_answer(429, "", {{"Retry-After", "3"}}), now_unix);
    test::check_error(msg, too_many_requests);
    CHECK(msg.uint_option(coap::opt::max_age) == 3u);
    msg = error_response(
        request, procedure::read,
        test::make_answer(429, "", {{"Retry-After", http::format_http_date(now_unix + 9)}}),
        now_unix);
    test::check_error(msg, too_many_requests);
    CHECK(msg.uint_option(coap::opt::max_age) == 9u);
  }
  SECTION("Max-Age is only for 5.03 and 4.29") {
    for (unsigned s : {400u, 401u, 403u, 404u, 500u, 502u, 504u}) {
      INFO(s);
      auto msg = error_response(request, procedure::read,
                                test::make_answer(s, "", {{"Retry-After", "10"}}), now_unix);
      CHECK(msg.code == map_status(procedure::read, s));
      CHECK_FALSE(msg.has(coap::opt::max_age));
      CHECK_FALSE(msg.payload.empty());
    }
  }
  SECTION("an unreadable Retry-After gives no Max-Age") {
    auto msg = error_response(request, procedure::read,
                              test::make_answer(503, "", {{"Retry-After", "later"}}), now_unix);
    test::check_error(msg, service_unavailable);
    CHECK_FALSE(msg.has(coap::opt::max_age));
  }
  SECTION("per-procedure rows apply") {
    auto msg = error_response(request, procedure::list_content, test::make_answer(204), now_unix);
    test::check_error(msg, not_found);
    msg = error_response(request, procedure::download, test::make_answer(416), now_unix);
    test::check_error(msg, bad_option);
    msg = error_response(request, procedure::activate, test::make_answer(409), now_unix);
    test::check_error(msg, conflict);
  }
  SECTION("the upstream body is not echoed") {
    auto msg = error_response(request, procedure::read,
                              test::make_answer(500, "secret stack trace"), now_unix);
    test::check_error(msg, internal_server_error);
    CHECK(test::text(msg).find("secret") == std::string::npos);
  }
}

TEST_CASE("failure_response for each upstream error", "[translate][status]") {
  const auto request = test::make_request(post, {"1a", "temp"}, {test::cik});
  using upstream::error;

  auto msg = failure_response(request, make_error_code(error::timed_out), 9);
  test::check_error(msg, gateway_timeout);
  CHECK_FALSE(msg.has(coap::opt::max_age));

  for (auto e : {error::queue_full, error::shutting_down}) {
    INFO(static_cast<int>(e));
    msg = failure_response(request, make_error_code(e), 9);
    test::check_error(msg, service_unavailable);
    CHECK(msg.uint_option(coap::opt::max_age) == 9u);  // the one Max-Age of busy answers
  }

  // A request the client refuses to send (a CR or LF in a header) is the gateway's own fault.
  test::check_error(failure_response(request, make_error_code(error::bad_request), 9),
                    internal_server_error);

  for (auto e : {error::connect_failed, error::tls_failed, error::protocol_error,
                 error::connection_closed}) {
    INFO(static_cast<int>(e));
    msg = failure_response(request, make_error_code(e), 9);
    test::check_error(msg, bad_gateway);
    CHECK_FALSE(msg.has(coap::opt::max_age));
  }

  // An error of another category (the socket layer's) is a broken upstream too.
  msg = failure_response(request, boost::system::error_code(104, boost::system::system_category()),
                         9);
  test::check_error(msg, bad_gateway);
}

}  // namespace
}  // namespace gw::translate
