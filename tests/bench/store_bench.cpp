// Point lookups straight from the store (RocksKeyStore::lookup: index →
// certificate, one snapshot), one thread, warm cache: lookups/s and latency
// percentiles by fingerprint, key ID and e-mail.
//   KEYDIR_BENCH_DATA=/path/to/data build/store_bench
// The data folder is made by `keydird import` (tests/bench/store_bench.sh).
// Block cache: 2 GiB, enough for 1M certificates (figures: docs/performance.md).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>

#include "storage/rocksdb/rocks_key_store.hpp"

namespace {

using namespace keydir;
using namespace keydir::storage;

struct Corpus {
  std::unique_ptr<RocksKeyStore> store;
  std::vector<Fingerprint> fprs;
  std::vector<KeyId> key_ids;
  std::vector<std::string> emails;
};

Corpus& corpus() {
  static Corpus corpus_ = [] {
    Corpus c;
    const char* dir = std::getenv("KEYDIR_BENCH_DATA");
    if (!dir) {
      return c;
    }
    RocksOptions o;
    o.create_if_missing = false;
    // A server sized for its data: the whole working set fits the cache.
    o.block_cache_bytes = std::size_t{2} << 30;
    if (const char* rc = std::getenv("KEYDIR_BENCH_ROW_CACHE_MB")) {
      o.row_cache_bytes = std::size_t(std::atoi(rc)) << 20;
    }
    auto s = RocksKeyStore::open(dir, o);
    if (!s) {
      return c;
    }
    c.store = std::move(*s);
    // Sample up to 200,000 keys spread over the whole store.
    auto stats = c.store->stats();
    std::uint64_t n = stats ? stats->certificates : 0;
    std::uint64_t step = std::max<std::uint64_t>(1, n / 200000);
    std::uint64_t i = 0;
    (void)c.store->for_each([&](const CertRecord& r) {
      if (i++ % step == 0) {
        c.fprs.push_back(r.fingerprint);
        c.key_ids.push_back(r.index.key_ids.back());  // a subkey's key ID
        if (!r.index.emails.empty()) {
          c.emails.push_back(r.index.emails.front());
        }
      }
      return true;
    });
    std::mt19937 rng(1);
    std::shuffle(c.fprs.begin(), c.fprs.end(), rng);
    std::shuffle(c.key_ids.begin(), c.key_ids.end(), rng);
    std::shuffle(c.emails.begin(), c.emails.end(), rng);
    return c;
  }();
  return corpus_;
}

template <typename MakeQuery>
void run(benchmark::State& state, std::size_t count, MakeQuery make) {
  auto& c = corpus();
  if (!c.store || count == 0) {
    state.SkipWithError("set KEYDIR_BENCH_DATA to a data folder made by keydird import");
    return;
  }
  // Warm the cache: one pass over the sample.
  for (std::size_t i = 0; i < count; ++i) {
    benchmark::DoNotOptimize(c.store->lookup(make(i), 10));
  }
  std::vector<double> ns;
  ns.reserve(1 << 20);
  std::size_t i = 0;
  std::size_t misses = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = c.store->lookup(make(i++ % count), 10);
    auto t1 = std::chrono::steady_clock::now();
    if (!r || r->empty()) {
      ++misses;
    }
    if (ns.size() < ns.capacity()) {
      ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    }
  }
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) {
    return ns.empty() ? 0.0 : ns[static_cast<std::size_t>(p * static_cast<double>(ns.size() - 1))];
  };
  state.counters["lookups/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["p50_us"] = pct(0.50) / 1000;
  state.counters["p99_us"] = pct(0.99) / 1000;
  state.counters["misses"] = static_cast<double>(misses);
  state.counters["certs"] = static_cast<double>(c.store->stats()->certificates);
}

void BM_ByFingerprint(benchmark::State& state) {
  run(state, corpus().fprs.size(),
      [](std::size_t i) { return Query{Query::ByFingerprint{corpus().fprs[i]}}; });
}
void BM_ByKeyId(benchmark::State& state) {
  run(state, corpus().key_ids.size(),
      [](std::size_t i) { return Query{Query::ByKeyId{corpus().key_ids[i]}}; });
}
void BM_ByEmail(benchmark::State& state) {
  run(state, corpus().emails.size(),
      [](std::size_t i) { return Query{Query::ByEmail{corpus().emails[i]}}; });
}
void BM_Miss(benchmark::State& state) {
  std::vector<Fingerprint> absent;
  for (int i = 0; i < 1000; ++i) {
    Bytes b(20, static_cast<std::uint8_t>(i));
    b[0] = static_cast<std::uint8_t>(i >> 8);
    absent.emplace_back(Fingerprint::Version::V4, b);
  }
  run(state, absent.size(), [&](std::size_t i) { return Query{Query::ByFingerprint{absent[i]}}; });
}

BENCHMARK(BM_ByFingerprint)->MinTime(2);
BENCHMARK(BM_ByKeyId)->MinTime(2);
BENCHMARK(BM_ByEmail)->MinTime(2);
BENCHMARK(BM_Miss)->MinTime(2);

}  // namespace

BENCHMARK_MAIN();
