#include "app/sd_notify.hpp"

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace gw::app::systemd {

namespace {

using boost::system::error_code;

error_code last_errno() {
  return error_code(errno, boost::system::system_category());
}

error_code invalid_argument() {
  return make_error_code(boost::system::errc::invalid_argument);
}

// sockaddr_un for $NOTIFY_SOCKET: "/path" (a socket file) or "@name" (Linux abstract
// namespace: a leading NUL, the name, and a length that counts no terminator).
struct socket_address {
  sockaddr_un address{};
  socklen_t length = 0;
};

bool make_address(std::string_view name, socket_address& out) {
  out.address.sun_family = AF_UNIX;
  constexpr std::size_t capacity = sizeof(out.address.sun_path);
  const auto base = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
  if (name.size() >= 2 && name.front() == '@') {
    if (name.size() > capacity) return false;  // '@' becomes the NUL: same length
    out.address.sun_path[0] = '\0';
    std::memcpy(out.address.sun_path + 1, name.data() + 1, name.size() - 1);
    out.length = base + static_cast<socklen_t>(name.size());
    return true;
  }
  if (name.size() >= 2 && name.front() == '/') {
    if (name.size() >= capacity) return false;  // room for the terminating NUL
    std::memcpy(out.address.sun_path, name.data(), name.size());
    out.length = base + static_cast<socklen_t>(name.size() + 1);
    return true;
  }
  return false;
}

// Closes the descriptor on every path out of notify().
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

template <typename T>
bool parse_decimal(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::uint64_t monotonic_usec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1'000u;
}

}  // namespace

error_code notify(std::string_view state) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  if (name == nullptr || *name == '\0') return {};
  socket_address to;
  if (!make_address(name, to)) return invalid_argument();

  fd_guard socket{::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (socket.fd < 0) return last_errno();
  for (;;) {
    ssize_t sent = ::sendto(socket.fd, state.data(), state.size(), MSG_NOSIGNAL,
                            reinterpret_cast<const sockaddr*>(&to.address), to.length);
    if (sent >= 0) {
      // A datagram goes whole or not at all; anything else is a broken kernel promise.
      if (static_cast<std::size_t>(sent) != state.size())
        return make_error_code(boost::system::errc::message_size);
      return {};
    }
    if (errno != EINTR) return last_errno();
  }
}

error_code notify_ready() {
  return notify("READY=1");
}

error_code notify_stopping() {
  return notify("STOPPING=1");
}

error_code notify_reloading() {
  return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()));
}

error_code notify_status(std::string_view text) {
  std::string state = "STATUS=";
  state.reserve(state.size() + text.size());
  for (char c : text) state.push_back(c == '\n' || c == '\r' ? ' ' : c);
  return notify(state);
}

error_code notify_watchdog() {
  return notify("WATCHDOG=1");
}

std::optional<std::chrono::microseconds> watchdog_interval(const char* watchdog_usec,
                                                           const char* watchdog_pid,
                                                           long self_pid) {
  if (watchdog_usec == nullptr) return std::nullopt;
  std::uint64_t usec = 0;
  if (!parse_decimal(std::string_view(watchdog_usec), usec) || usec == 0) return std::nullopt;
  if (watchdog_pid != nullptr) {
    long pid = 0;
    if (!parse_decimal(std::string_view(watchdog_pid), pid) || pid != self_pid) return std::nullopt;
  }
  // sd_watchdog_enabled(3): ping at half the timeout, so one late ping is not yet fatal.
  // Half of a uint64 always fits the signed 64-bit rep of microseconds.
  const std::uint64_t half = usec / 2 == 0 ? 1 : usec / 2;
  return std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(half));
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  return watchdog_interval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"),
                           static_cast<long>(::getpid()));
}

}  // namespace gw::app::systemd
