#include "sim/message.hpp"

namespace gw::sim {
namespace {

std::optional<std::string_view> find(const header_list& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> request::header(std::string_view name) const {
  return find(headers, name);
}

std::string_view request::path() const {
  const std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view request::query() const {
  const std::string_view t = target;
  const auto q = t.find('?');
  return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

std::optional<std::string_view> response::header(std::string_view name) const {
  return find(headers, name);
}

response make_response(unsigned status, std::string body, std::string_view content_type) {
  response r;
  r.status = status;
  if (!body.empty()) r.headers.emplace_back("Content-Type", std::string(content_type));
  r.body = std::move(body);
  return r;
}

}  // namespace gw::sim
