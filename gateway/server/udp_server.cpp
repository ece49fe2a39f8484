#include "gateway/server/udp_server.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "gateway/server/worker.hpp"

namespace gw::server {

namespace asio = boost::asio;
using asio::ip::udp;

struct udp_server::impl {
  server_options options;
  services_factory factory;
  std::vector<std::unique_ptr<worker>> workers;
  std::vector<std::string> dtls_bound;
};

namespace {
std::string host_port(const udp::endpoint& at) {
  return at.address().is_v6() ? "[" + at.address().to_string() + "]:" + std::to_string(at.port())
                              : at.address().to_string() + ":" + std::to_string(at.port());
}
}  // namespace

udp_server::udp_server(server_options options, services_factory factory)
    : impl_(std::make_unique<impl>()) {
  impl_->options = std::move(options);
  impl_->factory = std::move(factory);
  if (impl_->options.workers == 0) impl_->options.workers = 1;
}

udp_server::~udp_server() = default;

boost::system::result<std::vector<std::string>> udp_server::bind() {
  auto& opt = impl_->options;
  for (std::size_t w = 0; w < opt.workers; ++w)
    impl_->workers.push_back(std::make_unique<worker>(w, opt, impl_->factory));

  std::vector<std::string> bound;
  for (std::size_t i = 0; i < opt.listen.size(); ++i) {
    boost::system::error_code ec;
    auto host = opt.listen[i].host == "localhost" ? std::string("127.0.0.1") : opt.listen[i].host;
    auto address = asio::ip::make_address(host, ec);
    if (ec) return ec;
    udp::endpoint at(address, opt.listen[i].port);
    if (auto busy = worker::probe_free(at)) return busy;
    for (auto& w : impl_->workers) {
      if (auto err = w->bind(at)) return err;
      // Port 0: every other worker joins the port the first one was given.
      at = w->local_endpoint(i);
    }
    bound.push_back(host_port(at));
  }
  for (std::size_t i = 0; i < opt.dtls.listen.size(); ++i) {
    boost::system::error_code ec;
    const auto& l = opt.dtls.listen[i];
    auto address = asio::ip::make_address(l.host == "localhost" ? "127.0.0.1" : l.host, ec);
    if (ec) return ec;
    udp::endpoint at(address, l.port);
    if (auto busy = worker::probe_free(at)) return busy;
    for (auto& w : impl_->workers) {
      if (auto err = w->bind_dtls(at)) return err;
      at = w->dtls_local_endpoint(i);
    }
    impl_->dtls_bound.push_back(host_port(at));
  }
  return bound;
}

void udp_server::run() {
  std::vector<std::thread> threads;
  for (std::size_t w = 1; w < impl_->workers.size(); ++w)
    threads.emplace_back([this, w] { impl_->workers[w]->run(); });
  if (!impl_->workers.empty()) impl_->workers[0]->run();
  for (auto& t : threads) t.join();
}

const std::vector<std::string>& udp_server::dtls_bound() const {
  return impl_->dtls_bound;
}

void udp_server::set_psk(std::shared_ptr<const psk_table> table) {
  for (auto& w : impl_->workers) w->set_psk(table);
}

void udp_server::stop() {
  for (auto& w : impl_->workers) w->stop();
}

std::vector<core::worker_snapshot> udp_server::snapshot(std::chrono::milliseconds wait) {
  // Shared with the workers' callbacks, which may run after a timed-out wait has returned.
  struct gather {
    std::mutex mutex;
    std::condition_variable done;
    std::vector<core::worker_snapshot> parts;
    std::size_t pending = 0;
  };
  auto g = std::make_shared<gather>();
  g->parts.resize(impl_->workers.size());
  g->pending = impl_->workers.size();
  for (std::size_t w = 0; w < impl_->workers.size(); ++w) {
    impl_->workers[w]->snapshot([g, w](core::worker_snapshot s) {
      std::lock_guard lock(g->mutex);
      g->parts[w] = std::move(s);
      if (--g->pending == 0) g->done.notify_all();
    });
  }
  std::unique_lock lock(g->mutex);
  g->done.wait_for(lock, wait, [&] { return g->pending == 0; });
  return g->parts;  // a copy: a late worker may still write into g
}

void udp_server::restore(std::vector<core::worker_snapshot> snapshots) {
  for (std::size_t w = 0; w < impl_->workers.size() && w < snapshots.size(); ++w)
    impl_->workers[w]->restore(std::move(snapshots[w]));
}

void udp_server::end_observations(const coap::message& content) {
  for (auto& w : impl_->workers) w->end_observations(content);
}

void udp_server::reconfigure(const core::endpoint_config& config) {
  for (auto& w : impl_->workers) w->reconfigure(config);
}

server_stats udp_server::stats() const {
  server_stats sum;
  for (const auto& w : impl_->workers) sum += w->stats();
  return sum;
}

std::vector<std::size_t> udp_server::stalled_workers(std::chrono::steady_clock::time_point now,
                                                     std::chrono::nanoseconds max_age) const {
  std::vector<std::size_t> stalled;
  for (std::size_t w = 0; w < impl_->workers.size(); ++w) {
    const auto beat = impl_->workers[w]->last_heartbeat();
    if (beat && now - *beat > max_age) stalled.push_back(w);
  }
  return stalled;
}

}  // namespace gw::server
