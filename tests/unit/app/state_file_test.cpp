// The restart state file (app/state_file.hpp) on a real file system: atomic and private writes,
// and what a start takes from the file (only for the same listen addresses and workers, once).
#include "app/state_file.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <sys/stat.h>

#include "base/keyed_hash.hpp"

using namespace gw;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "gw-state-test-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

conf::config config_in(const std::string& dir) {
  conf::config c;
  c.workers = 2;
  c.coap.listen = {{"127.0.0.1", 5683}};
  c.state.directory = dir;
  return c;
}

std::vector<core::worker_snapshot> two_workers() {
  std::vector<core::worker_snapshot> w(2);
  w[1].observers.push_back({core::peer{0, false, {127, 0, 0, 1}, 40000},
                            {1, 2},
                            {std::string(40, 'a'), "temp"},
                            7,
                            6,
                            1'764'000'000'000});
  return w;
}

std::uint32_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Each test leaves the process key as it found it: other tests hash with it.
struct key_guard {
  base::hash_key saved = base::process_hash_key();
  ~key_guard() { base::set_process_hash_key(saved); }
};

}  // namespace

TEST_CASE("the state file is written whole, private, and replaced atomically") {
  temp_dir dir;
  const auto path = dir.path + "/f";
  const std::vector<std::uint8_t> first{1, 2, 3}, second{4, 5};
  REQUIRE_FALSE(app::write_file_atomically(path, first));
  REQUIRE_FALSE(app::write_file_atomically(path, second));
  CHECK(app::read_file(path).value() == second);
  CHECK(mode_of(path) == 0600);  // it holds CIKs
  CHECK_FALSE(fs::exists(path + ".tmp"));
  CHECK(app::write_file_atomically(dir.path + "/missing/f", first));  // an error, not a throw
}

TEST_CASE("a start takes the snapshot once, with the key its fingerprints were made under") {
  key_guard guard;
  temp_dir dir;
  const auto config = config_in(dir.path);
  base::set_process_hash_key({0x1111, 0x2222});
  app::save_state(config, two_workers());
  REQUIRE(fs::exists(app::state_file_path(config)));
  CHECK(mode_of(app::state_file_path(config)) == 0600);

  base::set_process_hash_key({0x3333, 0x4444});  // the next process drew another key
  const auto restored = app::take_restorable(config);
  CHECK(restored == two_workers());
  CHECK(base::process_hash_key() == base::hash_key{0x1111, 0x2222});
  CHECK_FALSE(fs::exists(app::state_file_path(config)));
  CHECK(fs::exists(app::state_file_path(config) + ".restored"));
  CHECK(app::take_restorable(config).empty());  // never twice
}

TEST_CASE("a snapshot of other sockets or another worker count is not restored") {
  key_guard guard;
  temp_dir dir;
  auto config = config_in(dir.path);
  app::save_state(config, two_workers());

  SECTION("workers") {
    config.workers = 3;
  }
  SECTION("listen") {
    config.coap.listen = {{"127.0.0.1", 5684}};
  }
  base::set_process_hash_key({9, 9});
  CHECK(app::take_restorable(config).empty());
  CHECK(base::process_hash_key() == base::hash_key{9, 9});  // not adopted
  CHECK(fs::exists(app::state_file_path(config) + ".rejected"));
}

TEST_CASE("a damaged or missing file is ignored and start goes on") {
  key_guard guard;
  temp_dir dir;
  const auto config = config_in(dir.path);
  CHECK(app::take_restorable(config).empty());  // missing
  app::save_state(config, two_workers());
  auto bytes = app::read_file(app::state_file_path(config)).value();
  bytes.resize(bytes.size() / 2);
  REQUIRE_FALSE(app::write_file_atomically(app::state_file_path(config), bytes));
  CHECK(app::take_restorable(config).empty());
  CHECK(fs::exists(app::state_file_path(config) + ".rejected"));
}

TEST_CASE("nothing is saved for port 0 or without a state directory") {
  temp_dir dir;
  auto config = config_in(dir.path);
  config.coap.listen = {{"127.0.0.1", 0}};
  app::save_state(config, two_workers());
  CHECK_FALSE(fs::exists(app::state_file_path(config)));
  config = config_in("");
  app::save_state(config, two_workers());
  CHECK(app::take_restorable(config).empty());
}
