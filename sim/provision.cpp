#include "sim/provision.hpp"

#include "http/form.hpp"
#include "http/range.hpp"

namespace gw::sim {
namespace {

struct download_query {
  std::string vendor;
  std::string model;
  std::optional<std::string> id;
  bool info = false;
};

std::optional<download_query> parse_query(std::string_view query) {
  auto pairs = http::form_decode(query);
  if (!pairs) return std::nullopt;
  download_query q;
  for (auto& [key, value] : *pairs) {
    if (key == "vendor")
      q.vendor = std::move(value);
    else if (key == "model")
      q.model = std::move(value);
    else if (key == "id")
      q.id = std::move(value);
    else if (key == "info")
      q.info = value == "true";
  }
  return q;
}

const content_file* find_file(const std::vector<content_file>* files, std::string_view id) {
  if (!files) return nullptr;
  for (const auto& f : *files) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

response list(const download_query& q, const state& st) {
  const auto* files = st.content(q.vendor, q.model);
  if (!files || files->empty()) return make_response(204);
  // text/csv lines end in CRLF (RFC 4180 §2).
  std::string body;
  for (const auto& f : *files) body += f.id + "\r\n";
  return make_response(200, std::move(body), "text/csv; charset=utf-8");
}

response info(const content_file& f) {
  return make_response(200,
                       f.type + "," + std::to_string(f.bytes.size()) + "," +
                           std::to_string(f.updated) + "," + f.meta,
                       "text/csv; charset=utf-8");
}

response download(const request& req, const content_file& f) {
  const auto total = static_cast<std::uint64_t>(f.bytes.size());
  if (const auto header = req.header("Range")) {
    const auto range = http::parse_range(*header, total);
    if (range.kind == http::range_kind::unsatisfiable) {
      return make_response(416)
          .with("Content-Range", http::format_unsatisfied_range(total))
          .with("Accept-Ranges", "bytes");
    }
    if (range.kind == http::range_kind::satisfiable) {
      response r;
      r.status = 206;
      r.body = f.bytes.substr(range.range.first, range.range.size());
      return r.with("Content-Type", f.type)
          .with("Content-Range", http::format_content_range(range.range, total))
          .with("Accept-Ranges", "bytes");
    }
  }
  response r;
  r.body = f.bytes;
  return r.with("Content-Type", f.type).with("Accept-Ranges", "bytes");
}

}  // namespace

download_kind classify_download(const request& req) {
  const auto q = parse_query(req.query());
  if (!q || !q->id) return download_kind::list;
  return q->info ? download_kind::info : download_kind::download;
}

response handle_activate(const request& req, state& st) {
  if (req.method != "POST") return make_response(405).with("Allow", "POST");
  const auto pairs = http::form_decode(req.body);
  if (!pairs) return make_response(400, "bad form body");
  std::string vendor, model, sn;
  for (const auto& [key, value] : *pairs) {
    if (key == "vendor")
      vendor = value;
    else if (key == "model")
      model = value;
    else if (key == "sn")
      sn = value;
  }
  auto* d = st.find_device(vendor, model, sn);
  if (!d) return make_response(404);
  if (d->activated() || !d->enabled) return make_response(409);
  d->cik = st.new_cik();
  return make_response(200, d->cik);
}

response handle_download(const request& req, state& st) {
  if (req.method != "GET") return make_response(405).with("Allow", "GET");
  const auto q = parse_query(req.query());
  if (!q) return make_response(400, "bad percent escape in the query");
  const auto cik = req.header("X-Exosite-CIK");
  const auto* d = cik ? st.find_by_cik(*cik) : nullptr;
  if (!d) return make_response(401);
  // A device's CIK opens the content of its own vendor and model only.
  const bool own = q->vendor == d->vendor && q->model == d->model;
  if (!q->id) return own ? list(*q, st) : make_response(403);
  if (q->info) {
    if (!own) return make_response(400);  // sic: upstream answers 400 here, not 403
    const auto* f = find_file(st.content(q->vendor, q->model), *q->id);
    return f ? info(*f) : make_response(404);
  }
  if (!own) return make_response(403);
  const auto* f = find_file(st.content(q->vendor, q->model), *q->id);
  return f ? download(req, *f) : make_response(404);
}

}  // namespace gw::sim
