#include "sim/router.hpp"

#include "sim/data_api.hpp"
#include "sim/provision.hpp"
#include "sim/rpc.hpp"

namespace gw::sim {
namespace {

constexpr std::string_view stack_alias = "/onep:v1/stack/alias";
constexpr std::string_view rpc_process = "/onep:v1/rpc/process";
constexpr std::string_view activate = "/provision/activate";
constexpr std::string_view download = "/provision/download";
constexpr std::string_view timestamp = "/timestamp";

}  // namespace

endpoint classify(const request& req) {
  const auto path = req.path();
  if (path == stack_alias) {
    if (req.method == "POST") return req.query().empty() ? endpoint::write : endpoint::hybrid;
    return is_longpoll(req) ? endpoint::longpoll : endpoint::read;
  }
  if (path == rpc_process) return endpoint::rpc;
  if (path == activate) return endpoint::activate;
  if (path == timestamp) return endpoint::timestamp;
  if (path == download) {
    switch (classify_download(req)) {
      case download_kind::list:
        return endpoint::list;
      case download_kind::info:
        return endpoint::info;
      case download_kind::download:
        return endpoint::download;
    }
  }
  return endpoint::other;
}

outcome handle(const request& req, state& st, time_point now) {
  const auto path = req.path();
  if (path == stack_alias) return handle_stack_alias(req, st, now);
  if (path == rpc_process) return handle_rpc(req, st, now);
  if (path == activate) return handle_activate(req, st);
  if (path == download) return handle_download(req, st);
  if (path == timestamp) return handle_timestamp(req, now);
  return make_response(404);
}

}  // namespace gw::sim
