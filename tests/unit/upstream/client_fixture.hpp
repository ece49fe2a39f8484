#pragma once
// Small builders shared by the client tests.
#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "upstream/http_client.hpp"

namespace gw::upstream::test {

inline std::unique_ptr<http_client> make_client(boost::asio::io_context& io,
                                                client_options options) {
  auto made = make_http_client(io.get_executor(), std::move(options));
  REQUIRE(made.has_value());
  return std::move(*made);
}

inline client_options options_for(std::string base_url) {
  client_options options;
  options.base_url = std::move(base_url);
  return options;
}

inline request get(std::string target) {
  request r;
  r.target = std::move(target);
  return r;
}

inline request post(std::string target, std::string body) {
  request r;
  r.method = "POST";
  r.target = std::move(target);
  r.body = std::move(body);
  return r;
}

inline std::chrono::milliseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace gw::upstream::test
