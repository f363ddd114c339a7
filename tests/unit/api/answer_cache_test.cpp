// AnswerCache on its own: hits, invalidation by generation and by age, the
// byte bound and LRU order, and many threads at once. Through the router,
// with a real store: web_api_test.cpp (AnswerCacheThroughApi).
#include "api/http/answer_cache.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace keydir::api {
namespace {

Reply answer(std::string body, int status = 200) {
  Reply r;
  r.status = status;
  r.content_type = "application/pgp-keys";
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "public, max-age=300");
  return r;
}

TEST(AnswerCache, HitsOnlyAtTheSameGenerationAndWithinTheTtl) {
  AnswerCache c(1 << 20, 60);
  EXPECT_FALSE(c.get("k", 7, 1000));
  c.put("k", 7, 1000, answer("key"));
  auto hit = c.get("k", 7, 1059);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->body, "key");
  EXPECT_EQ(hit->status, 200);
  EXPECT_EQ(hit->content_type, "application/pgp-keys");
  ASSERT_EQ(hit->headers.size(), 1u);
  EXPECT_FALSE(c.get("k", 7, 1060));  // as old as the TTL: gone
  EXPECT_EQ(c.stats().entries, 0u);   // and dropped, not kept stale

  c.put("k", 7, 1000, answer("key"));
  EXPECT_FALSE(c.get("k", 8, 1000));  // a write happened since
  EXPECT_EQ(c.stats().entries, 0u);
  EXPECT_FALSE(c.get("k", 7, 999));  // a clock that went back is no hit either

  auto st = c.stats();
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.misses, 4u);
}

TEST(AnswerCache, AnOlderAnswerNeverReplacesANewerOne) {
  AnswerCache c(1 << 20, 60);
  c.put("k", 5, 0, answer("new"));
  c.put("k", 4, 0, answer("old"));  // a slow worker that read before the write
  ASSERT_TRUE(c.get("k", 5, 0));
  EXPECT_EQ(c.get("k", 5, 0)->body, "new");
  c.put("k", 6, 0, answer("newer"));
  EXPECT_EQ(c.get("k", 6, 0)->body, "newer");
  EXPECT_EQ(c.stats().entries, 1u);
}

TEST(AnswerCache, StaysWithinItsBytesAndDropsTheLeastRecentlyUsed) {
  const std::size_t max = 16 * 64 * 1024;  // 64 KiB a shard
  AnswerCache c(max, 60);
  const std::string body(1000, 'x');
  for (int i = 0; i < 5000; ++i) {
    c.put("key" + std::to_string(i), 1, 0, answer(body));
    // Key 0 is used all along: it must survive everything else.
    ASSERT_TRUE(c.get("key0", 1, 0)) << i;
  }
  auto st = c.stats();
  EXPECT_LE(st.bytes, max);
  EXPECT_GT(st.bytes, max / 2);  // the bound is used, not wasted
  EXPECT_LT(st.entries, 1000u);
  EXPECT_FALSE(c.get("key1", 1, 0));  // long pushed out
  // Full: a new answer gets in after a few tries (kAdmitOneIn), whichever
  // shard it falls in.
  bool in = false;
  for (std::uint64_t i = 0; i < AnswerCache::kAdmitOneIn && !in; ++i) {
    c.put("latecomer", 1, 0, answer(body));
    in = c.get("latecomer", 1, 0).has_value();
  }
  EXPECT_TRUE(in);
  EXPECT_LE(c.stats().bytes, max);
}

// A cycle over twice as many keys as fit: plain LRU would miss every time.
TEST(AnswerCache, ACyclicScanLargerThanTheCacheStillHits) {
  const std::size_t max = 16 * 64 * 1024;
  AnswerCache c(max, 60);
  const std::string body(1000, 'x');
  const int keys = 1600;  // about twice what fits
  for (int round = 0; round < 30; ++round) {
    for (int i = 0; i < keys; ++i) {
      std::string k = "key" + std::to_string(i);
      if (!c.get(k, 1, 0)) {
        c.put(k, 1, 0, answer(body));
      }
    }
  }
  auto st = c.stats();
  EXPECT_LE(st.bytes, max);
  EXPECT_GT(static_cast<double>(st.hits) / static_cast<double>(st.hits + st.misses), 0.3);
}

TEST(AnswerCache, AnAnswerTooLargeForItsShardIsNotKept) {
  AnswerCache c(16 * 8192, 60);  // 8 KiB a shard: at most 1 KiB an entry
  c.put("big", 1, 0, answer(std::string(2000, 'x')));
  EXPECT_FALSE(c.get("big", 1, 0));
  c.put("small", 1, 0, answer(std::string(500, 'x')));
  EXPECT_TRUE(c.get("small", 1, 0));
}

TEST(AnswerCache, KeysKeepParameterBoundaries) {
  using P = std::vector<std::pair<std::string, std::string>>;
  auto key = [](const P& p) { return AnswerCache::key_of("/pks/lookup", "", p); };
  EXPECT_NE(key(P{{"a", "bc"}}), key(P{{"ab", "c"}}));
  EXPECT_NE(key(P{{"a", "1"}, {"b", "2"}}), key(P{{"b", "2"}, {"a", "1"}}));
  EXPECT_NE(key(P{{"a", ""}}), key(P{{"a", ""}, {"", ""}}));
  EXPECT_EQ(key(P{{"op", "get"}, {"search", "0xAB"}}), key(P{{"op", "get"}, {"search", "0xAB"}}));
  // The path and the host are part of the key; "/a" + host "b" is not "/ab".
  EXPECT_NE(AnswerCache::key_of("/a", "b", {}), AnswerCache::key_of("/ab", "", {}));
  EXPECT_NE(AnswerCache::key_of("/vks/v1/by-keyid/AB", "", {}),
            AnswerCache::key_of("/vks/v1/by-keyid/AC", "", {}));
  EXPECT_NE(AnswerCache::key_of("/.well-known/openpgpkey/hu/x", "example.org", {}),
            AnswerCache::key_of("/.well-known/openpgpkey/hu/x", "example.net", {}));
}

TEST(AnswerCache, ManyThreadsGetTheirOwnAnswersWithinTheBound) {
  const std::size_t max = 16 * 32 * 1024;
  AnswerCache c(max, 60);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, &wrong, t] {
      for (int i = 0; i < 20000; ++i) {
        std::string key = "k" + std::to_string((i * 7 + t) % 600);
        // Each thread sees a write (a new generation) at its own pace.
        std::uint64_t gen = static_cast<std::uint64_t>((i + 1000 * t) / 5000);
        if (auto hit = c.get(key, gen, 0)) {
          wrong += hit->body != key + std::string(300, '.');
        } else {
          c.put(key, gen, 0, answer(key + std::string(300, '.')));
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(wrong.load(), 0);
  auto st = c.stats();
  EXPECT_LE(st.bytes, max);
  EXPECT_EQ(st.hits + st.misses, 80000u);
  EXPECT_GT(st.hits, 20000u);
}

}  // namespace
}  // namespace keydir::api
