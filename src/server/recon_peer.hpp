// keydird as an SKS reconciliation peer: a prefix tree of the store's SKS
// key hashes, a listener on the recon port, a gossip loop that reconciles
// with a configured partner at random every interval, and the recovery of
// what a partner has and we lack through its /pks/hashquery. What comes in
// goes through KeyDirectory::upload like any upload: a peer is trusted no
// more than a user.
//
// The tree is the key store's (storage/rocksdb/recon_tree): changed in the
// same atomic write as every certificate, so uploads, imports, deletions and
// recoveries all reach it; each session walks one snapshot of it and blocks
// no writer.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "recon/filters.hpp"
#include "recon/session.hpp"
#include "service/key_directory.hpp"

namespace keydir::server {

struct ReconPeerAddress {
  std::string host;
  std::uint16_t recon_port = 11370;
  std::uint16_t hkp_port = 11371;
  // The filters announced to this peer; unset: ReconOptions::filters.
  std::optional<recon::Filters> filters;
  [[nodiscard]] std::string name() const;  // host:reconport
};
// "HOST:RECONPORT:HKPPORT" (or "HOST:RECONPORT", HKP port 11371), optionally
// followed by " filters=PROFILE-OR-LIST" (recon/filters.hpp).
Result<ReconPeerAddress> parse_peer(std::string_view text);

struct ReconOptions {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 11370;  // 0: any free port
  bool listen = true;
  std::vector<ReconPeerAddress> peers;
  int gossip_interval_seconds = 60;  // 0: no gossip (serve only)
  // Addresses allowed to connect besides the peers' and loopback.
  std::vector<std::string> allow;
  std::uint16_t http_port = 11371;  // ours, told to peers in the config
  // Announced to peers without filters of their own (default: "sks").
  recon::Filters filters = *recon::parse_filters("sks");
  // Per peer: hashes the peer holds in a form we store differently, shown
  // to it under its own hash (at most this many per peer).
  std::size_t max_aliases_per_peer = 100000;
  recon::SessionLimits limits;
  std::size_t hashquery_batch = 100;
  int io_timeout_seconds = 60;
};

struct ReconStats {
  std::atomic<std::uint64_t> rounds{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> busy{0};
  std::atomic<std::uint64_t> recovered{0};      // certificates new or updated here
  std::atomic<std::uint64_t> fetch_missing{0};  // asked for, not served by the peer
  std::atomic<std::uint64_t> unconverged{0};    // fetched, stored under another hash
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> last_round_ms{0};
  std::atomic<std::uint64_t> elements{0};
};

class ReconPeer {
 public:
  // `store`: the store behind `directory` (its recon tree, peers' aliases).
  ReconPeer(service::KeyDirectory& directory, storage::KeyStore& store, ReconOptions options);
  ~ReconPeer();
  // Builds the tree, binds the recon port, starts listening and gossiping.
  // Returns the bound port.
  Result<std::uint16_t> start();
  void stop();

  // One round with `peer` as the connecting side, then the recovery.
  // Returns the number of certificates recovered.
  Result<std::uint64_t> gossip_once(const ReconPeerAddress& peer);

  [[nodiscard]] const ReconStats& stats() const;

  // The tree as it stands: two stores hold the same set of keys exactly
  // when their root digests are equal.
  struct TreeSummary {
    std::uint64_t elements = 0;
    std::uint64_t nodes = 0;
    std::uint64_t leaves = 0;
    int depth = 0;
    std::string root_digest;  // SHA-256 of the root's sample values, hex, 16 digits
  };
  [[nodiscard]] Result<TreeSummary> summary() const;
  // Prometheus text of the counters above.
  [[nodiscard]] std::string metrics() const;
  // Per peer: the last round's outcome, the last failure and its reason,
  // rounds, keys fetched, and the hashes presented in the peer's form. Text
  // lines, or a JSON array.
  [[nodiscard]] std::string peer_status(bool as_json) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keydir::server
