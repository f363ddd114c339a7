// The transparency log at scale: appends per second into a RocksDB store,
// bytes on disk per million entries, and the size and time of inclusion and
// consistency proofs (docs/performance.md, "The transparency log").
//
//   tlog_bench DIR ENTRIES [ADDRESSES_PER_ENTRY]
//
// DIR must not exist. Entries are synthetic certificate entries (random v4
// fingerprints and digests, HMAC commitments of made-up addresses), appended
// in batches of 10,000 as the backfill of a store does.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "openpgp/crypto/primitives.hpp"
#include "storage/rocksdb/rocks_key_store.hpp"
#include "tlog/merkle.hpp"

using namespace keydir;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
std::uint64_t dir_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      n += e.file_size();
    }
  }
  return n;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: tlog_bench DIR ENTRIES [ADDRESSES_PER_ENTRY]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::uint64_t total = std::strtoull(argv[2], nullptr, 10);
  const int per_entry = argc > 3 ? std::atoi(argv[3]) : 1;
  storage::RocksOptions ro;
  ro.program = "tlog_bench";
  auto store = storage::RocksKeyStore::open(dir, ro);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().detail.c_str());
    return 1;
  }
  tlog::CommitmentScheme scheme;
  scheme.salt = Bytes(32, 1);
  if (!(*store)->start_log(scheme, 1700000000)) {
    return 1;
  }
  std::mt19937_64 rng(42);
  auto random_bytes = [&](std::size_t n) {
    Bytes b(n);
    for (auto& x : b) {
      x = static_cast<std::uint8_t>(rng());
    }
    return b;
  };
  const auto start = std::chrono::steady_clock::now();
  std::vector<storage::LogItem> items;
  for (std::uint64_t i = 0; i < total; ++i) {
    storage::LogItem item;
    item.fingerprint = openpgp::Fingerprint(openpgp::Fingerprint::Version::V4, random_bytes(20));
    item.seq = i + 1;
    item.digest = random_bytes(32);
    for (int a = 0; a < per_entry; ++a) {
      item.addresses.push_back("user" + std::to_string(i) + "." + std::to_string(a) +
                               "@example.org");
    }
    items.push_back(std::move(item));
    if (items.size() == 10000 || i + 1 == total) {
      if (auto r = (*store)->append_log(items, 1700000000 + i); !r) {
        std::fprintf(stderr, "%s\n", r.error().detail.c_str());
        return 1;
      }
      items.clear();
    }
  }
  const double append_s = seconds_since(start);
  auto state = (*store)->log_state();
  const std::uint64_t size = state->size;
  if (!(*store)->compact()) {
    return 1;
  }
  const std::uint64_t bytes = dir_bytes(dir);
  auto read = [&](tlog::NodeId id) { return (*store)->log_hash(id); };
  // Proofs for random leaves against the whole tree.
  constexpr int kProofs = 2000;
  std::size_t hashes = 0;
  auto t = std::chrono::steady_clock::now();
  for (int k = 0; k < kProofs; ++k) {
    const std::uint64_t index = rng() % size;
    auto p = tlog::inclusion_proof(index, size, read);
    if (!p) {
      return 1;
    }
    hashes += p->size();
  }
  const double inclusion_us = seconds_since(t) / kProofs * 1e6;
  const double inclusion_hashes = static_cast<double>(hashes) / kProofs;
  hashes = 0;
  t = std::chrono::steady_clock::now();
  for (int k = 0; k < kProofs; ++k) {
    const std::uint64_t old_size = 1 + rng() % (size - 1);
    auto p = tlog::consistency_proof(old_size, size, read);
    if (!p) {
      return 1;
    }
    hashes += p->size();
  }
  const double consistency_us = seconds_since(t) / kProofs * 1e6;
  const double consistency_hashes = static_cast<double>(hashes) / kProofs;
  // Checking one proof (what a client does).
  auto root = tlog::tree_root(size, read);
  auto entries = (*store)->log_entries(size / 2, 1);
  auto proof = tlog::inclusion_proof(size / 2, size, read);
  t = std::chrono::steady_clock::now();
  bool ok = true;
  for (int k = 0; k < kProofs; ++k) {
    ok = ok &&
         tlog::verify_inclusion(size / 2, size, tlog::leaf_hash(entries->front()), *proof, *root);
  }
  const double verify_us = seconds_since(t) / kProofs * 1e6;
  // What one guess at an address costs against a verified-mode log.
  tlog::CommitmentScheme hard{tlog::CommitmentScheme::Kind::Scrypt, 14, 8, 1, Bytes(32, 2)};
  t = std::chrono::steady_clock::now();
  constexpr int kGuesses = 20;
  for (int k = 0; k < kGuesses; ++k) {
    ok = ok && static_cast<bool>(hard.commit("guess" + std::to_string(k) + "@example.org"));
  }
  const double scrypt_ms = seconds_since(t) / kGuesses * 1e3;
  t = std::chrono::steady_clock::now();
  for (int k = 0; k < kProofs; ++k) {
    ok = ok && static_cast<bool>(scheme.commit("guess" + std::to_string(k) + "@example.org"));
  }
  const double hmac_us = seconds_since(t) / kProofs * 1e6;
  std::printf("{\"scrypt_commitment_ms\": %.1f, \"hmac_commitment_us\": %.2f, ", scrypt_ms,
              hmac_us);
  std::printf(
      "\"entries\": %llu, \"addresses_per_entry\": %d, \"append_seconds\": %.2f, "
      "\"appends_per_second\": %.0f, \"store_bytes\": %llu, \"bytes_per_million_entries\": %.0f, "
      "\"inclusion_proof_hashes\": %.1f, \"inclusion_proof_bytes\": %.0f, "
      "\"inclusion_proof_us\": %.1f, \"consistency_proof_hashes\": %.1f, "
      "\"consistency_proof_us\": %.1f, \"verify_inclusion_us\": %.1f, \"verified\": %s}\n",
      static_cast<unsigned long long>(size), per_entry, append_s,
      static_cast<double>(total) / append_s, static_cast<unsigned long long>(bytes),
      static_cast<double>(bytes) / static_cast<double>(size) * 1e6, inclusion_hashes,
      inclusion_hashes * 32, inclusion_us, consistency_hashes, consistency_us, verify_us,
      ok ? "true" : "false");
  return ok ? 0 : 1;
}
