#include "app/state_file.hpp"

#include <cerrno>
#include <chrono>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/settings.hpp"
#include "base/keyed_hash.hpp"
#include "log/log.hpp"

namespace gw::app {
namespace {

constexpr const char* file_name = "observations.state";

boost::system::error_code last_error() {
  return {errno, boost::system::system_category()};
}

bool write_all(int fd, std::span<const std::uint8_t> data) {
  while (!data.empty()) {
    const auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

std::array<std::uint8_t, 16> key_bytes(const base::hash_key& k) {
  std::array<std::uint8_t, 16> out{};
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<std::uint8_t>(k.k0 >> (8 * i));
    out[8 + i] = static_cast<std::uint8_t>(k.k1 >> (8 * i));
  }
  return out;
}

void move_aside(const std::string& path, const char* suffix) {
  std::error_code ec;
  std::filesystem::rename(path, path + suffix, ec);
  if (ec) std::filesystem::remove(path, ec);  // never restore it twice, whatever it takes
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string state_file_path(const conf::config& config) {
  return (std::filesystem::path(config.state.directory) / file_name).string();
}

std::string listen_identity(const conf::config& config) {
  std::string out;
  for (const auto& l : config.coap.listen)
    out += (out.empty() ? "" : " ") + l.host + ":" + std::to_string(l.port);
  return out;
}

boost::system::error_code write_file_atomically(const std::string& path,
                                                std::span<const std::uint8_t> data) {
  const std::filesystem::path target(path);
  const auto temp = path + ".tmp";
  ::unlink(temp.c_str());  // a leftover of a crash
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return last_error();
  if (!write_all(fd, data) || ::fsync(fd) != 0) {
    auto ec = last_error();
    ::close(fd);
    ::unlink(temp.c_str());
    return ec;
  }
  if (::close(fd) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
    auto ec = last_error();
    ::unlink(temp.c_str());
    return ec;
  }
  const auto dir = target.has_parent_path() ? target.parent_path().string() : std::string(".");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return last_error();
  const bool synced = ::fsync(dfd) == 0;
  auto ec = synced ? boost::system::error_code{} : last_error();
  ::close(dfd);
  return ec;
}

boost::system::result<std::vector<std::uint8_t>> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return last_error();
  std::vector<std::uint8_t> out;
  std::uint8_t buffer[65536];
  for (;;) {
    const auto n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto ec = last_error();
      ::close(fd);
      return ec;
    }
    if (n == 0) break;
    out.insert(out.end(), buffer, buffer + n);
  }
  ::close(fd);
  return out;
}

std::vector<core::worker_snapshot> take_restorable(const conf::config& config) {
  if (config.state.directory.empty()) return {};
  const auto path = state_file_path(config);
  auto data = read_file(path);
  if (!data) {
    if (data.error() != boost::system::errc::no_such_file_or_directory)
      GW_LOG(warn, "state",
             "cannot read " + path + ": " + data.error().message() +
                 "; starting without restored observations");
    return {};
  }
  auto snapshot = core::decode_snapshot(*data);
  if (!snapshot) {
    GW_LOG(warn, "state",
           path + ": " + snapshot.error().message() +
               "; ignored (moved to .rejected), nothing restored");
    move_aside(path, ".rejected");
    return {};
  }
  const auto workers = server_options_from(config).workers;
  if (snapshot->listen != listen_identity(config) || snapshot->workers != workers ||
      snapshot->per_worker.size() != workers) {
    GW_LOG(warn, "state",
           path + ": written with coap.listen \"" + snapshot->listen + "\" and " +
               std::to_string(snapshot->workers) +
               " workers; those changed, so clients may reach other workers: "
               "nothing restored");
    move_aside(path, ".rejected");
    return {};
  }
  // Moved aside before anything is restored: a crash during the restore must not make the next
  // start restore the same snapshot again.
  move_aside(path, ".restored");
  // Request fingerprints in the snapshot are keyed hashes; they match retransmissions only under
  // the key they were computed with. No table has hashed anything yet (the workers are made
  // later), so the process adopts it; it stays as secret as the file (0600).
  base::set_process_hash_key(
      base::hash_key_from_bytes(std::span<const std::uint8_t, 16>(snapshot->hash_key.data(), 16)));
  const auto age_s = (wall_ms() - snapshot->written_ms) / 1000;
  GW_LOG(info, "state",
         "restoring the snapshot written " + std::to_string(age_s) + " s ago from " + path);
  return std::move(snapshot->per_worker);
}

void save_state(const conf::config& config, std::vector<core::worker_snapshot> per_worker) {
  if (config.state.directory.empty()) return;
  const auto path = state_file_path(config);
  for (const auto& l : config.coap.listen) {
    if (l.port == 0) {
      GW_LOG(info, "state", "coap.listen has port 0 (a new port each start): nothing saved");
      return;
    }
  }
  core::gateway_snapshot s;
  s.written_ms = wall_ms();
  s.listen = listen_identity(config);
  s.workers = static_cast<std::uint32_t>(per_worker.size());
  s.hash_key = key_bytes(base::process_hash_key());
  std::size_t observers = 0;
  std::size_t requests = 0;
  for (const auto& w : per_worker) {
    observers += w.observers.size();
    requests += w.requests.size();
  }
  s.per_worker = std::move(per_worker);
  const auto bytes = core::encode_snapshot(s);
  if (auto ec = write_file_atomically(path, bytes)) {
    GW_LOG(warn, "state",
           "cannot write " + path + ": " + ec.message() +
               " (state.directory); observations end with this process");
    return;
  }
  GW_LOG(info, "state",
         "saved " + std::to_string(observers) + " observations and " + std::to_string(requests) +
             " recent writes to " + path);
}

}  // namespace gw::app
