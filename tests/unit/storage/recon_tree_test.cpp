// The prefix tree the store keeps next to the keys (storage/rocksdb/
// recon_tree): after any sequence of writes it must equal the tree the SKS
// hash index implies (check() recomputes it), carry the same sample values
// as an in-memory PrefixTree of the same set, and reconcile with a peer.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include <rocksdb/db.h>

#include "recon/poly.hpp"
#include "recon/ptree.hpp"
#include "recon/session.hpp"
#include "storage/rocksdb/rocks_key_store.hpp"
#include "temp_dir.hpp"

namespace keydir::storage {
namespace {

using recon::PrefixTree;
using recon::Zp;

Fingerprint fpr_of(std::uint32_t n) {
  Bytes b(20, 0x5a);
  for (int i = 0; i < 4; ++i) {  // in the key ID too, so that each has its own
    b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
    b[static_cast<std::size_t>(16 + i)] = static_cast<std::uint8_t>(n >> (8 * i));
  }
  return Fingerprint(Fingerprint::Version::V4, b);
}

Write write_of(std::uint32_t n, const Bytes& hash, std::optional<Bytes> previous_hash) {
  Write w;
  Fingerprint f = fpr_of(n);
  w.record.fingerprint = f;
  w.record.cert = Bytes{1, 2, 3};
  w.record.digest = Bytes(32, 7);
  w.record.index.fingerprints.push_back(f);
  w.record.index.key_ids.push_back(f.key_id());
  w.record.index.sks_hash = hash;
  if (previous_hash) {
    w.previous = w.record.index;
    w.previous->sks_hash = *previous_hash;
  }
  return w;
}

Bytes random_hash(std::mt19937_64& rng, std::size_t fixed_prefix = 0) {
  Bytes h(16);
  for (auto& b : h) {
    b = static_cast<std::uint8_t>(rng());
  }
  for (std::size_t i = 0; i < fixed_prefix; ++i) {
    h[i] = 0xA5;
  }
  return h;
}

// Certificates first .. first+count-1 with random hashes (the first
// `fixed_prefix` octets shared), in one write; `set` records them.
void add_random(RocksKeyStore& store, std::map<std::uint32_t, Bytes>& set, std::uint32_t first,
                std::uint32_t count, std::uint64_t seed, std::size_t fixed_prefix = 0) {
  std::mt19937_64 rng(seed);
  std::vector<Write> batch;
  for (std::uint32_t n = first; n < first + count; ++n) {
    set[n] = random_hash(rng, fixed_prefix);
    batch.push_back(write_of(n, set[n], std::nullopt));
  }
  ASSERT_TRUE(store.apply(batch, 1));
}

std::unique_ptr<RocksKeyStore> open(const test::TempDir& dir) {
  auto s = RocksKeyStore::open(dir.str("db"), RocksOptions{});
  EXPECT_TRUE(s) << s.error().detail;
  return std::move(*s);
}

// The store's tree against an in-memory tree of `set`: same size, same root
// sample values, same elements; and check() finds nothing.
void expect_same(const RocksKeyStore& store, const std::map<std::uint32_t, Bytes>& set) {
  PrefixTree mirror;
  std::set<Zp> elements;
  for (const auto& [n, h] : set) {
    Zp z = Zp::from_le(h);
    mirror.insert(z);
    elements.insert(z);
  }
  auto view = store.recon_tree();
  ASSERT_TRUE(view);
  auto root = (*view)->root_node();
  ASSERT_TRUE(root);
  EXPECT_EQ(root->size, set.size());
  EXPECT_EQ(root->svalues, mirror.root().svalues);
  auto all = (*view)->elements_of(*root);
  ASSERT_TRUE(all);
  EXPECT_EQ(std::set<Zp>(all->begin(), all->end()), elements);
  auto report = store.check();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->problem_count, 0u) << (report->problems.empty() ? "" : report->problems[0]);
}

// Walks the stored tree: every internal node's children add up to it.
void expect_children_add_up(const recon::TreeView& view) {
  std::vector<recon::TreeNode> stack{*view.root_node()};
  while (!stack.empty()) {
    auto n = stack.back();
    stack.pop_back();
    auto children = view.children_of(n);
    ASSERT_TRUE(children);
    if (n.leaf) {
      EXPECT_TRUE(children->empty());
      EXPECT_LE(n.size, 50u);
      continue;
    }
    ASSERT_EQ(children->size(), 4u);
    std::uint64_t size = 0;
    std::vector<Zp> product(n.svalues.size(), Zp::of_int(1));
    for (const auto& c : *children) {
      size += c.size;
      for (std::size_t i = 0; i < product.size(); ++i) {
        product[i] = product[i] * c.svalues[i];
      }
      stack.push_back(c);
    }
    EXPECT_EQ(size, n.size);
    EXPECT_EQ(product, n.svalues);
  }
}

TEST(StoredReconTree, FollowsEveryWriteUpdateAndRemoval) {
  test::TempDir dir;
  auto store = open(dir);
  std::mt19937_64 rng(5);
  std::map<std::uint32_t, Bytes> set;  // certificate number → its hash
  std::uint32_t next = 0;
  std::uint64_t now = 1;
  // Batches of new certificates, some of them in crowded corners of the
  // hash space so that nodes split deep.
  while (next < 3000) {
    std::vector<Write> batch;
    std::size_t size = 1 + rng() % 60;
    for (std::size_t i = 0; i < size; ++i, ++next) {
      Bytes h = random_hash(rng, next % 7 == 0 ? 3 : 0);
      set[next] = h;
      batch.push_back(write_of(next, h, std::nullopt));
    }
    ASSERT_TRUE(store->apply(batch, now++));
  }
  expect_same(*store, set);
  // Updates: a new hash for a third of them, sometimes twice in one batch.
  for (int round = 0; round < 20; ++round) {
    std::vector<Write> batch;
    for (int i = 0; i < 50; ++i) {
      std::uint32_t n = static_cast<std::uint32_t>(rng() % next);
      Bytes h = random_hash(rng, n % 7 == 0 ? 3 : 0);
      batch.push_back(write_of(n, h, set[n]));
      set[n] = h;
    }
    ASSERT_TRUE(store->apply(batch, now++));
  }
  expect_same(*store, set);
  // Removals down to below the split threshold: every join.
  std::vector<std::uint32_t> keys;
  for (const auto& [n, h] : set) {
    keys.push_back(n);
  }
  std::shuffle(keys.begin(), keys.end(), rng);
  for (std::size_t i = 0; i + 40 < keys.size(); ++i) {
    auto n = keys[i];
    auto w = write_of(n, set[n], std::nullopt);
    ASSERT_TRUE(store->remove(w.record, Tombstone{now++, "test"}));
    set.erase(n);
    if (i % 500 == 0) {
      expect_same(*store, set);
      expect_children_add_up(**store->recon_tree());
    }
  }
  expect_same(*store, set);
  auto root = (*store->recon_tree())->root_node();
  EXPECT_TRUE(root->leaf);
  EXPECT_EQ(root->size, 40u);
}

TEST(StoredReconTree, SplitsDeepAndJoinsBack) {
  test::TempDir dir;
  auto store = open(dir);
  std::map<std::uint32_t, Bytes> set;
  // 200 hashes sharing their first 10 octets: the path to them is 40
  // levels of single internal nodes.
  add_random(*store, set, 0, 200, 6, 10);
  expect_same(*store, set);
  auto view = store->recon_tree();
  expect_children_add_up(**view);
  Bytes prefix(11, 0xA5);
  auto deep = (*view)->find(recon::Bitstring::of(prefix, 80));
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->depth, 40);
  EXPECT_EQ(deep->size, 200u);
  for (std::uint32_t n = 0; n < 160; ++n) {
    auto w = write_of(n, set[n], std::nullopt);
    ASSERT_TRUE(store->remove(w.record, Tombstone{2, "test"}));
    set.erase(n);
  }
  expect_same(*store, set);
  EXPECT_TRUE((*store->recon_tree())->root_node()->leaf);
}

TEST(StoredReconTree, ViewIsASnapshot) {
  test::TempDir dir;
  auto store = open(dir);
  std::map<std::uint32_t, Bytes> set;
  add_random(*store, set, 0, 100, 7);
  auto before = store->recon_tree();
  add_random(*store, set, 100, 200, 17);
  EXPECT_EQ((*before)->root_node()->size, 100u);
  auto root = (*before)->root_node();
  EXPECT_EQ((*before)->elements_of(*root)->size(), 100u);
  EXPECT_EQ((*store->recon_tree())->root_node()->size, 300u);
}

TEST(StoredReconTree, RebuildAndReopenKeepTheSameTree) {
  test::TempDir dir;
  std::map<std::uint32_t, Bytes> set;
  std::vector<Zp> svalues;
  {
    auto store = open(dir);
    add_random(*store, set, 0, 1000, 8);
    svalues = (*store->recon_tree())->root_node()->svalues;
    auto n = store->rebuild_recon_tree();
    ASSERT_TRUE(n) << n.error().detail;
    EXPECT_EQ(*n, 1000u);
    EXPECT_EQ((*store->recon_tree())->root_node()->svalues, svalues);
  }
  auto store = open(dir);
  EXPECT_EQ((*store->recon_tree())->root_node()->svalues, svalues);
  expect_same(*store, set);
}

TEST(StoredReconTree, CheckFindsADamagedTreeAndRebuildRepairsIt) {
  test::TempDir dir;
  std::map<std::uint32_t, Bytes> set;
  {
    auto store = open(dir);
    add_random(*store, set, 0, 500, 11);
    // Into table files: RocksDB without our merge operators cannot replay
    // a log holding merges.
    ASSERT_TRUE(store->compact());
  }
  {
    // Damage one node behind the store's back.
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.str("db"), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) {
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir.str("db"), cfs, &handles, &raw).ok());
    std::size_t tree = 0;
    while (names[tree] != "recon_tree") {
      ++tree;
    }
    std::string root;
    auto got = raw->Get(rocksdb::ReadOptions(), handles[tree], "n", &root);
    ASSERT_TRUE(got.ok()) << got.ToString();
    root[7] = static_cast<char>(root[7] + 1);  // the element count
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), handles[tree], "n", root).ok());
    ASSERT_TRUE(
        raw->Put(rocksdb::WriteOptions(), handles[tree], std::string("n\3\3\3\3\3\3", 7), root)
            .ok());
    for (auto* h : handles) {
      raw->DestroyColumnFamilyHandle(h);
    }
    delete raw;
  }
  auto store = open(dir);
  auto report = store->check();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->problem_count, 2u);
  ASSERT_TRUE(store->rebuild_recon_tree());
  expect_same(*store, set);
}

struct Run {
  Result<recon::Outcome> served = fail(ErrorCode::Internal, "not run");
  Result<recon::Outcome> answered = fail(ErrorCode::Internal, "not run");
};

Run reconcile(const recon::TreeView& server, const recon::TreeView& client) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  Run run;
  recon::Config cfg{"1.1.6", 11371, 2, 5, "yminsky.dedup,yminsky.merge", {}};
  std::thread t([&] {
    recon::SocketStream s(fds[0]);
    if (recon::exchange_config(s, cfg)) {
      run.served = recon::serve_session(s, server, {});
    }
    ::shutdown(fds[0], SHUT_RDWR);
  });
  {
    recon::SocketStream s(fds[1]);
    std::mt19937_64 rng(9);
    if (recon::exchange_config(s, cfg)) {
      run.answered = recon::answer_session(s, client, {}, rng);
    }
  }
  t.join();
  ::close(fds[0]);
  ::close(fds[1]);
  return run;
}

TEST(StoredReconTree, ReconcilesWithAnInMemoryPeerInBothRoles) {
  test::TempDir dir;
  auto store = open(dir);
  std::mt19937_64 rng(10);
  PrefixTree peer;
  std::set<Zp> store_only, peer_only;
  std::vector<Write> batch;
  for (std::uint32_t n = 0; n < 6000; ++n) {
    Bytes h = random_hash(rng);
    Zp z = Zp::from_le(h);
    if (n % 40 == 0) {
      store_only.insert(z);
    } else if (n % 40 == 1 && n < 3000) {
      peer_only.insert(z);
      peer.insert(z);
      continue;
    } else {
      peer.insert(z);
    }
    batch.push_back(write_of(n, h, std::nullopt));
  }
  ASSERT_TRUE(store->apply(batch, 1));
  auto view = store->recon_tree();
  for (bool store_serves : {true, false}) {
    auto run = store_serves ? reconcile(**view, peer) : reconcile(peer, **view);
    ASSERT_TRUE(run.served) << run.served.error().detail;
    ASSERT_TRUE(run.answered) << run.answered.error().detail;
    const auto& store_side = store_serves ? *run.served : *run.answered;
    const auto& peer_side = store_serves ? *run.answered : *run.served;
    EXPECT_EQ(std::set<Zp>(store_side.recover.begin(), store_side.recover.end()), peer_only);
    EXPECT_EQ(std::set<Zp>(peer_side.recover.begin(), peer_side.recover.end()), store_only);
  }
}

// What recon_peer keeps per peer in the store: its hashes of keys held here in
// another form, apart per peer, across a reopen; and the hashes of the v5/v6
// certificates, left out for a peer that takes v3/v4 only.
TEST(StoredReconTree, KeepsPeerAliasesAndFindsTheV6Hashes) {
  test::TempDir dir;
  std::mt19937_64 rng(11);
  const Bytes a1 = random_hash(rng), a2 = random_hash(rng), b1 = random_hash(rng);
  const Bytes ours = random_hash(rng);
  Bytes v6_hash = random_hash(rng);
  {
    auto store = open(dir);
    ASSERT_TRUE(store->put_recon_alias("hp.example:11370", a1, ours));
    ASSERT_TRUE(store->put_recon_alias("hp.example:11370", a2, ours));
    ASSERT_TRUE(store->put_recon_alias("hp.example:1137", b1, ours));  // a prefix of the other name
    ASSERT_TRUE(store->put_recon_alias("hp.example:11370", a2, {}));   // deleted
    std::vector<Write> batch{write_of(1, random_hash(rng), std::nullopt)};
    Write v6 = write_of(2, v6_hash, std::nullopt);
    v6.record.fingerprint = Fingerprint(Fingerprint::Version::V6, Bytes(32, 0x66));
    v6.record.index.fingerprints = {v6.record.fingerprint};
    v6.record.index.key_ids = {v6.record.fingerprint.key_id()};
    batch.push_back(v6);
    ASSERT_TRUE(store->apply(batch, 1));
  }
  auto store = open(dir);
  auto entries = [&](std::string_view peer) {
    std::vector<std::pair<Bytes, Bytes>> out;
    EXPECT_TRUE(store->for_each_recon_alias(peer, [&](ByteView t, ByteView o) {
      out.emplace_back(Bytes(t.begin(), t.end()), Bytes(o.begin(), o.end()));
      return true;
    }));
    return out;
  };
  EXPECT_EQ(entries("hp.example:11370"), (std::vector<std::pair<Bytes, Bytes>>{{a1, ours}}));
  EXPECT_EQ(entries("hp.example:1137"), (std::vector<std::pair<Bytes, Bytes>>{{b1, ours}}));
  EXPECT_TRUE(entries("other").empty());
  auto v6_hashes = store->sks_hashes_from_version(5);
  ASSERT_TRUE(v6_hashes);
  EXPECT_EQ(*v6_hashes, std::vector<Bytes>{v6_hash});
}

}  // namespace
}  // namespace keydir::storage
