#include "gateway/server/psk_table.hpp"

#include <optional>

namespace gw::server {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The identity before the first unescaped ':', unescaped; `rest` gets what follows the ':'.
std::optional<std::string> read_identity(std::string_view line, std::string_view& rest,
                                         std::string& problem) {
  std::string identity;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '\\') {
      if (i + 1 == line.size() || (line[i + 1] != ':' && line[i + 1] != '\\')) {
        problem = "identity: '\\' must be followed by ':' or '\\'";
        return std::nullopt;
      }
      identity += line[++i];
    } else if (c == ':') {
      rest = line.substr(i + 1);
      // Spaces around the identity are layout; escaped ones at its ends are not written.
      auto trimmed = trim(identity);
      return std::string(trimmed);
    } else {
      identity += c;
    }
  }
  problem = "expected 'identity: hex:KEY' or 'identity: text:KEY'";
  return std::nullopt;
}

std::optional<psk_table::key> read_key(std::string_view text, std::string& problem) {
  text = trim(text);
  psk_table::key key;
  if (text.starts_with("hex:")) {
    auto digits = trim(text.substr(4));
    if (digits.size() % 2 != 0) {
      problem = "hex key: odd number of digits";
      return std::nullopt;
    }
    for (std::size_t i = 0; i < digits.size(); i += 2) {
      const int hi = hex_digit(digits[i]);
      const int lo = hex_digit(digits[i + 1]);
      if (hi < 0 || lo < 0) {
        problem = "hex key: not a hex digit";  // never the key itself
        return std::nullopt;
      }
      key.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
    }
  } else if (text.starts_with("text:")) {
    auto value = text.substr(5);
    key.assign(value.begin(), value.end());
  } else {
    problem = "key must start with hex: or text:";
    return std::nullopt;
  }
  if (key.empty() || key.size() > max_psk_key) {
    problem = "key must be 1 to " + std::to_string(max_psk_key) + " bytes";
    return std::nullopt;
  }
  return key;
}

}  // namespace

const psk_table::key* psk_table::find(std::string_view identity) const {
  auto it = keys_.find(identity);
  return it == keys_.end() ? nullptr : &it->second;
}

bool psk_table::add(std::string identity, key k) {
  return keys_.emplace(std::move(identity), std::move(k)).second;
}

std::vector<std::string> psk_table::changed_in(const psk_table& next) const {
  std::vector<std::string> changed;
  for (const auto& [identity, k] : keys_) {
    const key* now = next.find(identity);
    if (now == nullptr || *now != k) changed.push_back(identity);
  }
  return changed;
}

psk_parse_result parse_psk_file(std::string_view text) {
  psk_parse_result out;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const auto end = text.find('\n');
    const auto raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    const auto line = trim(raw);
    if (line.empty() || line.front() == '#') continue;

    std::string problem;
    std::string_view rest;
    auto identity = read_identity(line, rest, problem);
    if (identity && (identity->empty() || identity->size() > max_psk_identity))
      problem = "identity must be 1 to " + std::to_string(max_psk_identity) + " bytes";
    std::optional<psk_table::key> key;
    if (problem.empty()) key = read_key(rest, problem);
    if (problem.empty() && !out.table.add(*identity, std::move(*key)))
      problem = "identity listed twice";
    if (!problem.empty()) out.errors.push_back({number, std::move(problem)});
  }
  return out;
}

}  // namespace gw::server
