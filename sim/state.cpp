#include "sim/state.hpp"

#include <algorithm>

#include <openssl/evp.h>

namespace gw::sim {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

}  // namespace

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool is_hex40(std::string_view text) {
  return text.size() == 40 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

std::string derive_rid(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(hex_digits[digest[i] >> 4]);
    out.push_back(hex_digits[digest[i] & 0x0f]);
  }
  return out;
}

state::state() : rng_(0x0e051735u) {}

device& state::add_device(std::string vendor, std::string model, std::string sn) {
  auto& d = devices_.emplace_back();
  d.rid = derive_rid("onep-sim client " + vendor + "/" + model + "/" + sn);
  d.vendor = std::move(vendor);
  d.model = std::move(model);
  d.sn = std::move(sn);
  return d;
}

dataport& state::add_dataport(device& d, const std::string& alias, unix_seconds created) {
  const auto rid =
      derive_rid("onep-sim dataport " + d.vendor + "/" + d.model + "/" + d.sn + "/" + alias);
  auto& port = d.resources[rid];
  port.rid = rid;
  port.name = alias;
  port.created = created;
  d.aliases[alias] = rid;
  return port;
}

void state::add_content(const std::string& vendor, const std::string& model, content_file file) {
  content_[{vendor, model}].push_back(std::move(file));
}

void state::declare_content(const std::string& vendor, const std::string& model) {
  content_[{vendor, model}];
}

device* state::find_by_cik(std::string_view cik) {
  if (cik.empty()) return nullptr;
  const auto wanted = to_lower(cik);
  for (auto& d : devices_) {
    if (d.cik == wanted) return &d;
  }
  return nullptr;
}

device* state::find_device(std::string_view vendor, std::string_view model, std::string_view sn) {
  for (auto& d : devices_) {
    if (d.vendor == vendor && d.model == model && d.sn == sn) return &d;
  }
  return nullptr;
}

const std::vector<content_file>* state::content(std::string_view vendor,
                                                std::string_view model) const {
  const auto it = content_.find({std::string(vendor), std::string(model)});
  return it == content_.end() ? nullptr : &it->second;
}

dataport* state::find_alias(device& d, std::string_view alias) {
  const auto it = d.aliases.find(std::string(alias));
  return it == d.aliases.end() ? nullptr : find_rid(d, it->second);
}

dataport* state::find_rid(device& d, std::string_view rid) {
  const auto it = d.resources.find(to_lower(rid));
  return it == d.resources.end() ? nullptr : &it->second;
}

void state::append(dataport& port, unix_seconds ts, std::string value) {
  point p{ts, std::move(value), ++seq_};
  const auto pos = std::upper_bound(port.points.begin(), port.points.end(), p,
                                    [](const point& a, const point& b) { return a.ts < b.ts; });
  port.points.insert(pos, std::move(p));
  if (on_change_) on_change_();
}

void state::flush(dataport& port, std::optional<unix_seconds> newer_than,
                  std::optional<unix_seconds> older_than) {
  std::erase_if(port.points, [&](const point& p) {
    return (!newer_than || p.ts > *newer_than) && (!older_than || p.ts < *older_than);
  });
}

dataport& state::create_dataport(device& d, std::string name, std::string format,
                                 unix_seconds now) {
  const auto rid = derive_rid("onep-sim created " + d.rid + "/" + std::to_string(++created_count_));
  auto& port = d.resources[rid];
  port.rid = rid;
  port.name = std::move(name);
  port.format = std::move(format);
  port.created = now;
  return port;
}

bool state::drop_dataport(device& d, std::string_view rid) {
  const auto it = d.resources.find(to_lower(rid));
  if (it == d.resources.end()) return false;
  std::erase_if(d.aliases, [&](const auto& entry) { return entry.second == it->first; });
  d.resources.erase(it);
  return true;
}

std::string state::new_cik() {
  for (;;) {
    std::string cik;
    while (cik.size() < 40) {
      const auto word = rng_();
      for (int shift = 0; shift < 64 && cik.size() < 40; shift += 4) {
        cik.push_back(hex_digits[(word >> shift) & 0x0f]);
      }
    }
    if (!find_by_cik(cik)) return cik;
  }
}

}  // namespace gw::sim
