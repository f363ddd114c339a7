// Every bound, at the limit (accepted) and one past it (a clear error).
#include <gtest/gtest.h>

#include "common/limits.hpp"
#include "openpgp/armor.hpp"
#include "openpgp/canonical.hpp"
#include "openpgp/packet_reader.hpp"
#include "openpgp/verify.hpp"
#include "test_data.hpp"

namespace keydir::openpgp {
namespace {

Certificate parse_one(const std::string& name) {
  auto bin = decode_key_input(test::fixture(name), limits::kMaxUploadBytes);
  return *parse_certificates(*bin)->front().cert;
}

Verification check(const std::string& name, const Policy& p) {
  return verify(parse_one(name), p, test::kNow);
}

bool stripped_with(const Verification& v, std::string_view text) {
  for (const auto& f : v.stripped) {
    if (f.reason.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(Limits, UserIdLength) {
  Certificate c = parse_one("gpg-multi.asc");
  std::size_t longest = 0;
  for (const auto& u : c.user_ids) {
    longest = std::max(longest, u.body.size());
  }
  Policy p;
  p.max_user_id_bytes = longest;
  auto at = verify(c, p, test::kNow);
  EXPECT_EQ(at.cert->cert().user_ids.size(), 3u);
  p.max_user_id_bytes = longest - 1;
  auto past = verify(c, p, test::kNow);
  EXPECT_EQ(past.cert->cert().user_ids.size(), 2u);
  EXPECT_TRUE(stripped_with(past, "exceeds the limit"));
}

TEST(Limits, UserIdsAndSubkeysPerCertificate) {
  Policy p;
  p.max_user_ids = 3;
  p.max_subkeys = 2;
  EXPECT_TRUE(check("gpg-multi.asc", p).accepted());
  p.max_user_ids = 2;
  auto uids = check("gpg-multi.asc", p);
  ASSERT_FALSE(uids.accepted());
  EXPECT_EQ(uids.refusal->code, ErrorCode::TooManyComponents);
  p.max_user_ids = 3;
  p.max_subkeys = 1;
  auto subs = check("gpg-multi.asc", p);
  ASSERT_FALSE(subs.accepted());
  EXPECT_EQ(subs.refusal->code, ErrorCode::TooManyComponents);
}

TEST(Limits, CertificateSize) {
  Policy p;
  auto whole = check("gpg-rsa4096.asc", p);
  std::size_t size = whole.cert->to_bytes().size();
  p.max_cert_bytes = size;
  EXPECT_TRUE(check("gpg-rsa4096.asc", p).accepted());
  p.max_cert_bytes = size - 1;
  auto past = check("gpg-rsa4096.asc", p);
  ASSERT_FALSE(past.accepted());
  EXPECT_EQ(past.refusal->code, ErrorCode::CertificateTooLarge);
}

TEST(Limits, SignatureAndKeyPacketSize) {
  Certificate c = parse_one("gpg-rsa4096.asc");
  std::size_t sig = 0;
  for (const auto& u : c.user_ids) {
    for (const auto& s : u.signatures) {
      sig = std::max(sig, s.body.size());
    }
  }
  Policy p;
  p.max_signature_packet_bytes = sig;
  EXPECT_TRUE(verify(c, p, test::kNow).accepted());
  p.max_signature_packet_bytes = sig - 1;
  auto past = verify(c, p, test::kNow);
  EXPECT_FALSE(past.accepted());
  EXPECT_TRUE(stripped_with(past, "signature packet of"));

  Policy k;
  k.max_key_packet_bytes = c.primary.body.size();
  EXPECT_TRUE(verify(c, k, test::kNow).accepted());
  k.max_key_packet_bytes = c.primary.body.size() - 1;
  auto key_past = verify(c, k, test::kNow);
  ASSERT_FALSE(key_past.accepted());
  EXPECT_EQ(key_past.refusal->code, ErrorCode::PacketTooLarge);
}

TEST(Limits, SelfSignaturesPerComponent) {
  // sq-attested: the user ID carries two self-signatures (its certification
  // and the attestation) and one attested third-party certification.
  Certificate c = parse_one("sq-attested.asc");
  Policy p;
  p.max_self_sigs_per_component = 2;
  auto at = verify(c, p, test::kNow);
  ASSERT_TRUE(at.accepted());
  EXPECT_EQ(at.cert->cert().user_ids[0].signatures.size(), 3u);
  EXPECT_FALSE(stripped_with(at, "beyond the limit"));
  p.max_self_sigs_per_component = 1;
  auto past = verify(c, p, test::kNow);
  ASSERT_TRUE(past.accepted());
  EXPECT_TRUE(stripped_with(past, "beyond the limit"));
  // The certification that binds the user ID is never the one dropped.
  std::size_t certifications = 0;
  for (const auto& s : past.cert->cert().user_ids[0].signatures) {
    certifications += is_certification(s.type) && s.issued_by(c.primary) ? 1 : 0;
  }
  EXPECT_EQ(certifications, 1u);
}

TEST(Limits, CertificatesPerInput) {
  Bytes three;
  for (const char* n : {"gpg-ed25519.asc", "gpg-rsa2048.asc", "gpg-nistp256.asc"}) {
    append(three, *decode_key_input(test::fixture(n), 1 << 20));
  }
  ParseOptions o;
  o.max_certs = 3;
  EXPECT_TRUE(parse_certificates(three, o));
  o.max_certs = 2;
  auto r = parse_certificates(three, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::TooManyComponents);
}

TEST(Limits, PacketsPerCertificate) {
  Bytes base = *decode_key_input(test::fixture("gpg-ed25519.pgp"), 1 << 20);
  auto with_markers = [&](std::size_t n) {
    Bytes in;
    PacketReader r(base);
    auto first = *r.next();  // the primary key packet
    write_packet(in, 6, first->body);
    for (std::size_t i = 0; i < n; ++i) {
      write_packet(in, 10, as_bytes("PGP"));  // RFC 9580 §5.8 marker packet
    }
    return in;
  };
  EXPECT_TRUE(parse_certificates(with_markers(limits::kMaxPacketsPerCert - 1)));
  auto r = parse_certificates(with_markers(limits::kMaxPacketsPerCert));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::TooManyComponents);
}

TEST(Limits, ArmorBlocksAndHeaders) {
  std::string one = armor(as_bytes("x"));
  std::string many;
  for (std::size_t i = 0; i < limits::kMaxArmorBlocks; ++i) {
    many += one;
  }
  EXPECT_TRUE(dearmor(many, 1 << 20));
  many += one;
  auto r = dearmor(many, 1 << 20);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::BadArmor);

  std::vector<std::pair<std::string, std::string>> headers(limits::kMaxArmorHeaders,
                                                           {"Comment", "x"});
  EXPECT_TRUE(dearmor(armor(as_bytes("x"), ArmorKind::PublicKey, headers), 1 << 20));
  headers.emplace_back("Comment", "x");
  EXPECT_FALSE(dearmor(armor(as_bytes("x"), ArmorKind::PublicKey, headers), 1 << 20));
}

}  // namespace
}  // namespace keydir::openpgp
