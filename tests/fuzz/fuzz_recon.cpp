// libFuzzer target: what an SKS reconciliation peer sends. The input is the
// byte stream from the peer; it is decoded frame by frame, and played
// against both session roles (answering requests, and asking with the
// input as the peer's replies) over a prefix tree of 300 elements built
// once. Looks for crashes, unbounded memory and hangs in the message
// decoder, the polynomial decoding and the tree walk.
#include <cstdint>
#include <random>

#include "recon/session.hpp"

namespace {

using namespace keydir;
using namespace keydir::recon;

class Replay final : public Stream {
 public:
  Replay(const std::uint8_t* data, std::size_t size) : in_(data, size) {}
  Result<void> read_exact(std::uint8_t* dst, std::size_t n) override {
    if (in_.size() - pos_ < n) {
      return fail(ErrorCode::ProtocolError, "end of input");
    }
    std::copy_n(in_.begin() + static_cast<std::ptrdiff_t>(pos_), n, dst);
    pos_ += n;
    return {};
  }
  Result<void> write_all(ByteView data) override {
    written_ += data.size();
    if (written_ > (64u << 20)) {
      return fail(ErrorCode::ProtocolError, "too much output");
    }
    return {};
  }

 private:
  ByteView in_;
  std::size_t pos_ = 0;
  std::size_t written_ = 0;
};

const PrefixTree& tree() {
  static PrefixTree* t = [] {
    auto* p = new PrefixTree();
    std::mt19937_64 rng(1);
    for (int i = 0; i < 300; ++i) {
      std::uint8_t b[16];
      for (auto& x : b) {
        x = static_cast<std::uint8_t>(rng());
      }
      p->insert(Zp::from_le(ByteView(b, 16)));
    }
    return p;
  }();
  return *t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Frames as they come.
  {
    std::size_t pos = 0;
    while (size - pos >= 4) {
      std::uint32_t n = (std::uint32_t{data[pos]} << 24) | (std::uint32_t{data[pos + 1]} << 16) |
                        (std::uint32_t{data[pos + 2]} << 8) | data[pos + 3];
      pos += 4;
      if (n > size - pos) {
        break;
      }
      auto m = decode(ByteView(data + pos, n));
      if (m) {
        (void)encode(*m);
      }
      pos += n;
    }
  }
  SessionLimits limits;
  limits.max_recover = 1000;
  {
    Replay s(data, size);
    std::mt19937_64 rng(2);
    (void)answer_session(s, tree(), limits, rng);
  }
  {
    Replay s(data, size);
    (void)serve_session(s, tree(), limits);
  }
  {
    Replay s(data, size);
    (void)exchange_config(s, Config{"1.1.6", 11371, 2, 5, "yminsky.dedup,yminsky.merge", {}});
  }
  return 0;
}
