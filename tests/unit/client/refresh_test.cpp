// keydir refresh's change summary: what describe_changes says between a
// key as the keyring holds it and the same key merged with an answer, and
// the strict answer check refresh uses (a changed self-signature refuses the
// whole answer; third-party certifications are counted, not kept).
#include "client/refresh.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>

#include "cert_generator.hpp"
#include "client/remote.hpp"
#include "openpgp/canonical.hpp"
#include "openpgp/certificate.hpp"
#include "openpgp/policy.hpp"
#include "test_data.hpp"

namespace keydir::client {
namespace {

// Made with gpg 2.2.40 on 2026-11-30: an Ed25519 key for alice@example.org
// expiring on 2030-01-01 (export-minimal)
constexpr std::string_view kBefore = R"(-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEaw2ZzRYJKwYBBAHaRw8BAQdAzl+JFx31Eu8jZMg4brQNvaqJ5SQkPgxnQ18P
cf+zLR60GUFsaWNlIDxhbGljZUBleGFtcGxlLm9yZz6IlgQTFggAPhYhBK0uQGuY
i4QSay2FrcYb51MAgWS+BQJrDZnNAhsDBQkFzudzBQsJCAcCBhUKCQgLAgQWAgMB
Ah4BAheAAAoJEMYb51MAgWS+nqUA/2/AzTjyOjkeho0vL2vhf5bHzuH8snDhqJtr
/QqXYOn9AQDbgLeDRAZSrZ+BixOVY+VCzbALg2yWSomir1B6T++kBQ==
=eR5y
-----END PGP PUBLIC KEY BLOCK-----
)";

// The same key after --quick-add-key cv25519 encr 2031-01-01, --quick-set-expire
// 2035-01-01 and --quick-add-uid "Alice <alice@work.example>"
constexpr std::string_view kAfter = R"(-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEaw2ZzRYJKwYBBAHaRw8BAQdAzl+JFx31Eu8jZMg4brQNvaqJ5SQkPgxnQ18P
cf+zLR60GUFsaWNlIDxhbGljZUBleGFtcGxlLm9yZz6IlgQTFggAPgIbAwULCQgH
AgYVCgkICwIEFgIDAQIeAQIXgBYhBK0uQGuYi4QSay2FrcYb51MAgWS+BQJrDZnO
BQkPNjpzAAoJEMYb51MAgWS+4yMBAOcUSRiI7o0DLVQGNzBK0d4vebPOnUTm+MTe
Dg0ZGI4CAQDv9jO8xsb/uqRQymzmnVYNOani0Y1nxb2byRKXMrKGCrQaQWxpY2Ug
PGFsaWNlQHdvcmsuZXhhbXBsZT6IlgQTFggAPhYhBK0uQGuYi4QSay2FrcYb51MA
gWS+BQJrDZnOAhsDBQkPNjpzBQsJCAcCBhUKCQgLAgQWAgMBAh4BAheAAAoJEMYb
51MAgWS+l1QBAIxvFfeuTmD/ey8x+aSbaqkHmZ7otycTuiF4fIfqY//rAQDoKb4d
Abpsq99+857w8GmUHGw2FcLePqgLL1LeJMSeDrg4BGsNmc0SCisGAQQBl1UBBQEB
B0Bsi7O/yYXBRRBsr6hwCfoIG0tZAvz0ZX85H6upuBIxBAMBCAeIfgQYFggAJhYh
BK0uQGuYi4QSay2FrcYb51MAgWS+BQJrDZnNAhsMBQkHsBrzAAoJEMYb51MAgWS+
o+EBAKW8jWvi1tQKYcLfr8KXss2NaHvcIKe5aPEax3GTfYCgAQDl/ZoGo/MFXdJ/
uJYZTvRc4IHcBE7OGhkXwdL2Ejr4DQ==
=rnA5
-----END PGP PUBLIC KEY BLOCK-----
)";

// The same key after importing its revocation certificate (openpgp-revocs.d)
constexpr std::string_view kRevoked = R"(-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEaw2ZzRYJKwYBBAHaRw8BAQdAzl+JFx31Eu8jZMg4brQNvaqJ5SQkPgxnQ18P
cf+zLR6IeAQgFggAIBYhBK0uQGuYi4QSay2FrcYb51MAgWS+BQJrDZnNAh0AAAoJ
EMYb51MAgWS+cTQA/RlyJEK2Yd4GtvuFFoxoydfLCpIry72aFNbgDvtmUeASAP4r
IOQu0z+z7ZgNbcyFMW6k1PS11TPMVrZ32HCYp8noBrQZQWxpY2UgPGFsaWNlQGV4
YW1wbGUub3JnPoiWBBMWCAA+AhsDBQsJCAcCBhUKCQgLAgQWAgMBAh4BAheAFiEE
rS5Aa5iLhBJrLYWtxhvnUwCBZL4FAmsNmc4FCQ82OnMACgkQxhvnUwCBZL7jIwEA
5xRJGIjujQMtVAY3MErR3i95s86dROb4xN4ODRkYjgIBAO/2M7zGxv+6pFDKbOad
Vg05qeLRjWfFvZvJEpcysoYKtBpBbGljZSA8YWxpY2VAd29yay5leGFtcGxlPoiW
BBMWCAA+FiEErS5Aa5iLhBJrLYWtxhvnUwCBZL4FAmsNmc4CGwMFCQ82OnMFCwkI
BwIGFQoJCAsCBBYCAwECHgECF4AACgkQxhvnUwCBZL6XVAEAjG8V965OYP97LzH5
pJtqqQeZnui3JxO6IXh8h+pj/+sBAOgpvh0Bumyr337znvDwaZQcbDYVwt4+qAsv
Ut4kxJ4OuDgEaw2ZzRIKKwYBBAGXVQEFAQEHQGyLs7/JhcFFEGyvqHAJ+ggbS1kC
/PRlfzkfq6m4EjEEAwEIB4h+BBgWCAAmFiEErS5Aa5iLhBJrLYWtxhvnUwCBZL4F
AmsNmc0CGwwFCQewGvMACgkQxhvnUwCBZL6j4QEApbyNa+LW1Aphwt+vwpeyzY1o
e9wgp7lo8RrHcZN9gKABAOX9mgaj8wVd0n+4lhlO9FzggdwETs4aGRfB0vYSOvgN
=cvrD
-----END PGP PUBLIC KEY BLOCK-----
)";

openpgp::VerifiedCertificate verified(ByteView input) {
  openpgp::Policy policy;
  auto v = openpgp::verify_input(input, policy, test::kNow, 1 << 20, 2);
  EXPECT_TRUE(v && v->size() == 1 && v->front().accepted());
  return *v->front().cert;
}

openpgp::VerifiedCertificate verified(std::string_view armored) {
  return verified(as_bytes(armored));
}

// `after` merged into `before`, verified: what refresh compares.
openpgp::VerifiedCertificate merged(const openpgp::VerifiedCertificate& before,
                                    const openpgp::VerifiedCertificate& after) {
  auto m = openpgp::merge(before.cert(), after.cert());
  EXPECT_TRUE(m);
  openpgp::Policy policy;
  auto v = openpgp::verify(std::move(*m), policy, test::kNow);
  EXPECT_TRUE(v.accepted());
  return *v.cert;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) {
    s += l + "\n";
  }
  return s;
}

bool has_line(const std::vector<std::string>& lines, std::string_view start,
              std::string_view also = {}) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
    return l.starts_with(start) && l.find(also) != std::string::npos;
  });
}

TEST(DescribeChanges, TheSameKeyIsUnchanged) {
  auto before = verified(kBefore);
  EXPECT_TRUE(describe_changes(before, before).empty());
  EXPECT_TRUE(describe_changes(before, merged(before, before)).empty());
  auto after = verified(kAfter);
  EXPECT_TRUE(describe_changes(after, after).empty());
}

TEST(DescribeChanges, NewSubkeyExpiryExtendedNewUserId) {
  auto before = verified(kBefore);
  auto after = merged(before, verified(kAfter));
  auto lines = describe_changes(before, after);
  ASSERT_EQ(lines.size(), 3u) << joined(lines);
  EXPECT_EQ(lines[0], "expiry extended from 2030-01-01 to 2035-01-01") << joined(lines);
  const std::string sub = after.cert().subkeys.at(0).key.fingerprint.to_hex();
  EXPECT_TRUE(has_line(lines, "new subkey " + sub + " (ECDH", "encrypt, expires 2031-01-01)"))
      << joined(lines);
  EXPECT_TRUE(has_line(lines, "new user ID \"Alice <alice@work.example>\"")) << joined(lines);
}

TEST(DescribeChanges, KeyRevoked) {
  auto after = verified(kAfter);
  auto revoked = merged(after, verified(kRevoked));
  auto lines = describe_changes(after, revoked);
  ASSERT_EQ(lines.size(), 1u) << joined(lines);
  EXPECT_TRUE(lines[0].starts_with("key revoked on 2026-11-30")) << lines[0];
  // The other way round nothing is new: a merge never loses the revocation.
  EXPECT_TRUE(describe_changes(revoked, merged(revoked, after)).empty());
  // From the oldest state: everything at once.
  auto before = verified(kBefore);
  EXPECT_EQ(describe_changes(before, merged(before, revoked)).size(), 4u);
}

test::CertSpec base_spec() {
  test::CertSpec spec;
  spec.user_ids = {"Carol <carol@example.org>"};
  spec.primary_seed = std::array<std::uint8_t, 32>{1, 2, 3};
  return spec;
}

TEST(DescribeChanges, GeneratedSubkeysAndUserIds) {
  auto before = verified(test::CertGenerator(7).make(base_spec()));

  auto spec = base_spec();
  spec.signing_subkey_seed = std::array<std::uint8_t, 32>{9, 9, 9};
  auto signing = merged(before, verified(test::CertGenerator(7).make(spec)));
  auto lines = describe_changes(before, signing);
  ASSERT_EQ(lines.size(), 1u) << joined(lines);
  EXPECT_TRUE(has_line(lines, "new subkey ", ", sign, expires never)")) << joined(lines);

  spec = base_spec();
  spec.encryption_subkey_revoked = test::CertSpec::RevokedSubkey{};
  auto sub_revoked = merged(before, verified(test::CertGenerator(7).make(spec)));
  lines = describe_changes(before, sub_revoked);
  ASSERT_EQ(lines.size(), 1u) << joined(lines);
  const std::string sub = before.cert().subkeys.at(0).key.fingerprint.to_hex();
  EXPECT_TRUE(has_line(lines, "subkey " + sub + " revoked on ")) << joined(lines);

  spec = base_spec();
  spec.revoked_user_ids = {{"Carol <carol@old.example>", true}};
  auto uid_revoked = merged(before, verified(test::CertGenerator(7).make(spec)));
  lines = describe_changes(before, uid_revoked);
  ASSERT_EQ(lines.size(), 1u) << joined(lines);
  EXPECT_TRUE(has_line(lines, "new user ID \"Carol <carol@old.example>\", revoked on "))
      << joined(lines);
}

TEST(DescribeChanges, UserIdTextIsPrintable) {
  auto before = verified(test::CertGenerator(7).make(base_spec()));
  auto spec = base_spec();
  spec.user_ids.push_back("Mallory \x1b[2J <m@example.org>");
  auto lines =
      describe_changes(before, merged(before, verified(test::CertGenerator(7).make(spec))));
  ASSERT_EQ(lines.size(), 1u) << joined(lines);
  EXPECT_EQ(lines[0].find('\x1b'), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("\\x1B[2J"), std::string::npos) << lines[0];
}

// refresh's check of an answer: a subkey binding changed on the way refuses
// the whole answer (a plain fetch keeps what verifies).
TEST(StrictAnswer, ChangedSubkeyBindingRefusesTheAnswer) {
  auto spec = base_spec();
  spec.signing_subkey_seed = std::array<std::uint8_t, 32>{9, 9, 9};
  const Bytes good = test::CertGenerator(7).make(spec);
  auto parsed = openpgp::parse_certificates(good);
  ASSERT_TRUE(parsed && parsed->size() == 1 && parsed->front().cert);
  openpgp::Certificate cert = *parsed->front().cert;
  bool changed = false;
  for (auto& sub : cert.subkeys) {
    for (auto& sig : sub.signatures) {
      if (sig.key_flags && (*sig.key_flags & openpgp::kFlagSign) != 0) {
        sig.body.back() ^= 0x01;  // the signature value's last octet
        changed = true;
      }
    }
  }
  ASSERT_TRUE(changed);
  const Bytes tampered = openpgp::serialize(cert);
  FetchQuery q;
  q.fingerprint = cert.primary.fingerprint;
  auto lenient = check_answer(tampered, q, test::kNow);
  ASSERT_TRUE(lenient) << lenient.error().detail;  // fetch: the subkey left out
  q.strict = true;
  auto strict = check_answer(tampered, q, test::kNow);
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().exit_code, kExitBadAnswer);
  EXPECT_NE(strict.error().detail.find("does not verify"), std::string::npos)
      << strict.error().detail;
  EXPECT_NE(strict.error().detail.find("nothing was accepted"), std::string::npos)
      << strict.error().detail;
  // The untouched certificate passes the strict check.
  EXPECT_TRUE(check_answer(good, q, test::kNow));
}

TEST(StrictAnswer, ThirdPartyCertificationsAreCounted) {
  const Bytes input = test::fixture("gpg-third-party.asc");
  auto v = verified(input);
  FetchQuery q;
  q.fingerprint = v.fingerprint();
  q.strict = true;
  std::size_t third_party = 0;
  auto checked = check_answer(input, q, test::kNow, &third_party);
  ASSERT_TRUE(checked) << checked.error().detail;
  EXPECT_GE(third_party, 1u);
  // What refresh keeps holds none of them: the same key, unchanged.
  EXPECT_TRUE(describe_changes(v, merged(v, verified(*checked))).empty());
}

}  // namespace
}  // namespace keydir::client
