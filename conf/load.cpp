#include "conf/load.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "conf/schema.hpp"
#include "conf/value_syntax.hpp"

namespace gw::conf {
namespace {

// No config file comes near this; the bound keeps `--config /dev/zero` from eating memory.
constexpr std::size_t max_file_size = 1024 * 1024;

std::string what_it_is(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return quote(node.Scalar());
    default:
      return "nothing";
  }
}

// yaml-cpp marks are 0-based; a null mark (no position known) becomes line 0.
int line_of(const YAML::Mark& mark) {
  return mark.is_null() ? 0 : mark.line + 1;
}

// A key path for an error message; names the user made up are quoted when they are not plain.
std::string shown_path(const std::string& section, const std::string& name) {
  bool plain =
      !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
      });
  std::string shown = plain ? name : quote(name);
  return section.empty() ? shown : section + "." + shown;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknown_key(std::string_view section, std::string_view name) {
  if (name.find('.') != std::string_view::npos) {
    return "unknown key (nest sections as maps instead of writing dotted names)";
  }
  std::string_view best;
  std::size_t best_distance = 3;  // typos of one or two characters
  for (std::string_view known : names_under(section)) {
    std::size_t d = edit_distance(name, known);
    if (d < best_distance && d < known.size()) {
      best = known;
      best_distance = d;
    }
  }
  if (best.empty()) return "unknown key";
  return "unknown key (did you mean " + quote(best) + "?)";
}

// After a syntax error: an unquoted "[::1]:5683" opens a YAML flow sequence, which is the usual
// cause, so point at it rather than only at where the parser gave up.
void find_unquoted_ipv6(std::string_view yaml, std::vector<int>& lines) {
  int line = 1;
  while (!yaml.empty()) {
    std::string_view text = yaml.substr(0, yaml.find('\n'));
    yaml.remove_prefix(std::min(yaml.size(), text.size() + 1));
    std::size_t start = text.find_first_not_of(' ');
    if (start != std::string_view::npos) {
      text.remove_prefix(start);
      if (text.starts_with("- ")) {
        text.remove_prefix(2);
      } else if (std::size_t colon = text.find(": "); colon != std::string_view::npos) {
        text.remove_prefix(colon + 2);
      }
      text.remove_prefix(std::min(text.size(), text.find_first_not_of(' ')));
      if (text.starts_with('[') && text.find("]:") != std::string_view::npos) lines.push_back(line);
    }
    ++line;
  }
}

// Parser events that matter for counting documents; everything else is ignored.
struct document_starts final : YAML::EventHandler {
  std::vector<YAML::Mark> marks;
  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

class loader {
 public:
  explicit loader(std::string_view file) : file_(file) {}

  load_result run(std::string_view yaml) {
    try {
      std::string text(yaml);
      YAML::Node root = YAML::Load(text);
      if (check_one_document(text) && !root.IsNull()) {
        if (root.IsMap()) {
          walk(root, "");
          apply_renamed();
          run_checks();
        } else {
          fail(line_of(root.Mark()), "",
               "expected a map of keys at the top level, got " + what_it_is(root));
        }
      }
    } catch (const YAML::Exception& e) {
      fail(line_of(e.mark), "", e.msg);
      std::vector<int> suspects;
      find_unquoted_ipv6(yaml, suspects);
      for (int line : suspects) {
        fail(line, "", "quote IPv6 addresses, as in \"[::1]:5683\": YAML reads [ as a list");
      }
    } catch (const std::exception& e) {
      fail(0, "", std::string("cannot load: ") + e.what());
    }
    if (errors_.empty()) return load_result{std::move(config_), std::move(warnings_)};
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const config_error& a, const config_error& b) { return a.line < b.line; });
    return load_result{std::move(errors_)};
  }

 private:
  // YAML::LoadAll never returns on some malformed streams (a lone ","): the parser keeps
  // reporting new empty documents without consuming input, until memory runs out (yaml-cpp
  // issue #1040). So take at most three parser steps, and treat a document that starts where
  // the previous one did as that failure. Returns false when the first document cannot be
  // trusted.
  bool check_one_document(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    document_starts starts;
    for (int step = 0; step < 3 && parser.HandleNextDocument(starts); ++step) {
    }
    const std::vector<YAML::Mark>& m = starts.marks;
    for (std::size_t i = 1; i < m.size(); ++i) {
      if (m[i].pos == m[i - 1].pos) {
        fail(line_of(m[i]), "", "not valid YAML (the parser cannot get past this line)");
        return i > 1;
      }
    }
    if (m.size() > 1) fail(line_of(m[1]), "", "only one YAML document is allowed");
    return true;
  }

  void walk(const YAML::Node& map, const std::string& section) {
    std::map<std::string, int, std::less<>> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      int line = line_of(it->first.Mark());
      if (!it->first.IsScalar()) {
        fail(line, section, "keys must be plain names, got " + what_it_is(it->first));
        continue;
      }
      const std::string& name = it->first.Scalar();
      std::string path = section.empty() ? name : section + "." + name;
      if (auto [first, inserted] = seen.emplace(name, line); !inserted) {
        fail(line, shown_path(section, name),
             "duplicate key (first set on line " + std::to_string(first->second) + ")");
        continue;
      }
      const key_spec* key = name.find('.') == std::string::npos ? find_key(path) : nullptr;
      const renamed_key* renamed = key == nullptr ? find_renamed(path) : nullptr;
      if (key != nullptr) {
        lines_[path] = line;
        read_key(*key, it->second, line);
      } else if (renamed != nullptr) {
        renamed_.push_back({renamed, it->second, line});
      } else if (name.find('.') == std::string::npos && is_section(path)) {
        read_section(path, it->second, line);
      } else {
        fail(line, shown_path(section, name), unknown_key(section, name));
      }
    }
  }

  void read_section(const std::string& path, const YAML::Node& node, int line) {
    // A section whose keys are all commented out is null: it keeps its defaults.
    if (node.IsNull()) return;
    if (node.IsMap()) return walk(node, path);
    fail(line, path, "expected a map of " + path + ".* keys, got " + what_it_is(node));
  }

  void read_key(const key_spec& key, const YAML::Node& node, int line) {
    if (key.kind == value_kind::listen_list || key.kind == value_kind::optional_listen_list)
      return read_listen_list(key, node, line);
    bool empty_allowed = key.kind == value_kind::text || key.kind == value_kind::optional_listen;
    if (node.IsNull() && empty_allowed) {
      set_from_text(key, "", config_);
      return;
    }
    if (!node.IsScalar()) {
      fail(line, std::string(key.path),
           "expected " + describe_kind(key) + ", got " + what_it_is(node));
      return;
    }
    std::string problem = set_from_text(key, node.Scalar(), config_);
    if (!problem.empty()) fail(line, std::string(key.path), std::move(problem));
  }

  void read_listen_list(const key_spec& key, const YAML::Node& node, int line) {
    std::string path(key.path);
    if (!node.IsSequence()) {
      fail(line, path, "expected " + describe_kind(key) + ", got " + what_it_is(node));
      return;
    }
    if (node.size() == 0 && key.kind == value_kind::listen_list) {
      fail(line, path, "needs at least one address");
      return;
    }
    std::vector<listen_address> list;
    bool all_read = true;
    std::size_t index = 0;
    for (auto it = node.begin(); it != node.end(); ++it, ++index) {
      const YAML::Node& item = *it;
      std::string item_path = path + "[" + std::to_string(index) + "]";
      int item_line = line_of(item.Mark());
      listen_address address;
      std::string problem = item.IsScalar() ? read_listen(item.Scalar(), address)
                                            : "expected host:port, got " + what_it_is(item);
      if (problem.empty()) {
        auto same = std::find(list.begin(), list.end(), address);
        // Two sockets on one address would both bind under SO_REUSEPORT and split the traffic.
        if (same != list.end()) {
          problem = "same address as " + path + "[" + std::to_string(same - list.begin()) + "]";
        }
      }
      if (!problem.empty()) {
        fail(item_line, item_path, std::move(problem));
        all_read = false;
      }
      list.push_back(std::move(address));
    }
    if (all_read) {
      set_listen_list(key, std::move(list), config_);
    } else {
      failed_.insert(path);
    }
  }

  // Rules across keys run once every key is read, so their order in the file does not matter.
  void run_checks() {
    for (const key_spec& key : schema()) {
      if (key.check == nullptr || failed_.contains(key.path) || failed_.contains(key.check_reads)) {
        continue;
      }
      std::string problem = key.check(config_);
      if (problem.empty()) continue;
      if (auto here = lines_.find(key.path); here != lines_.end()) {
        fail(here->second, std::string(key.path), std::move(problem));
      } else if (auto there = lines_.find(key.check_reads); there != lines_.end()) {
        fail(there->second, std::string(key.check_reads),
             std::string(key.path) + " (default " + format_value(key, config_) + ") " + problem);
      }
    }
  }

  void fail(int line, std::string key, std::string problem) {
    failed_.insert(key);
    errors_.push_back({file_, line, std::move(key), std::move(problem)});
  }

  std::string file_;
  config config_;
  // An old key name's value goes to each of its new keys that the file does not set itself.
  void apply_renamed() {
    for (const auto& [renamed, node, line] : renamed_) {
      std::string now_named;
      for (auto rest = renamed->new_paths; !rest.empty();) {
        const auto space = rest.find(' ');
        const auto path = rest.substr(0, space);
        rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
        now_named += (now_named.empty() ? "" : " and ") + std::string(path);
        if (lines_.contains(path)) continue;
        lines_[std::string(path)] = line;
        read_key(*find_key(path), node, line);
      }
      warnings_.push_back({file_, line, std::string(renamed->old_path),
                           "renamed to " + now_named + " (" + std::string(renamed->why) +
                               "); the old name is read for one more release"});
    }
  }

  struct renamed_use {
    const renamed_key* key;
    YAML::Node node;
    int line;
  };
  std::vector<renamed_use> renamed_;
  std::vector<config_error> warnings_;
  std::vector<config_error> errors_;
  std::map<std::string, int, std::less<>> lines_;  // key path -> line that set it
  std::set<std::string, std::less<>> failed_;      // key paths that were refused
};

}  // namespace

std::string config_error::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + problem;
}

load_result load_string(std::string_view yaml, std::string_view file) {
  return loader(file).run(yaml);
}

load_result load_file(const std::string& path) {
  auto cannot_read = [&](const std::string& reason) {
    return load_result{std::vector<config_error>{{path, 0, "", "cannot read: " + reason}}};
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return cannot_read(std::strerror(errno));
  std::string text;
  char buffer[8192];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, f.get())) {
    text.append(buffer, n);
    if (text.size() > max_file_size) return cannot_read("larger than 1MiB");
  }
  if (std::ferror(f.get())) return cannot_read(std::strerror(errno));
  return load_string(text, path);
}

bool parse_duration(std::string_view text, duration& out) {
  return read_duration(text, out) == value_syntax::ok;
}

bool parse_size(std::string_view text, std::uint64_t& out) {
  return read_size(text, out) == value_syntax::ok;
}

bool parse_listen(std::string_view text, listen_address& out) {
  return read_listen(text, out).empty();
}

}  // namespace gw::conf
