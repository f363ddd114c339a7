// Each signature verified once (SignatureMemo): a memo only ever spares the
// public-key operation of the very signature, by the very key, over the very
// data it was verified for. A signature moved to another user ID, subkey or
// certificate, or altered, is checked again and fails.
#include <gtest/gtest.h>

#include "common/limits.hpp"
#include "openpgp/canonical.hpp"
#include "openpgp/verify.hpp"
#include "test_data.hpp"

namespace keydir::openpgp {
namespace {

constexpr std::uint64_t kNow = 1900000000;

Certificate parse_one(const std::string& name) {
  auto bin = decode_key_input(test::fixture(name), limits::kMaxUploadBytes);
  auto certs = parse_certificates(*bin);
  return *certs->front().cert;
}

bool has_user_id(const VerifiedCertificate& c, std::string_view uid) {
  for (const auto& u : c.cert().user_ids) {
    if (as_chars(u.body) == uid) {
      return true;
    }
  }
  return false;
}

TEST(SignatureMemo, RecordsEveryKeptSignatureAndChangesNothing) {
  Policy policy;
  auto c = parse_one("gpg-multi.asc");
  auto plain = verify(c, policy, kNow);
  ASSERT_TRUE(plain.accepted());
  std::size_t kept = plain.cert->cert().direct_signatures.size();
  for (const auto& u : plain.cert->cert().user_ids) {
    kept += u.signatures.size();
  }
  for (const auto& s : plain.cert->cert().subkeys) {
    kept += s.signatures.size();
  }
  EXPECT_GE(plain.cert->memo().size(), kept);
  auto again = verify(c, policy, kNow, plain.cert->memo());
  ASSERT_TRUE(again.accepted());
  EXPECT_EQ(again.cert->to_bytes(), plain.cert->to_bytes());
  EXPECT_EQ(again.stripped.size(), plain.stripped.size());
  // What summarize_stored records for the stored copy is the same set.
  auto stored = summarize_stored(plain.cert->cert(), policy, kNow);
  ASSERT_TRUE(stored.accepted());
  auto from_stored = verify(c, policy, kNow, stored.cert->memo());
  ASSERT_TRUE(from_stored.accepted());
  EXPECT_EQ(from_stored.cert->to_bytes(), plain.cert->to_bytes());
}

TEST(SignatureMemo, SignatureMovedToAnotherUserIdIsCheckedAgain) {
  Policy policy;
  auto c = parse_one("gpg-multi.asc");
  auto genuine = verify(c, policy, kNow);
  ASSERT_TRUE(genuine.accepted());
  ASSERT_FALSE(c.user_ids.empty());
  // The attacker's user ID carries the owner's self-signatures of the first
  // user ID, and the memo of the genuine certificate is offered.
  Certificate forged = c;
  const std::string evil = "Mallory <mallory@evil.example>";
  forged.user_ids.push_back({Bytes(evil.begin(), evil.end()), c.user_ids.front().signatures});
  auto v = verify(forged, policy, kNow, genuine.cert->memo());
  ASSERT_TRUE(v.accepted());
  EXPECT_FALSE(has_user_id(*v.cert, evil));
  EXPECT_TRUE(has_user_id(*v.cert, std::string(as_chars(c.user_ids.front().body))));
}

TEST(SignatureMemo, SignatureMovedToAnotherCertificateIsCheckedAgain) {
  Policy policy;
  auto a = parse_one("gpg-multi.asc");
  auto b = parse_one("sq-rsa3k.asc");
  auto va = verify(a, policy, kNow);
  auto vb = verify(b, policy, kNow);
  ASSERT_TRUE(va.accepted());
  ASSERT_TRUE(vb.accepted());
  // b's primary key with a's first user ID and a's signatures over it.
  Certificate forged = b;
  forged.user_ids.push_back(a.user_ids.front());
  SignatureMemo both = va.cert->memo();
  both.merge(vb.cert->memo());
  auto v = verify(forged, policy, kNow, both);
  ASSERT_TRUE(v.accepted());
  EXPECT_FALSE(has_user_id(*v.cert, std::string(as_chars(a.user_ids.front().body))));
}

TEST(SignatureMemo, AlteredSignatureIsCheckedAgain) {
  Policy policy;
  auto c = parse_one("gpg-multi.asc");
  auto genuine = verify(c, policy, kNow);
  ASSERT_TRUE(genuine.accepted());
  // Flip the last octet of the signature value of every self-signature of the
  // first user ID: with the genuine memo, the user ID must still be dropped.
  Certificate altered = c;
  auto& sigs = altered.user_ids.front().signatures;
  ASSERT_FALSE(sigs.empty());
  for (auto& s : sigs) {
    Bytes body = s.body;
    body.back() ^= 0x01;
    auto reparsed = parse_signature(body);
    ASSERT_TRUE(reparsed.has_value());
    s = std::move(*reparsed);
  }
  auto v = verify(altered, policy, kNow, genuine.cert->memo());
  EXPECT_FALSE(v.accepted() &&
               has_user_id(*v.cert, std::string(as_chars(c.user_ids.front().body))));
}

// `sig` with its unhashed area replaced by `area` (whole subpackets).
Signature with_unhashed(const Signature& sig, const Bytes& area) {
  const std::size_t len_bytes = sig.version == 4 ? 2 : 4;
  Bytes out(sig.body.begin(), sig.body.begin() + static_cast<std::ptrdiff_t>(sig.unhashed_begin));
  append_be(out, area.size(), len_bytes);
  append(out, area);
  out.insert(out.end(), sig.body.begin() + static_cast<std::ptrdiff_t>(sig.unhashed_end),
             sig.body.end());
  auto parsed = parse_signature(out);
  EXPECT_TRUE(parsed.has_value());
  return *parsed;
}

// The unhashed area is anyone's to change: every variant of it is served as
// one canonical area (the issuer, and a signing subkey's valid
// back-signature), so no variant an outsider makes can win the merge.
TEST(CanonicalUnhashed, EveryVariantIsServedTheSame) {
  Policy policy;
  auto c = parse_one("gpg-multi.asc");
  auto genuine = verify(c, policy, kNow);
  ASSERT_TRUE(genuine.accepted());
  const Bytes junk{11, 20, 0x80, 0, 0, 0, 0, 1, 0, 1, 'x', 'y'};  // a notation, unhashed
  const Bytes wrong_issuer{9, 16, 1, 2, 3, 4, 5, 6, 7, 8};
  for (const Bytes& area : {Bytes{}, junk, wrong_issuer}) {
    Certificate variant = c;
    for (auto& u : variant.user_ids) {
      for (auto& sig : u.signatures) {
        sig = with_unhashed(sig, area);
      }
    }
    for (auto& sub : variant.subkeys) {
      for (auto& sig : sub.signatures) {
        // Keep the back-signature (else the signing subkey loses its
        // binding), but drop the rest and add the variant's area.
        Bytes keep = area;
        for (const auto& e : sig.embedded_signatures) {
          keep.push_back(static_cast<std::uint8_t>(e.size() + 1));
          keep.push_back(32);
          append(keep, e);
        }
        sig = with_unhashed(sig, keep);
      }
    }
    auto v = verify(variant, policy, kNow);
    ASSERT_TRUE(v.accepted());
    EXPECT_EQ(v.cert->to_bytes(), genuine.cert->to_bytes()) << "area of " << area.size();
    EXPECT_EQ(v.cert->cert().subkeys.size(), genuine.cert->cert().subkeys.size());
  }
}

TEST(SignatureMemo, SetOperations) {
  SignatureMemo m;
  SignatureMemo::Key a{};
  SignatureMemo::Key b{};
  b[0] = 1;
  EXPECT_TRUE(m.empty());
  m.add(b);
  m.add(a);
  m.add(b);
  EXPECT_EQ(m.size(), 2U);
  EXPECT_TRUE(m.contains(a));
  SignatureMemo n;
  SignatureMemo::Key c{};
  c[31] = 7;
  n.add(c);
  n.add(a);
  m.merge(n);
  EXPECT_EQ(m.size(), 3U);
  EXPECT_TRUE(m.contains(c));
  SignatureMemo::Key d{};
  d[5] = 9;
  EXPECT_FALSE(m.contains(d));
}

}  // namespace
}  // namespace keydir::openpgp
