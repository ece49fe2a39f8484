#include "sim/state_loader.hpp"

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

namespace gw::sim {
namespace {

// RFC 4648 §4 alphabet; padding optional, whitespace ignored (YAML folds long strings).
bool base64_decode(std::string_view text, std::string& out) {
  unsigned buffer = 0;
  int bits = 0;
  bool padding = false;
  for (const char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=') {
      padding = true;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
      continue;
    else
      return false;
    if (padding) return false;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return bits < 6;
}

// Walks the document; the first problem wins and is kept as text with the node's line.
class loader {
 public:
  loader(std::string_view name, unix_seconds now) : name_(name), now_(now) {}

  bool fail(const YAML::Node& node, const std::string& key, const std::string& problem) {
    std::ostringstream out;
    out << name_;
    if (node.IsDefined() && node.Mark().line >= 0) out << ":" << node.Mark().line + 1;
    out << ": ";
    if (!key.empty()) out << key << ": ";
    out << problem;
    error_ = out.str();
    return false;
  }

  const std::string& error() const { return error_; }

  bool load(const YAML::Node& root, state& st) {
    if (root.IsNull()) return true;
    if (!root.IsMap()) return fail(root, "", "the state file must be a mapping");
    if (!known_keys(root, "", {"devices", "content"})) return false;
    if (const auto devices = root["devices"]; devices && !devices.IsNull()) {
      if (!devices.IsSequence()) return fail(devices, "devices", "must be a list");
      for (std::size_t i = 0; i < devices.size(); ++i) {
        if (!load_device(devices[i], "devices[" + std::to_string(i) + "]", st)) return false;
      }
    }
    if (const auto content = root["content"]; content && !content.IsNull()) {
      if (!content.IsSequence()) return fail(content, "content", "must be a list");
      for (std::size_t i = 0; i < content.size(); ++i) {
        if (!load_content(content[i], "content[" + std::to_string(i) + "]", st)) return false;
      }
    }
    return true;
  }

 private:
  bool known_keys(const YAML::Node& map, const std::string& key,
                  std::initializer_list<std::string_view> allowed) {
    for (const auto& entry : map) {
      const auto name = entry.first.as<std::string>();
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        return fail(entry.first, key.empty() ? name : key + "." + name, "unknown key");
      }
    }
    return true;
  }

  bool scalar(const YAML::Node& map, const std::string& key, std::string_view field,
              std::string& out, bool required) {
    const auto node = map[std::string(field)];
    const auto path = key + "." + std::string(field);
    if (!node || node.IsNull()) {
      return required ? fail(map, path, "missing") : true;
    }
    if (!node.IsScalar()) return fail(node, path, "must be a scalar");
    out = node.Scalar();
    return true;
  }

  bool integer(const YAML::Node& node, const std::string& key, std::int64_t& out) {
    if (!node.IsScalar()) return fail(node, key, "must be an integer");
    try {
      out = node.as<std::int64_t>();
    } catch (const YAML::Exception&) {
      return fail(node, key, "must be an integer");
    }
    return true;
  }

  bool load_device(const YAML::Node& node, const std::string& key, state& st) {
    if (!node.IsMap()) return fail(node, key, "must be a mapping");
    if (!known_keys(node, key, {"vendor", "model", "sn", "cik", "enabled", "dataports"})) {
      return false;
    }
    std::string vendor, model, sn, cik;
    if (!scalar(node, key, "vendor", vendor, true) || !scalar(node, key, "model", model, true) ||
        !scalar(node, key, "sn", sn, true) || !scalar(node, key, "cik", cik, false)) {
      return false;
    }
    if (!cik.empty() && !is_hex40(cik)) {
      return fail(node["cik"], key + ".cik", "must be 40 hexadecimal characters");
    }
    cik = to_lower(cik);
    if (st.find_device(vendor, model, sn)) {
      return fail(node, key, "duplicate device " + vendor + "/" + model + "/" + sn);
    }
    if (!cik.empty() && st.find_by_cik(cik))
      return fail(node["cik"], key + ".cik", "duplicate CIK");
    bool enabled = true;
    if (const auto e = node["enabled"]; e && !e.IsNull()) {
      try {
        enabled = e.as<bool>();
      } catch (const YAML::Exception&) {
        return fail(e, key + ".enabled", "must be true or false");
      }
    }
    auto& d = st.add_device(vendor, model, sn);
    d.cik = cik;
    d.enabled = enabled;
    d.created = now_;
    const auto ports = node["dataports"];
    if (!ports || ports.IsNull()) return true;
    if (!ports.IsMap()) return fail(ports, key + ".dataports", "must be a mapping alias -> values");
    for (const auto& entry : ports) {
      const auto alias = entry.first.as<std::string>();
      if (!load_values(entry.second, key + ".dataports." + alias, st,
                       st.add_dataport(d, alias, now_))) {
        return false;
      }
    }
    return true;
  }

  // null (no values), one scalar, or a list of scalars (stamped one second apart, the last one
  // now) and [ts, value] points (a negative ts counts back from now).
  bool load_values(const YAML::Node& node, const std::string& key, state& st, dataport& port) {
    if (!node || node.IsNull()) return true;
    if (node.IsScalar()) {
      st.append(port, now_, node.Scalar());
      return true;
    }
    if (!node.IsSequence()) return fail(node, key, "must be a value or a list of values");
    const auto count = static_cast<std::int64_t>(node.size());
    for (std::int64_t i = 0; i < count; ++i) {
      const auto item = node[static_cast<std::size_t>(i)];
      const auto item_key = key + "[" + std::to_string(i) + "]";
      if (item.IsScalar()) {
        st.append(port, now_ - (count - 1 - i), item.Scalar());
      } else if (item.IsSequence() && item.size() == 2 && item[1].IsScalar()) {
        std::int64_t ts = 0;
        if (!integer(item[0], item_key + "[0]", ts)) return false;
        st.append(port, ts < 0 ? now_ + ts : ts, item[1].Scalar());
      } else {
        return fail(item, item_key, "must be a value or a [timestamp, value] pair");
      }
    }
    return true;
  }

  bool load_content(const YAML::Node& node, const std::string& key, state& st) {
    if (!node.IsMap()) return fail(node, key, "must be a mapping");
    if (!known_keys(node, key, {"vendor", "model", "files"})) return false;
    std::string vendor, model;
    if (!scalar(node, key, "vendor", vendor, true) || !scalar(node, key, "model", model, true)) {
      return false;
    }
    const auto files = node["files"];
    if (!files || files.IsNull()) {
      st.declare_content(vendor, model);  // declared, but empty: list answers 204
      return true;
    }
    if (!files.IsSequence()) return fail(files, key + ".files", "must be a list");
    std::set<std::string> ids;
    if (const auto* existing = st.content(vendor, model)) {
      for (const auto& f : *existing) ids.insert(f.id);
    }
    st.declare_content(vendor, model);
    for (std::size_t i = 0; i < files.size(); ++i) {
      content_file file;
      const auto file_key = key + ".files[" + std::to_string(i) + "]";
      if (!load_file(files[i], file_key, file)) return false;
      if (!ids.insert(file.id).second) return fail(files[i], file_key, "duplicate id " + file.id);
      st.add_content(vendor, model, std::move(file));
    }
    return true;
  }

  bool load_file(const YAML::Node& node, const std::string& key, content_file& file) {
    if (!node.IsMap()) return fail(node, key, "must be a mapping");
    if (!known_keys(node, key, {"id", "type", "meta", "updated", "text", "base64", "size"})) {
      return false;
    }
    if (!scalar(node, key, "id", file.id, true) || !scalar(node, key, "type", file.type, false) ||
        !scalar(node, key, "meta", file.meta, false)) {
      return false;
    }
    if (file.id.empty()) return fail(node["id"], key + ".id", "must not be empty");
    file.updated = now_;
    if (const auto u = node["updated"]; u && !u.IsNull()) {
      if (!integer(u, key + ".updated", file.updated)) return false;
    }
    const int sources = (node["text"] ? 1 : 0) + (node["base64"] ? 1 : 0) + (node["size"] ? 1 : 0);
    if (sources != 1) return fail(node, key, "needs exactly one of text, base64, size");
    if (const auto text = node["text"]) {
      if (!text.IsNull() && !text.IsScalar()) return fail(text, key + ".text", "must be a string");
      file.bytes = text.IsNull() ? "" : text.Scalar();
    } else if (const auto b64 = node["base64"]) {
      if (!b64.IsScalar() || !base64_decode(b64.Scalar(), file.bytes)) {
        return fail(b64, key + ".base64", "is not valid base64");
      }
    } else {
      std::int64_t size = 0;
      if (!integer(node["size"], key + ".size", size)) return false;
      if (size < 0 || size > (std::int64_t{1} << 30)) {
        return fail(node["size"], key + ".size", "must be between 0 and 1 GiB");
      }
      file.bytes = generated_bytes(static_cast<std::size_t>(size));
    }
    return true;
  }

  std::string name_;
  unix_seconds now_;
  std::string error_;
};

}  // namespace

void throw_exception_from_error(const load_error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

std::string generated_bytes(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>(i % 251);
  return out;
}

load_result load_state_string(std::string_view text, std::string_view name, unix_seconds now) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    std::ostringstream out;
    out << name;
    if (e.mark.line >= 0) out << ":" << e.mark.line + 1;
    out << ": " << e.msg;
    return load_error{out.str()};
  } catch (const YAML::Exception& e) {
    return load_error{std::string(name) + ": " + e.what()};
  }
  state st;
  loader l{name, now};
  try {
    if (!l.load(root, st)) return load_error{l.error()};
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on conversions of odd nodes (a mapping used as a key, say).
    return load_error{std::string(name) + ": " + e.what()};
  }
  return st;
}

load_result load_state_string(std::string_view text, std::string_view name) {
  return load_state_string(text, name, to_unix(clock::now()));
}

load_result load_state_file(const std::string& path, unix_seconds now) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return load_error{path + ": cannot open file"};
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return load_state_string(buffer.str(), path, now);
}

load_result load_state_file(const std::string& path) {
  return load_state_file(path, to_unix(clock::now()));
}

}  // namespace gw::sim
