// Publishing modes on a MemoryKeyStore: what is findable before and after
// confirmation, single-use and expiring links, rate limits, managed mode,
// deletion leaving no trace.
#include "service/verification.hpp"

#include <gtest/gtest.h>

#include "cert_generator.hpp"
#include "common/time_format.hpp"
#include "openpgp/certificate.hpp"
#include "service/check.hpp"
#include "storage/memory_key_store.hpp"
#include "test_data.hpp"

namespace keydir::service {
namespace {

using storage::Query;

const Fingerprint kMulti = *Fingerprint::from_hex("FC5D7A6980F7E484468DB87F65C71B0D2BE692AA");

class FakeMailer final : public Mailer {
 public:
  Result<void> send(const MailMessage& m) override {
    if (down) {
      return fail(ErrorCode::MailFailed, "relay down");
    }
    sent.push_back(m);
    return {};
  }
  // The token of the last link in the last mail.
  std::string last_token() const {
    const std::string& body = sent.back().body;
    auto at = body.find("/verify/");
    if (at == std::string::npos) {
      at = body.find("/manage/");
    }
    auto end = body.find('\n', at);
    return body.substr(at + 8, end - at - 8);
  }
  std::vector<MailMessage> sent;
  bool down = false;
};

struct Env {
  std::unique_ptr<storage::MemoryKeyStore> store = std::make_unique<storage::MemoryKeyStore>();
  std::unique_ptr<KeyDirectory> directory;
  FakeMailer mailer;
  std::unique_ptr<Verification> verification;
  std::uint64_t now = test::kNow;

  explicit Env(PublishMode mode, std::vector<std::string> domains = {}) {
    DirectoryOptions o;
    o.mode = mode;
    o.managed_domains = std::move(domains);
    directory = std::make_unique<KeyDirectory>(*store, o, [this] { return now; });
    VerificationOptions vo;
    vo.public_url = "https://keys.keydir.test";
    verification = std::make_unique<Verification>(*directory, mailer, vo);
  }
  std::size_t found(const Query& q) {
    auto r = directory->lookup(q, 10);
    EXPECT_TRUE(r);
    return r->size();
  }
  std::vector<std::string> user_ids(const Query& q) {
    auto r = directory->lookup(q, 10);
    EXPECT_TRUE(r && !r->empty());
    std::vector<std::string> out;
    auto certs = openpgp::parse_certificates(r->front().cert);
    for (const auto& u : certs->front().cert->user_ids) {
      out.emplace_back(as_chars(u.body));
    }
    return out;
  }
  void expect_consistent() {
    auto r = check(*directory, true);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->ok()) << (r->store.problems.empty() ? (r->problems.empty() ? "" : r->problems[0])
                                                       : r->store.problems[0]);
  }
};

Query by_email(const std::string& a) {
  return Query{Query::ByEmail{a}};
}
Query by_fpr(const Fingerprint& f) {
  return Query{Query::ByFingerprint{f}};
}

TEST(Verification, NothingIsFindableByAddressUntilConfirmed) {
  Env env(PublishMode::Verified);
  ASSERT_TRUE(env.directory->upload(test::fixture("gpg-multi.asc")));
  EXPECT_EQ(env.found(by_email("multi@keydir.test")), 0u);
  EXPECT_EQ(env.found(Query{Query::ByWords{{"keydir"}}}), 0u);  // no enumeration
  auto r = env.directory->lookup(by_fpr(kMulti), 10);
  ASSERT_TRUE(r && r->size() == 1);
  EXPECT_TRUE(env.user_ids(by_fpr(kMulti)).empty());
  auto st = env.verification->states(kMulti, {"multi@keydir.test", "gone@keydir.test"});
  ASSERT_TRUE(st);
  EXPECT_EQ(st->at("multi@keydir.test"), AddressState::Unpublished);
  EXPECT_EQ(st->at("gone@keydir.test"), AddressState::Revoked);
  EXPECT_EQ(st->size(), 2u);  // only the addresses asked about

  ASSERT_TRUE(env.verification->request(kMulti, {"multi@keydir.test"}, "192.0.2.1"));
  ASSERT_EQ(env.mailer.sent.size(), 1u);
  EXPECT_EQ(env.mailer.sent[0].to, "multi@keydir.test");
  EXPECT_NE(env.mailer.sent[0].body.find("https://keys.keydir.test/verify/"), std::string::npos);
  // Whether a mail is out is never reported: the address reads unpublished.
  EXPECT_EQ(env.verification->states(kMulti, {"multi@keydir.test"})->at("multi@keydir.test"),
            AddressState::Unpublished);
  const std::string token = env.mailer.last_token();
  EXPECT_GE(token.size(), 26u);  // 128 bits in z-base-32
  EXPECT_TRUE(env.verification->peek(token, storage::VerifyToken::Kind::Verify));
  EXPECT_EQ(env.found(by_email("multi@keydir.test")), 0u);  // peeking publishes nothing

  ASSERT_TRUE(env.verification->confirm(token));
  EXPECT_EQ(env.found(by_email("multi@keydir.test")), 1u);
  EXPECT_EQ(env.user_ids(by_fpr(kMulti)),
            std::vector<std::string>{"keydir test multi <multi@keydir.test>"});
  EXPECT_EQ(env.found(by_email("second@keydir.test")), 0u);  // exactly that address
  auto again = env.verification->confirm(token);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::TokenInvalid);  // single use
  env.expect_consistent();

  // A new upload of the certificate keeps its confirmed address.
  ASSERT_TRUE(env.directory->upload(test::fixture("gpg-multi.asc")));
  EXPECT_EQ(env.found(by_email("multi@keydir.test")), 1u);
}

TEST(Verification, LinksExpireAndNameTheirKind) {
  Env env(PublishMode::Verified);
  ASSERT_TRUE(env.directory->upload(test::fixture("gpg-multi.asc")));
  ASSERT_TRUE(env.verification->request(kMulti, {"second@keydir.test"}, "c"));
  const std::string token = env.mailer.last_token();
  EXPECT_FALSE(env.verification->peek(token, storage::VerifyToken::Kind::Manage));
  env.now += 24 * 3600;
  auto r = env.verification->confirm(token);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::TokenInvalid);
  EXPECT_FALSE(env.verification->confirm("not-a-token"));
  EXPECT_EQ(env.found(by_email("second@keydir.test")), 0u);
}

// A used link opened again says what it did (issue #20), and never
// publishes again, even after its address was unpublished.
TEST(Verification, UsedLinkSaysWhatItDidAndStaysUsed) {
  Env env(PublishMode::Verified);
  ASSERT_TRUE(env.directory->upload(test::fixture("gpg-multi.asc")));
  ASSERT_TRUE(env.verification->request(kMulti, {"multi@keydir.test"}, "c"));
  const std::string token = env.mailer.last_token();
  auto not_yet = env.verification->used_link(token);
  ASSERT_FALSE(not_yet);  // not used yet: peek and confirm handle it
  EXPECT_EQ(not_yet.error().code, ErrorCode::TokenInvalid);
  const std::uint64_t confirmed_at = env.now;
  ASSERT_TRUE(env.verification->confirm(token));
  env.now += 600;
  auto used = env.verification->used_link(token);
  ASSERT_TRUE(used) << used.error().detail;
  EXPECT_EQ(used->fingerprint, kMulti);
  EXPECT_EQ(used->email, "multi@keydir.test");
  EXPECT_EQ(used->used_at, confirmed_at);
  ASSERT_TRUE(used->still_published());
  EXPECT_EQ(*used->published_since, confirmed_at);
  EXPECT_EQ(describe(*used), "multi@keydir.test is already published with the key " +
                                 kMulti.to_hex() + " since " + utc_timestamp(confirmed_at) + ".");
  EXPECT_FALSE(env.verification->peek(token, storage::VerifyToken::Kind::Verify));
  // Not a list of pending confirmations any more.
  EXPECT_TRUE(env.verification->pending()->empty());

  // Unpublished by its owner: the link says so, and cannot publish again.
  ASSERT_TRUE(env.directory->set_published(kMulti, {}, {"multi@keydir.test"}));
  used = env.verification->used_link(token);
  ASSERT_TRUE(used);
  EXPECT_FALSE(used->still_published());
  EXPECT_NE(describe(*used).find("is no longer published"), std::string::npos);
  // Neither the address nor the key its owner took it off.
  EXPECT_EQ(describe(*used).find("multi@keydir.test"), std::string::npos) << describe(*used);
  EXPECT_EQ(describe(*used).find(kMulti.to_hex()), std::string::npos) << describe(*used);
  auto again = env.verification->confirm(token);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::TokenInvalid);
  EXPECT_EQ(env.found(by_email("multi@keydir.test")), 0u);
  env.expect_consistent();

  // Unknown and mistyped links, and manage links, are not used links.
  EXPECT_FALSE(env.verification->used_link(""));
  EXPECT_FALSE(env.verification->used_link("ybndrfg8ejkmcpqxot1uwisza345h769"));
  EXPECT_FALSE(env.verification->used_link(std::string(65, 'y')));

  // Expired: as any other expired link, and deleted by the next purge.
  env.now = confirmed_at + 24 * 3600;
  auto gone = env.verification->used_link(token);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::TokenInvalid);
  auto tokens = [&] {
    std::size_t n = 0;
    EXPECT_TRUE(env.store->for_each_token([&](ByteView, const storage::VerifyToken&) {
      ++n;
      return true;
    }));
    return n;
  };
  EXPECT_EQ(tokens(), 1u);
  // A new mail purges expired links (once an hour at most).
  ASSERT_TRUE(env.verification->request(kMulti, {"second@keydir.test"}, "d"));
  EXPECT_EQ(tokens(), 1u);  // only the new one
  EXPECT_EQ(*env.verification->purge_expired(), 0u);
}

TEST(Verification, RefusesAddressesNotOnTheKeyAndLimitsMail) {
  Env env(PublishMode::Verified);
  ASSERT_TRUE(env.directory->upload(test::fixture("gpg-multi.asc")));
  auto other = env.verification->request(kMulti, {"someone@else.test"}, "c");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::BadQuery);
  auto revoked = env.verification->request(kMulti, {"gone@keydir.test"}, "c");
  ASSERT_FALSE(revoked);
  EXPECT_TRUE(env.verification->request(kMulti, {"multi@keydir.test"}, "c"));
  EXPECT_TRUE(env.verification->request(kMulti, {"multi@keydir.test"}, "c"));
  auto third = env.verification->request(kMulti, {"multi@keydir.test"}, "c");
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, ErrorCode::RateLimited);
  EXPECT_EQ(env.mailer.sent.size(), 2u);
  env.mailer.down = true;
  auto down = env.verification->request(kMulti, {"second@keydir.test"}, "d");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, ErrorCode::MailFailed);
}

TEST(Verification, ManageLinkUnpublishes) {
  Env env(PublishMode::Verified);
  ASSERT_TRUE(env.directory->upload(test::fixture("gpg-multi.asc")));
  ASSERT_TRUE(
      env.directory->set_published(kMulti, {"multi@keydir.test", "second@keydir.test"}, {}));
  ASSERT_TRUE(env.verification->request_manage("Multi@keydir.test", "c"));
  ASSERT_EQ(env.mailer.sent.size(), 1u);
  const std::string token = env.mailer.last_token();
  ASSERT_TRUE(env.verification->unpublish(token, "second@keydir.test"));
  EXPECT_EQ(env.found(by_email("second@keydir.test")), 0u);
  EXPECT_EQ(env.found(by_email("multi@keydir.test")), 1u);
  EXPECT_FALSE(env.verification->unpublish(token, "second@keydir.test"));  // not published now
  // No mail, and no difference in the answer, for an address not published here.
  ASSERT_TRUE(env.verification->request_manage("nobody@keydir.test", "c"));
  EXPECT_EQ(env.mailer.sent.size(), 1u);
  env.expect_consistent();
}

TEST(Verification, ManagedModeOperatorUploadPublishesItsDomainsOnly) {
  Env env(PublishMode::Managed, {"keydir.test"});
  test::CertGenerator gen(11);
  test::CertSpec spec;
  spec.user_ids = {"A <a@keydir.test>", "A <a@elsewhere.test>"};
  Bytes cert = gen.make(spec);
  auto plain = env.directory->upload(cert);  // through verification: nothing published
  ASSERT_TRUE(plain);
  EXPECT_EQ(env.found(by_email("a@keydir.test")), 0u);
  auto op = env.directory->upload(cert, true);
  ASSERT_TRUE(op);
  ASSERT_EQ(op->stored.size(), 1u);
  EXPECT_EQ(env.found(by_email("a@keydir.test")), 1u);
  EXPECT_EQ(env.found(by_email("a@elsewhere.test")), 0u);
  auto fpr = op->stored[0].fingerprint;
  auto req = env.verification->request(fpr, {"a@elsewhere.test"}, "c");
  ASSERT_FALSE(req);  // not a domain of this directory
  env.expect_consistent();
}

TEST(Verification, DeletionLeavesNoTrace) {
  Env env(PublishMode::Verified);
  ASSERT_TRUE(env.directory->upload(test::fixture("gpg-multi.asc")));
  ASSERT_TRUE(env.verification->request(kMulti, {"second@keydir.test"}, "c"));
  ASSERT_TRUE(env.directory->set_published(kMulti, {"multi@keydir.test"}, {}));
  ASSERT_TRUE(env.directory->remove(kMulti, "test"));
  EXPECT_TRUE(env.store->published(kMulti)->empty());
  EXPECT_TRUE(env.verification->pending()->empty());
  EXPECT_EQ(env.found(by_email("multi@keydir.test")), 0u);
  env.expect_consistent();
  auto again = env.directory->upload(test::fixture("gpg-multi.asc"));
  ASSERT_TRUE(again);
  ASSERT_EQ(again->refused.size(), 1u);
  EXPECT_EQ(again->refused[0].error.code, ErrorCode::Tombstoned);
}

TEST(Verification, OpenModePublishesEverything) {
  Env env(PublishMode::Open);
  ASSERT_TRUE(env.directory->upload(test::fixture("gpg-multi.asc")));
  EXPECT_EQ(env.found(by_email("multi@keydir.test")), 1u);
  EXPECT_EQ(env.found(Query{Query::ByWords{{"keydir"}}}), 1u);
  EXPECT_EQ(env.verification->states(kMulti, {"second@keydir.test"})->at("second@keydir.test"),
            AddressState::Published);
}

}  // namespace
}  // namespace keydir::service
