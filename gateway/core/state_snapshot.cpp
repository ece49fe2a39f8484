#include "gateway/core/state_snapshot.hpp"

#include <array>
#include <cstring>
#include <string_view>

namespace gw::core {
namespace {

constexpr std::string_view magic = "CGWSTATE";
constexpr std::size_t header_size = 8 + 4 + 8;
constexpr std::size_t trailer_size = 4;

class snapshot_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "gw.snapshot"; }
  std::string message(int ev) const override {
    switch (static_cast<snapshot_error>(ev)) {
      case snapshot_error::truncated:
        return "state file truncated";
      case snapshot_error::bad_magic:
        return "not a coap-gateway state file";
      case snapshot_error::foreign_version:
        return "state file of another format version";
      case snapshot_error::bad_checksum:
        return "state file checksum mismatch";
      case snapshot_error::malformed:
        return "state file malformed";
    }
    return "unknown snapshot error";
  }
};

class writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { uint(v, 2); }
  void u32(std::uint32_t v) { uint(v, 4); }
  void u64(std::uint64_t v) { uint(v, 8); }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void blob(std::span<const std::uint8_t> b) {
    u32(static_cast<std::uint32_t>(b.size()));
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void text(std::string_view s) {
    blob({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  }
  void peer(const core::peer& p) {
    u16(p.socket);
    u8(p.v6 ? 1 : 0);
    out_.insert(out_.end(), p.address.begin(), p.address.end());
    u16(p.port);
  }
  void resource(const resource_key& r) {
    text(r.cik);
    text(r.alias);
  }
  coap::bytes take() { return std::move(out_); }

 private:
  void uint(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  coap::bytes out_;
};

// Every read checks the bounds; after the first failure every read fails and returns zeros.
class reader {
 public:
  explicit reader(std::span<const std::uint8_t> in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }

  std::uint8_t u8() { return static_cast<std::uint8_t>(uint(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(uint(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(uint(4)); }
  std::uint64_t u64() { return uint(8); }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  bool flag() {
    auto v = u8();
    if (v > 1) ok_ = false;
    return v == 1;
  }
  std::span<const std::uint8_t> raw(std::size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    auto s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  coap::bytes blob() {
    auto s = raw(u32());
    return {s.begin(), s.end()};
  }
  std::string text() {
    auto s = raw(u32());
    return {s.begin(), s.end()};
  }
  core::peer peer() {
    core::peer p;
    p.socket = u16();
    p.v6 = flag();
    auto a = raw(16);
    if (ok_) std::memcpy(p.address.data(), a.data(), 16);
    p.port = u16();
    return p;
  }
  resource_key resource() {
    resource_key r;
    r.cik = text();
    r.alias = text();
    return r;
  }
  // A count of records that each take at least `min_bytes`: one the rest cannot hold fails
  // here, before anything is allocated for it.
  std::uint32_t count(std::size_t min_bytes) {
    auto n = u32();
    if (ok_ && n > (in_.size() - pos_) / min_bytes) ok_ = false;
    return ok_ ? n : 0;
  }

 private:
  std::uint64_t uint(int n) {
    auto s = raw(static_cast<std::size_t>(n));
    std::uint64_t v = 0;
    for (auto b : s) v = (v << 8) | b;
    return v;
  }
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

constexpr std::size_t peer_bytes = 2 + 1 + 16 + 2;

void write_worker(writer& w, const worker_snapshot& s) {
  w.u32(static_cast<std::uint32_t>(s.observers.size()));
  for (const auto& o : s.observers) {
    w.peer(o.peer);
    w.blob(o.token);
    w.resource(o.resource);
    w.u8(o.observe ? 1 : 0);
    w.u32(o.observe.value_or(0));
    w.u8(o.szx);
    w.i64(o.last_sent_ms);
    w.u8(o.verified ? 1 : 0);
    w.u32(o.budget);
  }
  w.u32(static_cast<std::uint32_t>(s.resources.size()));
  for (const auto& r : s.resources) {
    w.resource(r.resource);
    w.blob(r.latest);
    w.u8(r.point_time ? 1 : 0);
    w.i64(r.point_time.value_or(0));
    w.text(r.point_value);
  }
  w.u32(static_cast<std::uint32_t>(s.requests.size()));
  for (const auto& q : s.requests) {
    w.peer(q.peer);
    w.u16(q.mid);
    w.u64(q.fingerprint);
    w.blob(q.reply);
    w.i64(q.arrived_ms);
    w.i64(q.expires_ms);
  }
}

worker_snapshot read_worker(reader& r) {
  worker_snapshot s;
  for (auto n = r.count(peer_bytes + 4 + 8 + 1 + 4 + 1 + 8 + 1 + 4); n > 0 && r.ok(); --n) {
    observer_record o;
    o.peer = r.peer();
    o.token = r.blob();
    o.resource = r.resource();
    const bool has = r.flag();
    const auto seq = r.u32();
    if (has) o.observe = seq;
    o.szx = r.u8();
    o.last_sent_ms = r.i64();
    o.verified = r.flag();
    o.budget = r.u32();
    s.observers.push_back(std::move(o));
  }
  for (auto n = r.count(8 + 4 + 1 + 8 + 4); n > 0 && r.ok(); --n) {
    resource_record x;
    x.resource = r.resource();
    x.latest = r.blob();
    const bool has = r.flag();
    const auto t = r.i64();
    if (has) x.point_time = t;
    x.point_value = r.text();
    s.resources.push_back(std::move(x));
  }
  for (auto n = r.count(peer_bytes + 2 + 8 + 4 + 8 + 8); n > 0 && r.ok(); --n) {
    request_record q;
    q.peer = r.peer();
    q.mid = r.u16();
    q.fingerprint = r.u64();
    q.reply = r.blob();
    q.arrived_ms = r.i64();
    q.expires_ms = r.i64();
    s.requests.push_back(std::move(q));
  }
  return s;
}

}  // namespace

const boost::system::error_category& snapshot_category() {
  static const snapshot_category_impl instance;
  return instance;
}

std::uint32_t crc32(std::span<const std::uint8_t> data) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (auto b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

coap::bytes encode_snapshot(const gateway_snapshot& s) {
  writer body;
  body.i64(s.written_ms);
  body.text(s.listen);
  body.u32(s.workers);
  for (auto b : s.hash_key) body.u8(b);
  body.u32(static_cast<std::uint32_t>(s.per_worker.size()));
  for (const auto& w : s.per_worker) write_worker(body, w);
  const auto payload = body.take();

  writer out;
  for (char c : magic) out.u8(static_cast<std::uint8_t>(c));
  out.u32(snapshot_version);
  out.u64(payload.size());
  auto file = out.take();
  file.insert(file.end(), payload.begin(), payload.end());
  writer trailer;
  trailer.u32(crc32(payload));
  const auto t = trailer.take();
  file.insert(file.end(), t.begin(), t.end());
  return file;
}

boost::system::result<gateway_snapshot> decode_snapshot(std::span<const std::uint8_t> data) {
  if (data.size() < magic.size()) return snapshot_error::truncated;
  if (std::memcmp(data.data(), magic.data(), magic.size()) != 0) return snapshot_error::bad_magic;
  if (data.size() < header_size) return snapshot_error::truncated;
  reader head(data.subspan(magic.size(), header_size - magic.size()));
  const auto version = head.u32();
  const auto length = head.u64();
  if (version != snapshot_version) return snapshot_error::foreign_version;
  const auto rest = data.size() - header_size;
  if (rest < trailer_size || length > rest - trailer_size) return snapshot_error::truncated;
  if (length != rest - trailer_size) return snapshot_error::malformed;  // bytes after the CRC
  const auto payload = data.subspan(header_size, length);
  reader tail(data.subspan(header_size + length));
  if (tail.u32() != crc32(payload)) return snapshot_error::bad_checksum;

  reader r(payload);
  gateway_snapshot s;
  s.written_ms = r.i64();
  s.listen = r.text();
  s.workers = r.u32();
  auto key = r.raw(16);
  if (r.ok()) std::memcpy(s.hash_key.data(), key.data(), 16);
  for (auto n = r.count(12); n > 0 && r.ok(); --n) s.per_worker.push_back(read_worker(r));
  if (!r.ok() || !r.done()) return snapshot_error::malformed;
  return s;
}

}  // namespace gw::core
