#include "app/stall_hook.hpp"

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <string_view>

#include <boost/asio/post.hpp>

#include "log/log.hpp"

namespace gw::app {

namespace asio = boost::asio;

namespace {
// A forgotten stall must not hang a test run (or a shutdown) for ever.
constexpr std::chrono::seconds longest_stall{60};
}  // namespace

struct stall_hook::gate {
  std::mutex mutex;
  std::condition_variable released;
  bool blocked = false;
};

std::unique_ptr<stall_hook> stall_hook::from_environment(
    asio::io_context& control, std::function<asio::any_io_executor()> target) {
  const char* hooks = std::getenv("COAP_GATEWAY_TEST_HOOKS");
  if (hooks == nullptr || std::string_view(hooks) != "1") return nullptr;
  GW_LOG(warn, "gateway", "COAP_GATEWAY_TEST_HOOKS=1: SIGUSR2 blocks worker 0 (tests only)");
  return std::make_unique<stall_hook>(control, std::move(target));
}

stall_hook::stall_hook(asio::io_context& control, std::function<asio::any_io_executor()> target)
    : signal_(control, SIGUSR2), target_(std::move(target)), gate_(std::make_shared<gate>()) {
  wait_signal();
}

stall_hook::~stall_hook() {
  release();
}

void stall_hook::wait_signal() {
  signal_.async_wait([this](boost::system::error_code ec, int) {
    if (ec) return;
    toggle();
    wait_signal();
  });
}

void stall_hook::toggle() {
  {
    std::lock_guard lock(gate_->mutex);
    if (gate_->blocked) {
      gate_->blocked = false;
      gate_->released.notify_all();
      GW_LOG(warn, "gateway", "test hook: worker 0 released");
      return;
    }
    gate_->blocked = true;
  }
  GW_LOG(warn, "gateway", "test hook: blocking worker 0");
  asio::post(target_(), [g = gate_] {
    std::unique_lock lock(g->mutex);
    g->released.wait_for(lock, longest_stall, [&] { return !g->blocked; });
    g->blocked = false;
  });
}

void stall_hook::release() {
  boost::system::error_code ignored;
  signal_.cancel(ignored);
  std::lock_guard lock(gate_->mutex);
  gate_->blocked = false;
  gate_->released.notify_all();
}

}  // namespace gw::app
