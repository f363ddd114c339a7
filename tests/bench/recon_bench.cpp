// SKS reconciliation cost: two prefix trees of about N elements that differ
// by D (half on each side), reconciled over a Unix socket pair with the
// real session code. Prints, per D, the wall time, the rounds of requests,
// the protocol bytes both ways and what a full transfer would be.
//   recon_bench [--stored DIR] [N] [D...]   (default 1000000 and 1000 10000 100000)
// With --stored, the trees are the ones two RocksDB key stores under DIR
// keep (storage/rocksdb/recon_tree), filled with synthetic certificate
// records a thousand per write; the build column is then the store's write
// time, tree included.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <filesystem>
#include <memory>
#include <string>

#include "recon/poly.hpp"
#include "recon/ptree.hpp"
#include "recon/session.hpp"
#include "storage/rocksdb/rocks_key_store.hpp"

using namespace keydir;
using namespace keydir::recon;

namespace {

Zp random_hash(std::mt19937_64& rng) {
  return random_element(rng);
}

using FdStream = SocketStream;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A key store holding `sets` as synthetic records (the store never parses
// certificates; only the SKS hash matters to the tree).
std::unique_ptr<storage::RocksKeyStore> stored(const std::string& dir,
                                               const std::vector<const std::vector<Zp>*>& sets) {
  std::filesystem::remove_all(dir);
  storage::RocksOptions o;
  o.block_cache_bytes = 64u << 20;
  auto store = storage::RocksKeyStore::open(dir, o);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().detail.c_str());
    std::exit(1);
  }
  std::uint64_t serial = 0;
  std::vector<storage::Write> batch;
  auto flush = [&] {
    if (!batch.empty() && !(*store)->apply(batch, 1)) {
      std::fprintf(stderr, "write failed\n");
      std::exit(1);
    }
    batch.clear();
  };
  for (const auto* set : sets) {
    for (const Zp& z : *set) {
      Bytes f(20);
      for (std::size_t i = 0; i < 8; ++i) {
        f[i] = static_cast<std::uint8_t>(serial >> (8 * i));
        f[12 + i] = f[i];
      }
      ++serial;
      storage::Write w;
      openpgp::Fingerprint fpr(openpgp::Fingerprint::Version::V4, f);
      w.record.fingerprint = fpr;
      w.record.cert = Bytes{1};
      w.record.digest = Bytes(32, 1);
      w.record.index.fingerprints.push_back(fpr);
      w.record.index.key_ids.push_back(fpr.key_id());
      Bytes h = z.to_le(16);
      w.record.index.sks_hash = h;
      batch.push_back(std::move(w));
      if (batch.size() == 1000) {
        flush();
      }
    }
  }
  flush();
  return std::move(*store);
}

}  // namespace

int main(int argc, char** argv) {
  std::string stored_dir;
  int arg = 1;
  if (argc > 2 && std::string(argv[1]) == "--stored") {
    stored_dir = argv[2];
    arg = 3;
  }
  std::size_t n = argc > arg ? std::strtoull(argv[arg], nullptr, 10) : 1000000;
  std::vector<std::size_t> diffs;
  for (int i = arg + 1; i < argc; ++i) {
    diffs.push_back(std::strtoull(argv[i], nullptr, 10));
  }
  if (diffs.empty()) {
    diffs = {1000, 10000, 100000};
  }
  std::printf(
      "| difference | tree build (each side) | reconciliation | request batches | bytes (both "
      "ways) | bytes per difference | recovered (server / client) |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (std::size_t d : diffs) {
    std::mt19937_64 rng(42 + d);
    std::vector<Zp> common(n - d / 2);
    for (auto& z : common) {
      z = random_hash(rng);
    }
    std::vector<Zp> a_only(d / 2), b_only(d - d / 2);
    for (auto& z : a_only) {
      z = random_hash(rng);
    }
    for (auto& z : b_only) {
      z = random_hash(rng);
    }
    PrefixTree mem_a, mem_b;
    std::unique_ptr<storage::RocksKeyStore> store_a, store_b;
    std::unique_ptr<TreeView> view_a, view_b;
    auto t0 = std::chrono::steady_clock::now();
    double build = 0;
    if (stored_dir.empty()) {
      for (const auto& z : common) {
        mem_a.insert(z);
      }
      for (const auto& z : a_only) {
        mem_a.insert(z);
      }
      build = seconds_since(t0);
      for (const auto& z : common) {
        mem_b.insert(z);
      }
      for (const auto& z : b_only) {
        mem_b.insert(z);
      }
    } else {
      store_a = stored(stored_dir + "/a", {&common, &a_only});
      build = seconds_since(t0);
      store_b = stored(stored_dir + "/b", {&common, &b_only});
      view_a = std::move(*store_a->recon_tree());
      view_b = std::move(*store_b->recon_tree());
    }
    const TreeView& a = view_a ? *view_a : static_cast<const TreeView&>(mem_a);
    const TreeView& b = view_b ? *view_b : static_cast<const TreeView&>(mem_b);
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
      return 1;
    }
    SessionLimits limits;
    limits.max_recover = d * 2 + 1000;
    Result<Outcome> served = fail(ErrorCode::Internal, "");
    Result<Outcome> answered = fail(ErrorCode::Internal, "");
    t0 = std::chrono::steady_clock::now();
    std::thread server([&] {
      FdStream s(fds[0]);
      served = serve_session(s, a, limits);
    });
    {
      FdStream s(fds[1]);
      std::mt19937_64 r(7);
      answered = answer_session(s, b, limits, r);
    }
    server.join();
    double took = seconds_since(t0);
    ::close(fds[0]);
    ::close(fds[1]);
    if (!served || !answered) {
      std::fprintf(stderr, "session failed: %s\n",
                   (!served ? served.error().detail : answered.error().detail).c_str());
      return 1;
    }
    std::uint64_t bytes = served->bytes_out + answered->bytes_out;
    std::uint64_t batches = 0;
    // Each batch the serving side sends ends with one Flush; messages_out
    // counts requests + Flushes + Elements + Done; the answers are one per
    // request, so requests = answered->messages_out and batches follow.
    batches = served->messages_out - answered->messages_out;
    std::printf("| %zu | %.1f s | %.2f s | %llu | %.1f MB | %.0f | %zu / %zu |\n", d, build, took,
                static_cast<unsigned long long>(batches), static_cast<double>(bytes) / 1e6,
                static_cast<double>(bytes) / static_cast<double>(d), served->recover.size(),
                answered->recover.size());
    std::fflush(stdout);
  }
  std::printf(
      "\nA list of all %zu hashes alone is %.1f MB; a full keydump of %zu certificates at "
      "the Debian corpus's 3.4 KB average (after stripping) is %.1f GB.\n",
      n, static_cast<double>(n) * 16 / 1e6, n, static_cast<double>(n) * 3400 / 1e9);
  return 0;
}
