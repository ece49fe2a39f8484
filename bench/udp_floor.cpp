// The floor under P4 (bench/run.sh): what one fan-out costs on this machine's loopback with no
// CoAP at all. One "server" thread sends a 40-byte datagram to each of N client sockets
// (sendmmsg, batches of 1024) and reads N 4-byte answers (recvmmsg); one "client" thread, like
// coap-load, waits in epoll on the N sockets, reads each datagram and answers it from the same
// socket. Prints the latency from the start of the fan-out to each client's receipt (p50, p99,
// max) and both sides' CPU per datagram exchange. THREADS client threads (default 1, as
// coap-load) split the sockets between them. Loopback only.
//   build/bin/bench_udp_floor [N] [ROUNDS] [THREADS]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

std::int64_t now_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

double thread_cpu_s() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

sockaddr_in loopback(std::uint8_t last, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(0x7F000000u | last);
  return a;
}

int udp_socket(const sockaddr_in& bind_to) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&bind_to), sizeof bind_to) != 0) {
    std::perror("bench_udp_floor: socket");
    std::exit(1);
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 10;
  const int threads = std::max(1, argc > 3 ? std::atoi(argv[3]) : 1);
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);

  const int server = udp_socket(loopback(1, 0));
  sockaddr_in server_addr{};
  socklen_t len = sizeof server_addr;
  ::getsockname(server, reinterpret_cast<sockaddr*>(&server_addr), &len);
  int big = 8 << 20;
  ::setsockopt(server, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  ::setsockopt(server, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  std::vector<int> clients(n);
  std::vector<sockaddr_in> client_addr(n);
  std::vector<int> epolls(threads);
  for (auto& e : epolls) e = ::epoll_create1(0);
  for (int i = 0; i < n; ++i) {
    clients[i] = udp_socket(loopback(static_cast<std::uint8_t>(2 + i % 10), 0));
    len = sizeof client_addr[i];
    ::getsockname(clients[i], reinterpret_cast<sockaddr*>(&client_addr[i]), &len);
    ::connect(clients[i], reinterpret_cast<const sockaddr*>(&server_addr), sizeof server_addr);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    ::epoll_ctl(epolls[i % threads], EPOLL_CTL_ADD, clients[i], &ev);
  }

  std::atomic<std::int64_t> round_start{0};
  std::atomic<bool> done{false};
  std::vector<std::vector<std::int64_t>> seen(threads);
  std::vector<double> client_cpu(threads);
  std::vector<std::thread> client;
  for (int t = 0; t < threads; ++t) {
    client.emplace_back([&, t] {
      std::vector<epoll_event> events(1024);
      std::uint8_t buf[2048];
      auto& latencies = seen[t];
      latencies.reserve(static_cast<std::size_t>(n) * rounds / threads + 1);
      const double cpu0 = thread_cpu_s();
      while (!done.load()) {
        const int k = ::epoll_wait(epolls[t], events.data(), static_cast<int>(events.size()), 50);
        for (int e = 0; e < k; ++e) {
          const int fd = clients[events[e].data.u32];
          if (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0) continue;
          latencies.push_back(now_ns() - round_start.load(std::memory_order_relaxed));
          ::send(fd, buf, 4, 0);  // the ACK
        }
      }
      client_cpu[t] = thread_cpu_s() - cpu0;
    });
  }

  std::vector<mmsghdr> out(n), in(1024);
  std::vector<iovec> out_iov(n), in_iov(1024);
  std::vector<std::uint8_t> payload(40, 0x42), inbuf(1024 * 64);
  for (int i = 0; i < n; ++i) {
    out_iov[i] = {payload.data(), payload.size()};
    out[i].msg_hdr = {};
    out[i].msg_hdr.msg_name = &client_addr[i];
    out[i].msg_hdr.msg_namelen = sizeof client_addr[i];
    out[i].msg_hdr.msg_iov = &out_iov[i];
    out[i].msg_hdr.msg_iovlen = 1;
  }
  const double cpu0 = thread_cpu_s();
  double wall = 0;
  for (int r = 0; r < rounds; ++r) {
    const auto start = now_ns();
    round_start.store(start);
    for (int i = 0; i < n;) {
      const int sent =
          ::sendmmsg(server, out.data() + i, static_cast<unsigned>(std::min(n - i, 1024)), 0);
      if (sent > 0) {
        i += sent;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != EINTR) {
        std::perror("bench_udp_floor: sendmmsg");  // would spin here for ever
        return 1;
      }
    }
    int answers = 0;
    while (answers < n) {
      for (int j = 0; j < 1024; ++j) {
        in_iov[j] = {inbuf.data() + j * 64, 64};
        in[j].msg_hdr = {};
        in[j].msg_hdr.msg_iov = &in_iov[j];
        in[j].msg_hdr.msg_iovlen = 1;
      }
      const int got = ::recvmmsg(server, in.data(), 1024, MSG_DONTWAIT, nullptr);
      if (got > 0) {
        answers += got;
      } else {
        pollfd p{server, POLLIN, 0};
        if (::poll(&p, 1, 1000) == 0) break;  // lost: the round ends without them
      }
    }
    wall += static_cast<double>(now_ns() - start) / 1e9;
    ::usleep(200'000);
  }
  const double server_cpu = thread_cpu_s() - cpu0;
  done.store(true);
  double clients_cpu = 0;
  std::vector<std::int64_t> latencies;
  for (int t = 0; t < threads; ++t) {
    client[t].join();
    clients_cpu += client_cpu[t];
    latencies.insert(latencies.end(), seen[t].begin(), seen[t].end());
  }
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) {
    if (latencies.empty()) return 0.0;
    return static_cast<double>(latencies[static_cast<std::size_t>(q * (latencies.size() - 1))]) /
           1e6;
  };
  const double exchanges = static_cast<double>(n) * rounds;
  std::printf(
      "%d clients x %d rounds: %zu datagrams received; latency p50 %.1f ms p99 %.1f ms "
      "max %.1f ms; round %.1f ms\n",
      n, rounds, latencies.size(), pct(0.5), pct(0.99), pct(1.0), wall * 1e3 / rounds);
  std::printf("CPU per exchange: server %.2f us, client %.2f us\n", server_cpu * 1e6 / exchanges,
              clients_cpu * 1e6 / exchanges);
  return 0;
}
