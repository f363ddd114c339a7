// Property-style tests of what the owner published, over random stores in
// every mode (open, verified, managed) with published, pending, unpublished,
// revoked and deleted addresses:
//   - full backup → restore is exact: a full dump of the restored store has
//     the same bytes, and every lookup answers as the original's;
//   - the safe dump holds only what the directory publishes, and importing
//     it into a fresh verified store publishes nothing;
//   - wkd-export writes exactly what the live WKD answers;
// and the mode as a property of the store (set_mode, resume).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "cert_generator.hpp"
#include "openpgp/canonical.hpp"
#include "openpgp/certificate.hpp"
#include "service/backup.hpp"
#include "service/check.hpp"
#include "service/dump.hpp"
#include "service/importer.hpp"
#include "service/key_directory.hpp"
#include "service/wkd.hpp"
#include "storage/memory_key_store.hpp"
#include "temp_dir.hpp"
#include "test_data.hpp"

namespace keydir::service {
namespace {

namespace fs = std::filesystem;

struct Store {
  std::unique_ptr<storage::MemoryKeyStore> store = std::make_unique<storage::MemoryKeyStore>();
  std::unique_ptr<KeyDirectory> directory;
  explicit Store(ModeSetting mode) {
    DirectoryOptions o;
    o.mode = mode.mode;
    o.managed_domains = mode.managed_domains;
    directory = std::make_unique<KeyDirectory>(*store, o, [] { return test::kNow; });
    EXPECT_TRUE(record_mode(*store, mode));
  }
};

// Every file under `dir`, by relative path.
std::map<std::string, Bytes> read_tree(const std::string& dir) {
  std::map<std::string, Bytes> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      out[fs::relative(e.path(), dir).string()] = test::read_file(e.path());
    }
  }
  return out;
}

// The addresses of every user ID in a set of certificates.
std::set<std::string> addresses_in(const Bytes& certs) {
  std::set<std::string> out;
  auto parsed = openpgp::parse_certificates(certs);
  EXPECT_TRUE(parsed);
  for (const auto& p : *parsed) {
    for (const auto& u : p.cert->user_ids) {
      if (auto e = openpgp::Email::from_user_id(as_chars(u.body))) {
        out.insert(e->address());
      }
    }
  }
  return out;
}

Bytes read_dump(const std::string& dir) {
  Bytes all;
  for (const auto& [name, data] : read_tree(dir)) {
    if (name.ends_with(".pgp")) {
      all.insert(all.end(), data.begin(), data.end());
    }
  }
  return all;
}

// A random store: certificates with one to three addresses at two domains,
// some user IDs revoked; in Verified and Managed mode some addresses
// published, some pending (a token), some published then unpublished; some
// certificates deleted; a few audit entries.
struct World {
  std::vector<Fingerprint> fprs;
  std::set<std::string> addresses;
  std::set<std::string> published;  // addresses a lookup by address finds
  std::set<std::string> served;     // addresses in lookups by fingerprint (with revoked ones)
};

World populate(Store& s, std::uint64_t seed) {
  World w;
  std::mt19937_64 rng(seed);
  test::CertGenerator gen(seed);
  const char* domains[] = {"example.org", "example.net"};
  const int n = 8 + static_cast<int>(rng() % 8);
  const bool open = s.directory->mode() == PublishMode::Open;
  for (int i = 0; i < n; ++i) {
    test::CertSpec spec;
    spec.version = rng() % 3 == 0 ? 6 : 4;
    spec.created = 1700000000 + static_cast<std::uint32_t>(i);
    const int uids = 1 + static_cast<int>(rng() % 3);
    for (int u = 0; u < uids; ++u) {
      std::string a = "p" + std::to_string(seed % 1000) + "-" + std::to_string(i) + "-" +
                      std::to_string(u) + "@" + domains[rng() % 2];
      if (rng() % 5 == 0) {
        spec.revoked_user_ids.push_back({"Revoked <" + a + ">", true});
      } else {
        spec.user_ids.push_back("Person " + std::to_string(i) + " <" + a + ">");
        w.addresses.insert(a);
      }
    }
    if (spec.user_ids.empty()) {
      spec.user_ids.push_back("Person " + std::to_string(i) + " <kept-" + std::to_string(i) +
                              "@example.org>");
      w.addresses.insert("kept-" + std::to_string(i) + "@example.org");
    }
    auto report = s.directory->upload(gen.make(spec), !open && rng() % 4 == 0);
    EXPECT_TRUE(report && report->stored.size() == 1);
    const Fingerprint fpr = report->stored[0].fingerprint;
    w.fprs.push_back(fpr);
    auto vc = s.directory->stored_summary(fpr);
    EXPECT_TRUE(vc);
    if (open) {
      continue;
    }
    for (const auto& a : s.directory->publishable_addresses(*vc)) {
      switch (rng() % 4) {
        case 0:
          EXPECT_TRUE(s.directory->set_published(fpr, {a}, {}));
          break;
        case 1: {  // pending
          Bytes hash(32);
          for (auto& b : hash) {
            b = static_cast<std::uint8_t>(rng());
          }
          storage::VerifyToken t{storage::VerifyToken::Kind::Verify, fpr, a, test::kNow,
                                 test::kNow + 3600};
          EXPECT_TRUE(s.store->put_token(hash, t));
          break;
        }
        case 2:  // published, then the owner unpublished it
          EXPECT_TRUE(s.directory->set_published(fpr, {a}, {}));
          EXPECT_TRUE(s.directory->set_published(fpr, {}, {a}));
          break;
        default:
          break;
      }
    }
  }
  for (const auto& fpr : w.fprs) {
    if (rng() % 6 == 0) {
      EXPECT_TRUE(s.directory->remove(fpr, "takedown " + fpr.to_hex().substr(0, 8)));
    }
  }
  EXPECT_TRUE(s.store->append_audit(test::kNow, R"({"action":"test","n":1})"));
  for (const auto& f : w.fprs) {
    auto found = s.directory->lookup(storage::Query{storage::Query::ByFingerprint{f}}, 100);
    EXPECT_TRUE(found);
    for (const auto& rec : *found) {
      auto in = addresses_in(rec.cert);
      w.served.insert(in.begin(), in.end());
    }
  }
  // What the directory publishes: the addresses a lookup by address finds.
  for (const auto& a : w.addresses) {
    auto found = s.directory->lookup(storage::Query{storage::Query::ByEmail{a}}, 100);
    EXPECT_TRUE(found);
    for (const auto& rec : *found) {
      if (addresses_in(rec.cert).contains(a)) {
        w.published.insert(a);
      }
    }
  }
  return w;
}

// Every lookup a client can make, as the directory answers it.
std::vector<Bytes> answers(const KeyDirectory& d, const World& w) {
  std::vector<Bytes> out;
  auto add = [&](const storage::Query& q) {
    auto r = d.lookup(q, 100);
    EXPECT_TRUE(r);
    Bytes all;
    for (const auto& rec : *r) {
      append(all, rec.fingerprint.bytes());
      append(all, rec.cert);
    }
    out.push_back(all);
  };
  for (const auto& f : w.fprs) {
    add({storage::Query::ByFingerprint{f}});
  }
  for (const auto& a : w.addresses) {
    add({storage::Query::ByEmail{a}});
    auto e = openpgp::Email::parse(a);
    auto wkd = wkd_lookup(d, openpgp::WkdHash::of(*e), 100);
    EXPECT_TRUE(wkd);
    out.push_back(*wkd);
  }
  add({storage::Query::ByWords{{"person"}}});
  return out;
}

const ModeSetting kModes[] = {
    {PublishMode::Open, {}},
    {PublishMode::Verified, {}},
    {PublishMode::Managed, {"example.org"}},
};

TEST(StoreMode, FullBackupRestoresExactly) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    for (const auto& mode : kModes) {
      SCOPED_TRACE("seed " + std::to_string(seed) + ", mode " + describe(mode));
      test::TempDir dir;
      Store original(mode);
      World w = populate(original, seed);
      const std::string key(32, static_cast<char>(seed));
      auto first = full_dump(*original.directory, dir.str("full1"), key, 5);
      ASSERT_TRUE(first) << first.error().detail;

      // A fresh store records no mode until the restore does.
      test::TempDir fresh;
      storage::MemoryKeyStore s2;
      KeyDirectory d2(s2, {}, [] { return test::kNow; });
      std::string key2;
      auto r = restore(d2, dir.str("full1"), &key2);
      ASSERT_TRUE(r) << r.error().detail;
      EXPECT_EQ(key2, key);
      EXPECT_EQ(r->certificates, first->certificates);
      EXPECT_EQ(d2.mode_setting(), mode);
      auto recorded = stored_mode(s2);
      ASSERT_TRUE(recorded && *recorded);
      EXPECT_EQ(**recorded, mode);

      auto second = full_dump(d2, fresh.str("full2"), key2, 5);
      ASSERT_TRUE(second) << second.error().detail;
      EXPECT_EQ(read_tree(dir.str("full1")), read_tree(fresh.str("full2")));
      EXPECT_EQ(answers(*original.directory, w), answers(d2, w));
      auto c = check(d2, true);
      ASSERT_TRUE(c);
      EXPECT_TRUE(c->ok());

      // A restore goes into a new store only.
      auto again = restore(d2, dir.str("full1"), &key2);
      ASSERT_FALSE(again);
      EXPECT_EQ(again.error().code, ErrorCode::UnsupportedOperation);
    }
  }
}

TEST(StoreMode, SafeDumpHoldsOnlyWhatIsPublishedAndImportsPublishNothing) {
  for (std::uint64_t seed = 11; seed <= 16; ++seed) {
    for (const auto& mode : kModes) {
      SCOPED_TRACE("seed " + std::to_string(seed) + ", mode " + describe(mode));
      test::TempDir dir;
      Store original(mode);
      World w = populate(original, seed);
      DumpOptions o;
      o.per_file = 4;
      o.view = [&](const storage::CertRecord& r) { return original.directory->public_view(r); };
      ASSERT_TRUE(dump(*original.store, dir.str("safe"), o));
      const auto in_dump = addresses_in(read_dump(dir.str("safe")));
      // Exactly what the directory serves (open: every user ID of a stored
      // certificate, revoked ones too; else published addresses only).
      EXPECT_EQ(in_dump, w.served);
      if (mode.mode != PublishMode::Open) {
        EXPECT_EQ(in_dump, w.published);
      }

      Store mirror({PublishMode::Verified, {}});
      std::vector<std::string> files;
      for (const auto& [name, data] : read_tree(dir.str("safe"))) {
        if (name.ends_with(".pgp")) {
          files.push_back(dir.str("safe") + "/" + name);
        }
      }
      auto summary = import_files(*mirror.directory, files, {});
      EXPECT_TRUE(summary.file_errors.empty());
      for (const auto& a : w.addresses) {
        auto found = mirror.directory->lookup(storage::Query{storage::Query::ByEmail{a}}, 10);
        ASSERT_TRUE(found);
        EXPECT_TRUE(found->empty()) << a << " published by an import";
      }
      for (const auto& f : w.fprs) {
        auto p = mirror.store->published(f);
        ASSERT_TRUE(p);
        EXPECT_TRUE(p->empty());
      }
    }
  }
}

TEST(StoreMode, WkdExportIsWhatTheLiveWkdAnswers) {
  for (std::uint64_t seed = 21; seed <= 26; ++seed) {
    for (const auto& mode : kModes) {
      SCOPED_TRACE("seed " + std::to_string(seed) + ", mode " + describe(mode));
      test::TempDir dir;
      Store s(mode);
      World w = populate(s, seed);
      for (const std::string domain : {"example.org", "example.net"}) {
        const std::string out = dir.str("wkd-" + domain);
        ASSERT_TRUE(wkd_export(*s.directory, domain, out, "", 100));
        auto files = read_tree(out);
        std::size_t hu = 0;
        for (const auto& a : w.addresses) {
          auto e = openpgp::Email::parse(a);
          if (e->domain() != domain) {
            continue;
          }
          auto hash = openpgp::WkdHash::of(*e);
          auto live = wkd_lookup(*s.directory, hash, 100);
          ASSERT_TRUE(live);
          const std::string name = ".well-known/openpgpkey/" + domain + "/hu/" + hash.hash();
          auto it = files.find(name);
          if (live->empty()) {
            EXPECT_EQ(it, files.end()) << a << " exported, not served";
            EXPECT_FALSE(w.published.contains(a) && mode.mode != PublishMode::Open);
          } else {
            ASSERT_NE(it, files.end()) << a << " served, not exported";
            EXPECT_EQ(it->second, *live) << a;
            EXPECT_EQ(files.at(".well-known/openpgpkey/hu/" + hash.hash()), *live);
            ++hu;
          }
        }
        std::size_t written = 0;
        for (const auto& [name, data] : files) {
          written += name.starts_with(".well-known/openpgpkey/" + domain + "/hu/");
        }
        EXPECT_EQ(written, hu);  // nothing else was written
      }
    }
  }
}

TEST(StoreMode, SetModeReindexesAndSaysWhatItChanges) {
  Store s({PublishMode::Verified, {}});
  World w = populate(s, 42);
  ASSERT_FALSE(w.addresses.empty());
  // To open: everything is published; the dry run changes nothing.
  auto preview = s.directory->set_mode({PublishMode::Open, {}}, true);
  ASSERT_TRUE(preview);
  EXPECT_EQ(s.directory->mode(), PublishMode::Verified);
  auto done = s.directory->set_mode({PublishMode::Open, {}});
  ASSERT_TRUE(done);
  EXPECT_EQ(done->now_published, preview->now_published);
  EXPECT_EQ(**stored_mode(*s.store), (ModeSetting{PublishMode::Open, {}}));
  auto c = check(*s.directory, true);
  ASSERT_TRUE(c && c->ok());
  // To managed example.org: published marks elsewhere go.
  auto managed = s.directory->set_mode({PublishMode::Managed, {"example.org"}});
  ASSERT_TRUE(managed);
  for (const auto& f : w.fprs) {
    auto p = s.store->published(f);
    ASSERT_TRUE(p);
    for (const auto& a : *p) {
      EXPECT_TRUE(a.ends_with("@example.org")) << a;
    }
  }
  c = check(*s.directory, true);
  ASSERT_TRUE(c && c->ok());
  // An interrupted change is finished on the next start.
  ASSERT_TRUE(s.store->put_setting("mode-change", "pending"));
  KeyDirectory again(*s.store, {}, [] { return test::kNow; });
  auto resumed = again.resume_mode_change();
  ASSERT_TRUE(resumed && *resumed);
  EXPECT_EQ(again.mode_setting(), (ModeSetting{PublishMode::Managed, {"example.org"}}));
  auto none = again.resume_mode_change();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST(StoreMode, AnIndexOfAnotherModeNeverAnswersAnUnpublishedAddress) {
  // A store indexed in open mode (an earlier keydird's, or one whose change
  // to verified is still re-indexing), read in verified mode.
  Store s({PublishMode::Open, {}});
  World w = populate(s, 7);
  KeyDirectory verified(*s.store, DirectoryOptions{PublishMode::Verified, {}, {}},
                        [] { return test::kNow; });
  for (const auto& a : w.addresses) {
    auto found = verified.lookup(storage::Query{storage::Query::ByEmail{a}}, 10);
    ASSERT_TRUE(found);
    EXPECT_TRUE(found->empty()) << a;
    auto e = openpgp::Email::parse(a);
    auto wkd = wkd_lookup(verified, openpgp::WkdHash::of(*e), 10);
    ASSERT_TRUE(wkd);
    EXPECT_TRUE(wkd->empty()) << a;
  }
  for (const auto& f : w.fprs) {
    auto found = verified.lookup(storage::Query{storage::Query::ByFingerprint{f}}, 10);
    ASSERT_TRUE(found);
    for (const auto& rec : *found) {
      EXPECT_TRUE(addresses_in(rec.cert).empty());
    }
  }
}

TEST(StoreMode, AChangeToManagedVoidsConfirmationsOutsideItsDomains) {
  Store s({PublishMode::Verified, {}});
  test::CertGenerator gen(99);
  test::CertSpec spec;
  spec.user_ids = {"In <in@example.org>", "Out <out@other.net>"};
  auto report = s.directory->upload(gen.make(spec));
  ASSERT_TRUE(report && report->stored.size() == 1);
  const Fingerprint fpr = report->stored[0].fingerprint;
  // A confirmation link mailed in verified mode, not yet followed.
  const Bytes hash(32, 7);
  ASSERT_TRUE(s.store->put_token(hash, {storage::VerifyToken::Kind::Verify, fpr, "out@other.net",
                                        test::kNow, test::kNow + 3600}));
  ASSERT_TRUE(s.directory->set_mode({PublishMode::Managed, {"example.org"}}));
  auto token = s.store->token(hash);
  ASSERT_TRUE(token);
  EXPECT_FALSE(*token) << "the link for an address outside the domains survived";
  // Nothing publishes it any more, whatever path leads to set_published.
  auto r = s.directory->set_published(fpr, {"out@other.net"}, {}, hash);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::TokenInvalid);
  EXPECT_TRUE(s.directory->set_published(fpr, {"in@example.org"}, {}));
  auto found = s.directory->lookup(storage::Query{storage::Query::ByEmail{"out@other.net"}}, 10);
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->empty());
  auto c = check(*s.directory, true);
  ASSERT_TRUE(c && c->ok());
}

TEST(StoreMode, ACutOrEditedBackupIsRefused) {
  test::TempDir dir;
  Store s({PublishMode::Verified, {}});
  populate(s, 5);
  ASSERT_TRUE(full_dump(*s.directory, dir.str("full"), std::string(32, 'k'), 100));
  const std::string state = dir.str("full") + "/" + std::string(kStateFile);
  const Bytes original = test::read_file(state);
  auto attempt = [&](const std::string& text) {
    {
      std::filesystem::permissions(state, std::filesystem::perms::owner_all);
      std::ofstream f(state, std::ios::trunc | std::ios::binary);
      f << text;
    }
    storage::MemoryKeyStore st;
    KeyDirectory d(st, {}, [] { return test::kNow; });
    std::string key;
    return restore(d, dir.str("full"), &key);
  };
  std::string text(as_chars(original));
  ASSERT_TRUE(attempt(text));
  // Cut before its end line; one tombstone or audit line dropped; a line
  // added after the end.
  const auto last = text.rfind('\n', text.size() - 2);
  auto cut = attempt(text.substr(0, last + 1));
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, ErrorCode::BadQuery);
  const auto audit = text.find("{\"audit\"");
  ASSERT_NE(audit, std::string::npos);
  auto dropped = attempt(text.substr(0, audit) + text.substr(text.find('\n', audit) + 1));
  ASSERT_FALSE(dropped);
  auto extra = attempt(text + "{\"tombstone\":\"" + std::string(40, 'A') +
                       "\",\"deleted-at\":1,\"reason\":\"x\"}\n");
  ASSERT_FALSE(extra);
}

}  // namespace
}  // namespace keydir::service
