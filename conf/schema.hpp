#pragma once
// The one table of config keys. Each row names a dotted key path, the config field it sets, the
// kind of value, the allowed range and a doc line. Sections ("coap", "upstream.tls") are not rows:
// they are the prefixes of the row paths, so a key added here is known to the loader, to the
// error messages and to describe_keys() at once.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "conf/config.hpp"

namespace gw::conf {

enum class value_kind {
  count,                 // decimal integer
  size,                  // bytes: 1152, 64KiB, 16MiB, 1GiB
  duration,              // 500ms, 2s, 5m, 1h, 1d
  real,                  // decimal number
  boolean,               // true | false
  text,                  // any string; null reads as ""
  choice,                // one of key_spec::choices
  url,                   // http:// or https:// with a host
  optional_listen,       // host:port, or "" / null for off
  listen_list,           // non-empty sequence of host:port
  optional_listen_list,  // sequence of host:port, empty = off
};

template <class T>
using field_ref = T& (*)(config&);

using field = std::variant<field_ref<std::uint32_t>, field_ref<std::uint64_t>, field_ref<duration>,
                           field_ref<double>, field_ref<bool>, field_ref<std::string>,
                           field_ref<std::vector<listen_address>>>;

// Inclusive bounds in the field's unit: milliseconds for durations, bytes for sizes. Doubles hold
// every bound of the table exactly (all are far below 2^53).
struct key_range {
  double lo = 0;
  double hi = 0;
};

struct key_spec {
  std::string_view path;
  value_kind kind;
  field target;
  key_range range;           // count, size, duration, real
  std::string_view choices;  // choice: "trace|debug|info"
  std::string_view doc;
  // A rule beyond the range, run on the loaded config; returns "" or the problem, phrased about
  // this key. `check_reads` names another key the rule depends on: the rule is skipped when that
  // key was refused, and reported on that key's line when this one was left at its default.
  std::string (*check)(const config&) = nullptr;
  std::string_view check_reads = {};

  template <class T>
  constexpr bool stores() const {
    return std::holds_alternative<field_ref<T>>(target);
  }
};

std::span<const key_spec> schema();
const key_spec* find_key(std::string_view path);

// Keys renamed in this release. The config is a conffile, so refusing an old name would stop the
// service after an upgrade: an old name is still read for one release, with a warning naming the
// new keys, and its value goes to each new key the file does not set itself.
struct renamed_key {
  std::string_view old_path;
  std::string_view new_paths;  // space-separated
  std::string_view why;
};
std::span<const renamed_key> renamed_keys();
const renamed_key* find_renamed(std::string_view path);
// True for "" (the top level) and every proper prefix of a key path ("coap", "upstream.tls").
bool is_section(std::string_view path);
// Names directly under `section` (keys and sub-sections), in table order.
std::vector<std::string_view> names_under(std::string_view section);

// Parses `text` as the row's kind, checks the range and stores it. Returns "" or the problem.
// Not for the listen lists, whose items the loader reads one by one.
std::string set_from_text(const key_spec& key, std::string_view text, config& c);
void set_listen_list(const key_spec& key, std::vector<listen_address> list, config& c);

// The field's value in the syntax the YAML file uses.
std::string format_value(const key_spec& key, config& c);
// What the key expects, for "expected ..., got ..." messages.
std::string describe_kind(const key_spec& key);

// The table for people: `coap-gateway --help-config`, docs.
struct key_doc {
  std::string path;
  std::string expects;  // describe_kind()
  std::string allowed;  // "100ms to 1m", "" when any value of the kind is allowed
  std::string default_value;
  std::string doc;
};
std::vector<key_doc> describe_keys();

}  // namespace gw::conf
