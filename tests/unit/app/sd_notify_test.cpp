#include "app/sd_notify.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace gw::app::systemd {
namespace {

using namespace std::chrono_literals;

// Sets (or unsets, for nullopt) an environment variable for one scope, then restores it.
class env_var {
 public:
  env_var(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) saved_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~env_var() {
    if (saved_)
      ::setenv(name_, saved_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  env_var(const env_var&) = delete;
  env_var& operator=(const env_var&) = delete;

 private:
  const char* name_;
  std::optional<std::string> saved_;
};

// The service manager's end: a datagram socket bound in a fresh temporary directory, or in the
// abstract namespace. sd_notify sends synchronously, so every message is already queued when
// the call returns and take() never needs to wait.
class notify_listener {
 public:
  explicit notify_listener(bool abstract = false) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    socklen_t length = 0;
    if (abstract) {
      std::string name = "coap-gateway-test-" + std::to_string(::getpid()) + "-" +
                         std::to_string(std::time(nullptr));
      std::memcpy(a.sun_path + 1, name.data(), name.size());
      length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
      env_name_ = "@" + name;
    } else {
      std::string templ = (std::filesystem::temp_directory_path() / "gw-sdnotify-XXXXXX").string();
      REQUIRE(::mkdtemp(templ.data()) != nullptr);
      dir_ = templ;
      env_name_ = templ + "/notify";
      std::memcpy(a.sun_path, env_name_.data(), env_name_.size());
      length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + env_name_.size() + 1);
    }
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&a), length) == 0);
  }
  ~notify_listener() {
    ::close(fd_);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  notify_listener(const notify_listener&) = delete;
  notify_listener& operator=(const notify_listener&) = delete;

  const std::string& name() const { return env_name_; }

  // The next datagram, or nullopt if none is queued.
  std::optional<std::string> take() {
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0) {
      REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK));
      return std::nullopt;
    }
    return std::string(buffer, static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
  std::string dir_;
  std::string env_name_;
};

std::uint64_t monotonic_usec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1'000u;
}

void check_every_message_arrives_exactly(notify_listener& listener) {
  env_var socket("NOTIFY_SOCKET", listener.name());

  CHECK_FALSE(notify_ready());
  CHECK(listener.take() == "READY=1");
  CHECK_FALSE(notify_stopping());
  CHECK(listener.take() == "STOPPING=1");
  CHECK_FALSE(notify_watchdog());
  CHECK(listener.take() == "WATCHDOG=1");
  CHECK_FALSE(notify_status("serving 2 workers"));
  CHECK(listener.take() == "STATUS=serving 2 workers");
  CHECK_FALSE(notify("READY=1\nSTATUS=x"));
  CHECK(listener.take() == "READY=1\nSTATUS=x");

  const auto before = monotonic_usec();
  CHECK_FALSE(notify_reloading());
  const auto after = monotonic_usec();
  auto reloading = listener.take();
  REQUIRE(reloading);
  const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
  REQUIRE(reloading->starts_with(prefix));
  const std::string digits = reloading->substr(prefix.size());
  REQUIRE(!digits.empty());
  REQUIRE(digits.find_first_not_of("0123456789") == std::string::npos);
  const auto stamp = std::stoull(digits);
  CHECK(stamp >= before);
  CHECK(stamp <= after);

  CHECK_FALSE(listener.take());  // nothing more than was asked for
}

TEST_CASE("sd_notify: each message arrives exactly at a socket path") {
  notify_listener listener;
  check_every_message_arrives_exactly(listener);
}

TEST_CASE("sd_notify: each message arrives exactly at an abstract socket") {
  notify_listener listener(true);
  REQUIRE(listener.name().front() == '@');
  check_every_message_arrives_exactly(listener);
}

TEST_CASE("sd_notify: status text cannot inject assignments") {
  notify_listener listener;
  env_var socket("NOTIFY_SOCKET", listener.name());
  CHECK_FALSE(notify_status("line one\nREADY=1\r\n"));
  CHECK(listener.take() == "STATUS=line one READY=1  ");
  CHECK_FALSE(notify_status(""));
  CHECK(listener.take() == "STATUS=");
  const std::string long_text(2000, 'x');
  CHECK_FALSE(notify_status(long_text));
  CHECK(listener.take() == "STATUS=" + long_text);
}

TEST_CASE("sd_notify: no NOTIFY_SOCKET means a silent no-op") {
  notify_listener listener;  // bound, but not named in the environment
  const std::optional<std::string> unset_or_empty[] = {std::nullopt, std::string()};
  for (const auto& value : unset_or_empty) {
    env_var socket("NOTIFY_SOCKET", value);
    CHECK_FALSE(notify_ready());
    CHECK_FALSE(notify_stopping());
    CHECK_FALSE(notify_reloading());
    CHECK_FALSE(notify_status("x"));
    CHECK_FALSE(notify_watchdog());
    CHECK_FALSE(listener.take());
  }
}

TEST_CASE("sd_notify: a bad NOTIFY_SOCKET is an error value, not an exception") {
  const auto invalid = make_error_code(boost::system::errc::invalid_argument);
  const std::vector<std::string> bad_names = {
      "relative/path", "@", "/", "x", "/" + std::string(200, 'a'), "@" + std::string(200, 'a')};
  for (const auto& bad : bad_names) {
    CAPTURE(bad);
    env_var socket("NOTIFY_SOCKET", bad);
    CHECK(notify_ready() == invalid);
  }

  std::string missing = (std::filesystem::temp_directory_path() / "gw-sdnotify-missing").string();
  std::filesystem::remove_all(missing);
  env_var socket("NOTIFY_SOCKET", missing + "/notify");
  auto ec = notify_ready();
  CHECK(ec);
  CHECK(ec != invalid);  // a well-formed name whose socket is not there: the kernel's errno
}

TEST_CASE("sd_notify: watchdog interval is half of WATCHDOG_USEC") {
  struct row {
    const char* usec;
    const char* pid;
    std::optional<std::chrono::microseconds> expected;
  };
  const long self = 4242;
  const row rows[] = {
      {"30000000", nullptr, 15s},
      {"30000000", "4242", 15s},
      {"1000", nullptr, 500us},
      {"3", nullptr, 1us},
      {"1", nullptr, 1us},
      {"18446744073709551615", nullptr, std::chrono::microseconds(9223372036854775807)},
      {"30000000", "4243", std::nullopt},  // meant for another process
      {"30000000", "", std::nullopt},
      {"30000000", "42x", std::nullopt},
      {nullptr, nullptr, std::nullopt},
      {nullptr, "4242", std::nullopt},
      {"", nullptr, std::nullopt},
      {"0", nullptr, std::nullopt},
      {"-5", nullptr, std::nullopt},
      {"30s", nullptr, std::nullopt},
      {" 30", nullptr, std::nullopt},
      {"18446744073709551616", nullptr, std::nullopt},  // beyond uint64
  };
  for (const auto& r : rows) {
    CAPTURE(r.usec ? r.usec : "(unset)", r.pid ? r.pid : "(unset)");
    CHECK(watchdog_interval(r.usec, r.pid, self) == r.expected);
  }
}

TEST_CASE("sd_notify: watchdog interval from the environment") {
  const std::string self = std::to_string(::getpid());
  {
    env_var usec("WATCHDOG_USEC", "30000000");
    env_var pid("WATCHDOG_PID", std::nullopt);
    CHECK(watchdog_interval() == std::optional(std::chrono::microseconds(15s)));
  }
  {
    env_var usec("WATCHDOG_USEC", "30000000");
    env_var pid("WATCHDOG_PID", self);
    CHECK(watchdog_interval() == std::optional(std::chrono::microseconds(15s)));
  }
  {
    env_var usec("WATCHDOG_USEC", "30000000");
    env_var pid("WATCHDOG_PID", std::to_string(::getpid() + 1));
    CHECK_FALSE(watchdog_interval());
  }
  {
    env_var usec("WATCHDOG_USEC", std::nullopt);
    env_var pid("WATCHDOG_PID", std::nullopt);
    CHECK_FALSE(watchdog_interval());
  }
}

}  // namespace
}  // namespace gw::app::systemd
