// A bounded cache of lookup answers (HKP /pks/lookup and /pks/v2, VKS, WKD),
// in front of the store.
//
// Why: a lookup of a key asked for often (a popular key, `gpg --refresh-keys`
// of a keyring) is then answered from memory, whatever the store's size: no
// index read, no certificate read, no armoring. Measured in docs/performance.md
// ("Answer cache").
//
// Correctness: an entry is tagged with the store's write generation
// (KeyStore::generation), read before the store was; it is served only while
// the generation is unchanged, so any write (upload, deletion, publication of
// an address) makes every older answer a miss at once, and an uploader reads
// its own write. Entries also expire after `ttl_seconds`: the machine-readable
// index shows expiry, which changes with time and not with writes.
//
// Bounds: the entries' sizes (key, body, headers and a fixed overhead) never
// exceed `max_bytes` in total. Once full, one new answer in kAdmitOneIn gets
// in, in place of the least recently used. An answer
// larger than 1/8 of a shard is not kept. Hostile traffic (random misses) can
// only push entries out, never grow the cache.
//
// Thread safety: 16 shards, each behind its own mutex.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/http/message.hpp"

namespace keydir::api {

class AnswerCache {
 public:
  static constexpr std::size_t kShards = 16;
  // What an entry costs beyond its strings: list node, map slot, Reply.
  static constexpr std::size_t kEntryOverhead = 160;
  // When a shard is full, one new answer in this many is admitted (put).
  static constexpr std::uint64_t kAdmitOneIn = 8;

  AnswerCache(std::size_t max_bytes, std::uint64_t ttl_seconds);

  // The answer kept for `key` if it was made at `generation` and is younger
  // than the TTL at `now` (seconds).
  std::optional<Reply> get(std::string_view key, std::uint64_t generation, std::uint64_t now);
  // Keeps `reply` for `key`, replacing what was there.
  void put(std::string_view key, std::uint64_t generation, std::uint64_t now, const Reply& reply);

  struct Stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t entries = 0;
    std::uint64_t bytes = 0;
  };
  [[nodiscard]] Stats stats() const;
  // Hits, misses, entries and bytes in the Prometheus text format.
  [[nodiscard]] std::string render_metrics() const;
  [[nodiscard]] std::size_t max_bytes() const { return shard_bytes_ * kShards; }

  // The cache key of a request: its path, the host when the answer depends
  // on it (else empty), and its decoded query parameters, each with its
  // length, so no two requests that differ share a key.
  static std::string key_of(std::string_view path, std::string_view host,
                            const std::vector<std::pair<std::string, std::string>>& params);

 private:
  struct Entry {
    std::string key;
    std::uint64_t generation;
    std::uint64_t made;
    Reply reply;
    std::size_t cost;
  };
  struct alignas(64) Shard {  // one per cache line: no false sharing
    mutable std::mutex mutex;
    std::list<Entry> lru;  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index;
    std::size_t bytes = 0;
    std::uint64_t refused = 0;  // admissions counted while full
    // Counted under the shard's lock: no cache line shared by all workers.
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
  };
  Shard& shard_of(std::string_view key);
  static void drop(Shard& s, std::list<Entry>::iterator it);

  std::size_t shard_bytes_;
  std::uint64_t ttl_;
  std::array<Shard, kShards> shards_;
};

}  // namespace keydir::api
