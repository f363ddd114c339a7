#include "api/http/answer_cache.hpp"

#include <functional>

namespace keydir::api {

namespace {

std::size_t cost_of(std::string_view key, const Reply& r) {
  std::size_t n = AnswerCache::kEntryOverhead + key.size() + r.body.size() + r.content_type.size();
  for (const auto& [name, value] : r.headers) {
    n += name.size() + value.size() + 64;
  }
  return n;
}

void append_field(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out.push_back(':');
  out.append(s);
}

}  // namespace

AnswerCache::AnswerCache(std::size_t max_bytes, std::uint64_t ttl_seconds)
    : shard_bytes_(max_bytes / kShards), ttl_(ttl_seconds) {}

std::string AnswerCache::key_of(std::string_view path, std::string_view host,
                                const std::vector<std::pair<std::string, std::string>>& params) {
  std::string key;
  append_field(key, path);
  append_field(key, host);
  for (const auto& [name, value] : params) {
    append_field(key, name);
    append_field(key, value);
  }
  return key;
}

AnswerCache::Shard& AnswerCache::shard_of(std::string_view key) {
  // The top bits: the maps inside a shard use the low ones.
  return shards_[(std::hash<std::string_view>{}(key) >> 32) % kShards];
}

void AnswerCache::drop(Shard& s, std::list<Entry>::iterator it) {
  s.bytes -= it->cost;
  s.index.erase(std::string_view(it->key));
  s.lru.erase(it);
}

std::optional<Reply> AnswerCache::get(std::string_view key, std::uint64_t generation,
                                      std::uint64_t now) {
  Shard& s = shard_of(key);
  {
    std::lock_guard lock(s.mutex);
    auto found = s.index.find(key);
    if (found != s.index.end()) {
      auto it = found->second;
      const bool expired = now < it->made || now - it->made >= ttl_;
      if (it->generation == generation && !expired) {
        s.lru.splice(s.lru.begin(), s.lru, it);
        ++s.hits;
        return it->reply;
      }
      if (it->generation < generation || expired) {
        drop(s, it);  // stale: a write or the clock passed it by
      }               // else made after the caller's reading: newer, kept
    }
    ++s.misses;
  }
  return std::nullopt;
}

void AnswerCache::put(std::string_view key, std::uint64_t generation, std::uint64_t now,
                      const Reply& reply) {
  const std::size_t cost = cost_of(key, reply);
  if (cost > shard_bytes_ / 8) {
    return;
  }
  Shard& s = shard_of(key);
  std::lock_guard lock(s.mutex);
  if (auto found = s.index.find(key); found != s.index.end()) {
    // Another worker answered the same query; keep the newer generation.
    if (found->second->generation > generation) {
      return;
    }
    drop(s, found->second);
  }
  if (s.bytes + cost > shard_bytes_) {
    // Full: take one new answer in kAdmitOneIn. Under plain LRU a cyclic
    // scan over more keys than fit (a bulk refresh, a crawler) evicts every
    // answer before it is asked again: all misses, each paying a copy. With
    // sampled admission entries outlive a cycle and the hit rate tends to
    // the share of keys that fit; a hot set still gets in, a little later.
    if (++s.refused % kAdmitOneIn != 0) {
      return;
    }
    while (s.bytes + cost > shard_bytes_ && !s.lru.empty()) {
      drop(s, std::prev(s.lru.end()));
    }
  }
  s.lru.push_front(Entry{std::string(key), generation, now, reply, cost});
  s.index.emplace(std::string_view(s.lru.front().key), s.lru.begin());
  s.bytes += cost;
}

AnswerCache::Stats AnswerCache::stats() const {
  Stats st;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    st.hits += s.hits;
    st.misses += s.misses;
    st.entries += s.index.size();
    st.bytes += s.bytes;
  }
  return st;
}

std::string AnswerCache::render_metrics() const {
  const Stats st = stats();
  std::string out;
  out += "# HELP keydir_answer_cache_lookups_total Lookups through the answer cache.\n";
  out += "# TYPE keydir_answer_cache_lookups_total counter\n";
  out += "keydir_answer_cache_lookups_total{result=\"hit\"} " + std::to_string(st.hits) + "\n";
  out += "keydir_answer_cache_lookups_total{result=\"miss\"} " + std::to_string(st.misses) + "\n";
  out += "# HELP keydir_answer_cache_entries Answers kept.\n";
  out += "# TYPE keydir_answer_cache_entries gauge\n";
  out += "keydir_answer_cache_entries " + std::to_string(st.entries) + "\n";
  out += "# HELP keydir_answer_cache_bytes Bytes the kept answers take.\n";
  out += "# TYPE keydir_answer_cache_bytes gauge\n";
  out += "keydir_answer_cache_bytes " + std::to_string(st.bytes) + "\n";
  return out;
}

}  // namespace keydir::api
