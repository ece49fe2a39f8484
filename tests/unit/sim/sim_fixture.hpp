#pragma once
// Shared by the sim's unit tests: the example state at a fixed time, request builders and a
// clock that is only ever an argument.
#include <chrono>
#include <string>
#include <string_view>
#include <variant>

#include <catch2/catch.hpp>

#include "sim/message.hpp"
#include "sim/state_loader.hpp"

namespace sim_test {

using gw::sim::request;
using gw::sim::response;

inline constexpr gw::sim::unix_seconds t0 = 1700000000;
inline constexpr std::string_view demo_cik = "a32c85ba9dda45823be416246cf8b433baa068d7";
inline constexpr std::string_view other_cik = "5e1d4c0f7b2a9e8d3c6b1a0f9e8d7c6b5a493827";

inline gw::sim::time_point at(gw::sim::unix_seconds s, int ms = 0) {
  return gw::sim::time_point{std::chrono::seconds{s}} + std::chrono::milliseconds{ms};
}

inline gw::sim::state example_state() {
  auto loaded = gw::sim::load_state_file(GW_SIM_EXAMPLE_STATE, t0);
  INFO((loaded ? std::string() : loaded.error().message));
  REQUIRE(loaded.has_value());
  return std::move(*loaded);
}

inline request get(std::string target, gw::sim::header_list headers = {}) {
  return {"GET", std::move(target), std::move(headers), {}};
}

inline request post(std::string target, std::string body, gw::sim::header_list headers = {}) {
  return {"POST", std::move(target), std::move(headers), std::move(body)};
}

inline gw::sim::header_list with_cik(std::string_view cik = demo_cik,
                                     gw::sim::header_list more = {}) {
  more.emplace_back("X-Exosite-CIK", std::string(cik));
  return more;
}

// The outcome must be an immediate response.
inline response now_answer(gw::sim::outcome out) {
  REQUIRE(std::holds_alternative<response>(out));
  return std::get<response>(std::move(out));
}

// The outcome must be a deferred.
inline std::unique_ptr<gw::sim::deferred> deferred_of(gw::sim::outcome out) {
  REQUIRE(std::holds_alternative<std::unique_ptr<gw::sim::deferred>>(out));
  return std::get<std::unique_ptr<gw::sim::deferred>>(std::move(out));
}

}  // namespace sim_test
