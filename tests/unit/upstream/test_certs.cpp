#include "tests/unit/upstream/test_certs.hpp"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace gw::upstream::test {

namespace {

namespace fs = std::filesystem;

class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "gw-upstream-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

cert_files make_self_signed(const fs::path& dir, const std::string& name, const std::string& cn,
                            const std::string& alt_names) {
  cert_files files{(dir / (name + ".crt")).string(), (dir / (name + ".key")).string()};
  std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/CN=" + cn +
                        "' -keyout '" + files.key + "' -out '" + files.cert + "'";
  if (!alt_names.empty()) command += " -addext 'subjectAltName=" + alt_names + "'";
  command += " >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl failed: " + command);
  return files;
}

struct pki_on_disk {
  temp_dir dir;
  test_pki files{
      make_self_signed(dir.path(), "localhost", "localhost", "DNS:localhost,IP:127.0.0.1"),
      make_self_signed(dir.path(), "other", "example.invalid", "DNS:example.invalid"),
      make_self_signed(dir.path(), "client", "coap-gateway test client", ""),
  };
};

}  // namespace

const test_pki& pki() {
  static const pki_on_disk instance;
  return instance.files;
}

}  // namespace gw::upstream::test
