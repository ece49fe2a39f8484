#include "http/http_date.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>

namespace gw::http {
namespace {

using namespace std::chrono;

constexpr std::array<std::string_view, 7> short_days{"Sun", "Mon", "Tue", "Wed",
                                                     "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> long_days{"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                    "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// A cursor over the text; every reader consumes exactly what the grammar allows.
class scanner {
 public:
  explicit scanner(std::string_view text) : text_(text) {}

  bool done() const { return text_.empty(); }

  bool literal(std::string_view expected) {
    if (text_.substr(0, expected.size()) != expected) return false;
    text_.remove_prefix(expected.size());
    return true;
  }

  // Exactly `count` digits.
  std::optional<int> digits(std::size_t count) {
    if (text_.size() < count) return std::nullopt;
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text_[i];
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + (c - '0');
    }
    text_.remove_prefix(count);
    return value;
  }

  template <std::size_t N>
  std::optional<int> one_of(const std::array<std::string_view, N>& names) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) return static_cast<int>(i);
    }
    return std::nullopt;
  }

 private:
  std::string_view text_;
};

struct fields {
  int year, month, day, hour, minute, second;
};

// time-of-day = hour ":" minute ":" second; second 60 allows a leap second.
bool read_time(scanner& s, fields& f) {
  const auto h = s.digits(2);
  if (!h || !s.literal(":")) return false;
  const auto m = s.digits(2);
  if (!m || !s.literal(":")) return false;
  const auto sec = s.digits(2);
  if (!sec) return false;
  f.hour = *h;
  f.minute = *m;
  f.second = *sec;
  return f.hour <= 23 && f.minute <= 59 && f.second <= 60;
}

std::optional<std::int64_t> to_unix(const fields& f) {
  const year_month_day date{year{f.year}, month{static_cast<unsigned>(f.month)},
                            day{static_cast<unsigned>(f.day)}};
  if (!date.ok()) return std::nullopt;
  const auto days_since_epoch = sys_days{date}.time_since_epoch().count();
  return std::int64_t{days_since_epoch} * 86400 + f.hour * 3600 + f.minute * 60 + f.second;
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<fields> imf_fixdate(std::string_view text) {
  scanner s{text};
  fields f{};
  if (!s.one_of(short_days) || !s.literal(", ")) return std::nullopt;
  const auto d = s.digits(2);
  if (!d || !s.literal(" ")) return std::nullopt;
  const auto mon = s.one_of(months);
  if (!mon || !s.literal(" ")) return std::nullopt;
  const auto y = s.digits(4);
  if (!y || !s.literal(" ") || !read_time(s, f) || !s.literal(" GMT") || !s.done()) {
    return std::nullopt;
  }
  f.day = *d;
  f.month = *mon + 1;
  f.year = *y;
  return f;
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
std::optional<fields> rfc850_date(std::string_view text) {
  scanner s{text};
  fields f{};
  if (!s.one_of(long_days) || !s.literal(", ")) return std::nullopt;
  const auto d = s.digits(2);
  if (!d || !s.literal("-")) return std::nullopt;
  const auto mon = s.one_of(months);
  if (!mon || !s.literal("-")) return std::nullopt;
  const auto y = s.digits(2);
  if (!y || !s.literal(" ") || !read_time(s, f) || !s.literal(" GMT") || !s.done()) {
    return std::nullopt;
  }
  f.day = *d;
  f.month = *mon + 1;
  f.year = *y < 70 ? 2000 + *y : 1900 + *y;
  return f;
}

// "Sun Nov  6 08:49:37 1994": the day is two digits or a space and one digit.
std::optional<fields> asctime_date(std::string_view text) {
  scanner s{text};
  fields f{};
  if (!s.one_of(short_days) || !s.literal(" ")) return std::nullopt;
  const auto mon = s.one_of(months);
  if (!mon || !s.literal(" ")) return std::nullopt;
  std::optional<int> d = s.literal(" ") ? s.digits(1) : s.digits(2);
  if (!d || !s.literal(" ") || !read_time(s, f) || !s.literal(" ")) return std::nullopt;
  const auto y = s.digits(4);
  if (!y || !s.done()) return std::nullopt;
  f.day = *d;
  f.month = *mon + 1;
  f.year = *y;
  return f;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string format_http_date(std::int64_t unix_seconds) {
  const auto day_count = unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
  const auto second_of_day = unix_seconds - day_count * 86400;
  const sys_days date_point{days{day_count}};
  const year_month_day date{date_point};
  const weekday wd{date_point};
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%s, %02u %s %04d %02d:%02d:%02d GMT",
                short_days[wd.c_encoding()].data(), static_cast<unsigned>(date.day()),
                months[static_cast<unsigned>(date.month()) - 1].data(),
                static_cast<int>(date.year()), static_cast<int>(second_of_day / 3600),
                static_cast<int>(second_of_day / 60 % 60), static_cast<int>(second_of_day % 60));
  return buffer;
}

boost::system::result<std::int64_t> parse_http_date(std::string_view text) {
  auto f = imf_fixdate(text);
  if (!f) f = rfc850_date(text);
  if (!f) f = asctime_date(text);
  if (!f) return make_error_code(error::bad_date);
  const auto seconds = to_unix(*f);
  if (!seconds) return make_error_code(error::bad_date);
  return *seconds;
}

boost::system::result<std::int64_t> parse_time_header(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text.front() >= '0' && text.front() <= '9') {
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
      return make_error_code(error::bad_number);
    }
    return value;
  }
  return parse_http_date(text);
}

}  // namespace gw::http
