// What an upload's answer says of each address it held (issue #20):
// published, or withheld and why, in the words of the mode in force; and the
// note of a public view (the armor's Comment).
#include <gtest/gtest.h>

#include "cert_generator.hpp"
#include "service/key_directory.hpp"
#include "service/verification.hpp"
#include "storage/memory_key_store.hpp"
#include "test_data.hpp"

namespace keydir::service {
namespace {

class CountingMailer final : public Mailer {
 public:
  Result<void> send(const MailMessage&) override {
    ++sent;
    return {};
  }
  int sent = 0;
};

struct Env {
  storage::MemoryKeyStore store;
  std::unique_ptr<KeyDirectory> directory;
  CountingMailer mailer;
  std::unique_ptr<Verification> verification;

  Env(PublishMode mode, std::vector<std::string> domains = {}, bool by_token = false) {
    DirectoryOptions o;
    o.mode = mode;
    o.managed_domains = std::move(domains);
    o.managed_uploads_by_token = by_token;
    directory = std::make_unique<KeyDirectory>(store, o, [] { return test::kNow; });
    verification = std::make_unique<Verification>(*directory, mailer, VerificationOptions{});
  }
};

// "ADDR published" or "ADDR withheld: REASON", in the upload's order.
std::vector<std::string> lines(const Stored& s) {
  std::vector<std::string> out;
  EXPECT_EQ(s.addresses.size(), s.publication.size());
  for (std::size_t i = 0; i < s.publication.size(); ++i) {
    const auto& p = s.publication[i];
    EXPECT_EQ(p.address, s.addresses[i]);
    EXPECT_EQ(p.state == Publication::Published, p.reason.empty());
    out.push_back(p.state == Publication::Published ? p.address + " published"
                                                    : p.address + " withheld: " + p.reason);
  }
  return out;
}

Bytes two_domains(std::uint64_t seed) {
  test::CertGenerator gen(seed);
  test::CertSpec spec;
  spec.user_ids = {"Alice <alice@keydir.test>", "Alice <someone@gmail.example>", "Alice"};
  return gen.make(spec);
}

TEST(Publication, OpenModePublishesEveryCurrentAddress) {
  Env env(PublishMode::Open);
  auto r = env.directory->upload(test::fixture("gpg-multi.asc"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->stored.size(), 1u);
  EXPECT_EQ(lines(r->stored[0]), (std::vector<std::string>{
                                     "multi@keydir.test published",
                                     "gone@keydir.test withheld: its user ID is revoked",
                                     "second@keydir.test published",
                                 }));
  EXPECT_EQ(r->stored[0].withheld_without_address, 0u);
  EXPECT_EQ(env.directory->public_view_note(), "");
}

TEST(Publication, VerifiedModeAwaitsTheOwnersConfirmation) {
  Env env(PublishMode::Verified);
  auto r = env.directory->upload(test::fixture("gpg-multi.asc"));
  ASSERT_TRUE(r);
  const std::string awaits = " withheld: awaits its owner's confirmation by e-mail";
  EXPECT_EQ(lines(r->stored[0]), (std::vector<std::string>{
                                     "multi@keydir.test" + awaits,
                                     "gone@keydir.test withheld: its user ID is revoked",
                                     "second@keydir.test" + awaits,
                                 }));
  // Confirmed once, published on every later upload.
  ASSERT_TRUE(env.directory->set_published(r->stored[0].fingerprint, {"multi@keydir.test"}, {}));
  auto again = env.directory->upload(test::fixture("gpg-multi.asc"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->stored[0].outcome, Outcome::Unchanged);
  EXPECT_EQ(lines(again->stored[0])[0], "multi@keydir.test published");
  EXPECT_EQ(lines(again->stored[0])[2], "second@keydir.test" + awaits);
  EXPECT_TRUE(env.directory->confirms_by_mail());
  EXPECT_EQ(env.directory->public_view_note(),
            "only user IDs whose owners confirmed their addresses by e-mail");
}

TEST(Publication, ManagedByTokenSaysOperatorsAndDomains) {
  Env env(PublishMode::Managed, {"keydir.test"}, true);
  const Bytes cert = two_domains(21);
  auto op = env.directory->upload(cert, true);
  ASSERT_TRUE(op);
  ASSERT_EQ(op->stored.size(), 1u);
  EXPECT_EQ(op->stored[0].outcome, Outcome::New);
  EXPECT_EQ(lines(op->stored[0]),
            (std::vector<std::string>{
                "alice@keydir.test published",
                "someone@gmail.example withheld: outside the domains this directory serves "
                "(keydir.test)",
            }));
  EXPECT_EQ(op->stored[0].withheld_without_address, 1u);  // "Alice"
  EXPECT_EQ(env.directory->public_view_note(),
            "only user IDs with addresses at keydir.test that this directory's operators "
            "published");

  // Without the operator's word (keydird import without
  // --publish-addresses): nobody can confirm by mail here.
  Env other(PublishMode::Managed, {"keydir.test"}, true);
  auto plain = other.directory->upload(cert);
  ASSERT_TRUE(plain);
  EXPECT_EQ(lines(plain->stored[0])[0],
            "alice@keydir.test withheld: only this directory's operators publish addresses here");

  // Nothing is mailed in this mode: a clear refusal, never the relay's error.
  EXPECT_FALSE(env.directory->confirms_by_mail());
  auto req = other.verification->request(plain->stored[0].fingerprint, {"alice@keydir.test"}, "c");
  ASSERT_FALSE(req);
  EXPECT_EQ(req.error().code, ErrorCode::Unauthorized);
  EXPECT_EQ(req.error().detail,
            "this directory publishes addresses by its operators only; ask them");
  auto manage = env.verification->request_manage("alice@keydir.test", "c");
  ASSERT_FALSE(manage);
  EXPECT_EQ(manage.error().code, ErrorCode::Unauthorized);
  EXPECT_EQ(env.mailer.sent + other.mailer.sent, 0);
}

TEST(Publication, ManagedByMailAwaitsConfirmationInItsDomainsOnly) {
  Env env(PublishMode::Managed, {"keydir.test", "keydir.example"}, false);
  auto r = env.directory->upload(two_domains(22));
  ASSERT_TRUE(r);
  EXPECT_EQ(lines(r->stored[0]),
            (std::vector<std::string>{
                "alice@keydir.test withheld: awaits its owner's confirmation by e-mail",
                "someone@gmail.example withheld: outside the domains this directory serves "
                "(keydir.test, keydir.example)",
            }));
  EXPECT_TRUE(env.directory->confirms_by_mail());
  EXPECT_EQ(env.directory->public_view_note(),
            "only user IDs with addresses at keydir.test, keydir.example that this directory's "
            "operators published or their owners confirmed by e-mail");
}

TEST(Publication, OneKeyTwiceInAnUploadIsReportedTwice) {
  Env env(PublishMode::Managed, {"keydir.test"}, true);
  Bytes cert = two_domains(23);
  Bytes both = cert;
  both.insert(both.end(), cert.begin(), cert.end());
  auto r = env.directory->upload(both, true);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->stored.size(), 2u);
  EXPECT_EQ(lines(r->stored[0]), lines(r->stored[1]));
  EXPECT_EQ(lines(r->stored[1])[0], "alice@keydir.test published");
}

TEST(Publication, ReasonsAreOneLine) {
  ModeSetting m{PublishMode::Managed, {"keydir.test"}};
  for (auto p : {Publication::Published, Publication::AwaitsConfirmation,
                 Publication::OutsideDomains, Publication::OperatorsOnly, Publication::Revoked}) {
    for (bool by_token : {false, true}) {
      const std::string reason = withheld_reason(p, m, by_token);
      EXPECT_EQ(reason.find_first_of("\r\n"), std::string::npos);
      EXPECT_EQ(reason.empty(), p == Publication::Published);
    }
  }
}

}  // namespace
}  // namespace keydir::service
