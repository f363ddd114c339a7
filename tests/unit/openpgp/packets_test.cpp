#include "openpgp/packets.hpp"

#include <gtest/gtest.h>

#include "common/limits.hpp"

namespace keydir::openpgp {
namespace {

// A v4 EdDSALegacy signature body with the given hashed subpacket area.
Bytes signature_body(const Bytes& hashed, const Bytes& unhashed = {}) {
  Bytes b{4, 0x13, 22, 8};
  append_be(b, hashed.size(), 2);
  append(b, hashed);
  append_be(b, unhashed.size(), 2);
  append(b, unhashed);
  b.push_back(0xAB);
  b.push_back(0xCD);
  for (int i = 0; i < 2; ++i) {  // MPIs r and s of 256 bits
    b.push_back(0x01);
    b.push_back(0x00);
    b.insert(b.end(), 32, 0x80);
  }
  return b;
}

Bytes subpacket(std::uint8_t type, const Bytes& data) {
  Bytes b{static_cast<std::uint8_t>(data.size() + 1), type};
  append(b, data);
  return b;
}

TEST(Signature, ParsesSubpacketsOfBothAreas) {
  Bytes hashed = subpacket(2, {0x60, 0x00, 0x00, 0x00});     // creation time
  append(hashed, subpacket(9, {0x00, 0x00, 0x0E, 0x10}));    // key expires after 3600 s
  append(hashed, subpacket(27, {0x03}));                     // certify + sign
  append(hashed, subpacket(25, {0x01}));                     // primary user ID
  Bytes unhashed = subpacket(16, {1, 2, 3, 4, 5, 6, 7, 8});  // issuer key ID
  auto sig = parse_signature(signature_body(hashed, unhashed));
  ASSERT_TRUE(sig) << sig.error().detail;
  EXPECT_EQ(sig->type, SignatureType::PositiveCertification);
  EXPECT_EQ(*sig->created, 0x60000000u);
  EXPECT_EQ(*sig->key_expires_after, 3600u);
  EXPECT_EQ(*sig->key_flags, 0x03);
  EXPECT_TRUE(sig->primary_user_id);
  ASSERT_EQ(sig->issuer_key_ids.size(), 1u);
  EXPECT_EQ(sig->issuer_key_ids[0].to_hex(), "0102030405060708");
  EXPECT_FALSE(sig->unknown_critical);
  ASSERT_EQ(sig->material.mpis.size(), 2u);
  // The normalized form drops the unhashed area.
  auto plain = parse_signature(signature_body(hashed));
  ASSERT_TRUE(plain);
  EXPECT_EQ(sig->normalized(), plain->normalized());
  EXPECT_NE(sig->body, plain->body);
}

TEST(Signature, UnknownCriticalSubpacketIsFlagged) {
  Bytes hashed = subpacket(2, {0x60, 0, 0, 0});
  append(hashed, subpacket(0x80 | 100, {0x00}));  // private/experimental, critical
  auto sig = parse_signature(signature_body(hashed));
  ASSERT_TRUE(sig);
  EXPECT_TRUE(sig->unknown_critical);
}

TEST(Signature, SubpacketCountLimit) {
  auto area = [](std::size_t n) {
    Bytes h;
    for (std::size_t i = 0; i < n; ++i) {
      append(h, subpacket(30, {0x01}));  // features
    }
    return h;
  };
  EXPECT_TRUE(parse_signature(signature_body(area(limits::kMaxSubpackets))));
  auto r = parse_signature(signature_body(area(limits::kMaxSubpackets + 1)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::MalformedPacket);
}

// A packet body a parser refuses: the error code and part of its detail.
struct RefusedCase {
  std::string name;
  Bytes body;
  ErrorCode code;
  std::string detail;
};

TEST(Signature, RefusesOldVersionsAndGarbage) {
  Bytes truncated = signature_body({});
  truncated.pop_back();
  const RefusedCase cases[] = {
      {"v3",
       {3, 5, 0x13, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 8, 0xAB, 0xCD},
       ErrorCode::UnsupportedVersion,
       ""},
      {"truncated MPI", truncated, ErrorCode::MalformedPacket, ""},
      {"zero-length subpacket", signature_body({0x00}), ErrorCode::MalformedPacket, ""},
      // Edge cases added with the table.
      {"empty body", {}, ErrorCode::MalformedPacket, ""},
      {"version octet alone", {4}, ErrorCode::MalformedPacket, ""},
      {"version 7", {7, 0x13, 22, 8, 0, 0, 0, 0, 0xAB, 0xCD}, ErrorCode::UnsupportedVersion, ""},
      {"hashed area longer than the body",
       {4, 0x13, 22, 8, 0xFF, 0xFF},
       ErrorCode::MalformedPacket,
       ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = parse_signature(c.body);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, c.code)
        << error_code_name(r.error().code) << ": " << r.error().detail;
    EXPECT_NE(r.error().detail.find(c.detail), std::string::npos) << r.error().detail;
  }
}

Bytes rsa_key_body(std::size_t modulus_bits) {
  Bytes b{4, 0x60, 0, 0, 0, 1};
  append_be(b, modulus_bits, 2);
  Bytes n((modulus_bits + 7) / 8, 0xFF);
  n[0] = static_cast<std::uint8_t>(0xFF >> ((8 - modulus_bits % 8) % 8));
  append(b, n);
  append(b, Bytes{0x00, 0x11, 0x01, 0x00, 0x01});  // e = 65537
  return b;
}

TEST(PublicKey, MpiSizeLimit) {
  auto at = parse_public_key(rsa_key_body(limits::kMaxMpiBits));
  ASSERT_TRUE(at) << at.error().detail;
  EXPECT_EQ(at->bits, limits::kMaxMpiBits);
  auto past = parse_public_key(rsa_key_body(limits::kMaxMpiBits + 1));
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code, ErrorCode::MalformedPacket);
}

TEST(PublicKey, RefusesV3AndV5WithAReason) {
  Bytes v5{5, 0x60, 0, 0, 0, 27, 0, 0, 0, 32};
  v5.resize(v5.size() + 32, 0x11);
  const RefusedCase cases[] = {
      {"v3",
       {3, 0x60, 0, 0, 0, 0, 0, 1, 0x00, 0x08, 0xFF, 0x00, 0x02, 0x03},
       ErrorCode::UnsupportedVersion,
       "v3"},
      {"v5", v5, ErrorCode::UnsupportedVersion, "v5"},
      // Edge cases added with the table.
      {"empty body", {}, ErrorCode::MalformedPacket, ""},
      {"version 7", {7, 0x60, 0, 0, 0, 27, 0, 0, 0, 0}, ErrorCode::UnsupportedVersion, ""},
      {"v4 cut after the creation time", {4, 0x60, 0, 0, 0}, ErrorCode::MalformedPacket, ""},
      {"v4 RSA with a truncated modulus",
       {4, 0x60, 0, 0, 0, 1, 0x00, 0x10, 0xFF},
       ErrorCode::MalformedPacket,
       ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = parse_public_key(c.body);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, c.code)
        << error_code_name(r.error().code) << ": " << r.error().detail;
    EXPECT_NE(r.error().detail.find(c.detail), std::string::npos) << r.error().detail;
  }
}

TEST(PublicKey, V6NativeEd25519AndFingerprint) {
  // RFC 9580 Appendix A.3: the v6 Ed25519 primary key packet body.
  auto body = from_hex(
      "0663877fe31b00000020f94da7bb48d60a61e567706a6587d0331999bb9d891a08242ead84543df895a3");
  ASSERT_TRUE(body);
  auto key = parse_public_key(*body);
  ASSERT_TRUE(key) << key.error().detail;
  EXPECT_EQ(key->version, 6);
  EXPECT_EQ(key->algorithm, PublicKeyAlgorithm::Ed25519);
  EXPECT_EQ(key->material.native.size(), 32u);
  EXPECT_EQ(key->fingerprint.to_hex(),
            "CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9");
  EXPECT_EQ(key->key_id.to_hex(), "CB186C4F0609A697");
}

}  // namespace
}  // namespace keydir::openpgp
