#pragma once
// TEST ONLY: a way for integration tests to stop a worker's loop in a real gateway, so they can
// see the liveness checks (the systemd watchdog pings, /healthz) react to it.
//
// Armed only when the environment holds COAP_GATEWAY_TEST_HOOKS=1 at start. Then SIGUSR2 blocks
// worker 0's thread, as a handler stuck in a blocking call would, and the next SIGUSR2 releases
// it; release() (called when the gateway stops) releases it too, and it never blocks longer
// than a minute. Without the variable nothing is installed and SIGUSR2 keeps its default action
// (the process ends), so production behaviour does not depend on this file.
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

namespace gw::app {

class stall_hook {
 public:
  // The hook, waiting for SIGUSR2 on `control`, when COAP_GATEWAY_TEST_HOOKS=1; else nullptr.
  // `target` names the executor of the worker to block, asked at each signal.
  static std::unique_ptr<stall_hook> from_environment(
      boost::asio::io_context& control, std::function<boost::asio::any_io_executor()> target);

  stall_hook(boost::asio::io_context& control,
             std::function<boost::asio::any_io_executor()> target);
  ~stall_hook();
  stall_hook(const stall_hook&) = delete;
  stall_hook& operator=(const stall_hook&) = delete;

  // Lets a blocked worker go and stops listening for SIGUSR2. On the control thread.
  void release();

 private:
  struct gate;
  void wait_signal();
  void toggle();

  boost::asio::signal_set signal_;
  std::function<boost::asio::any_io_executor()> target_;
  std::shared_ptr<gate> gate_;  // shared with the blocked worker
};

}  // namespace gw::app
