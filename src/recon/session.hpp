// One reconciliation between two peers over a connected stream, in either
// role, as SKS and Hockeypuck run it:
// - both send their Config and acknowledge the other's ("passed", or
//   "failed" and a reason: bit quantum and mbar must match);
// - the side that accepted the connection walks its prefix tree and asks
//   (ReconRqstPoly with a node's sample values, or ReconRqstFull with its
//   elements for small nodes), a batch at a time, each batch ended by Flush;
// - the side that connected answers each request: the elements it has that
//   the asker lacks (Elements), SyncFail when the difference is too large
//   for the samples (the asker then descends to the children), or all its
//   elements (FullElements) for a small node;
// - Done ends it. Each side returns the elements the other holds and it
//   lacks; fetching them (HTTP hashquery) is the caller's business.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "recon/messages.hpp"
#include "recon/tree_view.hpp"

namespace keydir::recon {

class Stream {
 public:
  virtual ~Stream() = default;
  virtual Result<void> read_exact(std::uint8_t* dst, std::size_t n) = 0;
  virtual Result<void> write_all(ByteView data) = 0;
};

// A connected socket (TCP, or one end of a socket pair). A positive
// timeout bounds every send and receive (SO_SNDTIMEO, SO_RCVTIMEO).
class SocketStream final : public Stream {
 public:
  explicit SocketStream(int fd, int timeout_seconds = 0);
  Result<void> read_exact(std::uint8_t* dst, std::size_t n) override;
  Result<void> write_all(ByteView data) override;

 private:
  int fd_;
};

// One whole message; `octets`, when given, gets its size on the wire.
Result<Message> read_message(Stream& s, std::uint64_t* octets = nullptr);

struct SessionLimits {
  std::size_t max_outstanding = 100;  // requests in flight per batch (conflux default)
  std::size_t max_recover = 15000;    // elements one session may ask to fetch
  std::size_t max_request_queue = 60000;
  // The answering side queues its replies until the asker's Flush. A peer
  // that asks without flushing (a tiny ReconRqstFull for the root costs it
  // 17 octets and us every element) ends the session past either bound.
  // Our own walk sends at most max_outstanding requests per Flush.
  std::size_t max_requests_per_flush = 1000;
  std::size_t max_pending_bytes = 16u << 20;  // a peer reads no larger message
  // A ReconRqstFull makes us read every element of the node asked for: one
  // 17-octet message for the root of a 10M store would cost hundreds of MB
  // before any answer is queued. Past this many elements the session ends
  // (the asker's node is small; ours that large means a difference no single
  // session can recover anyway, see max_recover).
  std::size_t max_full_elements = 100000;
};

// Sends `local`, reads the peer's, checks them (bit quantum, mbar and the
// filters must be equal, as conflux checks), acknowledges. A non-empty
// `refuse` makes this side answer "failed" with that reason (busy).
// Errors: ProtocolError with the reason, e.g. "mismatched filters: ...".
Result<Config> exchange_config(Stream& s, const Config& local, const std::string& refuse = {});

// The accepting side: reads the peer's Config first, then sends the one
// `choose` picks for it (the filters configured for that peer), then checks
// and acknowledges as above. Every known peer sends its Config without
// waiting for ours (SKS, conflux, keydird's exchange_config).
Result<Config> answer_config(Stream& s, const std::function<Config(const Config& remote)>& choose,
                             const std::string& refuse = {});

struct Outcome {
  std::vector<Zp> recover;  // the peer has them, we do not
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

// The accepting side: drives the walk. `tree` must not change meanwhile.
Result<Outcome> serve_session(Stream& s, const TreeView& tree, const SessionLimits& limits);
// The connecting side: answers until Done.
Result<Outcome> answer_session(Stream& s, const TreeView& tree, const SessionLimits& limits,
                               std::mt19937_64& rng);

}  // namespace keydir::recon
