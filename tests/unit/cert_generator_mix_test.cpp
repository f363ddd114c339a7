// The realistic certificate mix of the test generator (RealisticMix, behind
// gen_certs --mix realistic): certificate i a pure function of (seed, i), the
// documented proportions, every certificate accepted by verify() with its
// third-party certifications stripped, unique fingerprints.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "cert_generator.hpp"
#include "openpgp/certificate.hpp"
#include "openpgp/verify.hpp"

namespace keydir::test {
namespace {

constexpr std::uint64_t kSeed = 7;
constexpr std::uint64_t kNow = 1790000000;  // 2026-09-21, after every signature

// One RSA key per size keeps the test fast (the pool is generated on first
// use); a pool of one is the hardest case for unique fingerprints.
const RealisticMix& mix() {
  static const RealisticMix m(kSeed, MixOptions{1, {}});
  return m;
}

TEST(RealisticMixTest, CertificateIsAPureFunctionOfSeedAndIndex) {
  RealisticMix other(kSeed, MixOptions{1, {}});
  // Out of order, and from another instance: the same bytes.
  for (std::uint64_t i : {41u, 3u, 1000u, 0u, 3u}) {
    EXPECT_EQ(other.make(i), mix().make(i)) << i;
  }
  RealisticMix reseeded(kSeed + 1, MixOptions{1, {}});
  EXPECT_NE(reseeded.make(3), mix().make(3));
  EXPECT_NE(mix().make(4), mix().make(3));
}

TEST(RealisticMixTest, ProportionsOfTheMix) {
  constexpr int kN = 2000;
  std::map<MixKind, int> kinds;
  std::map<std::size_t, int> user_ids;
  int signing = 0;
  int superseded = 0;
  int third_party = 0;
  int no_email = 0;
  std::set<std::uint32_t> rsa_times;
  std::set<std::string> addresses;
  int rsa = 0;
  for (std::uint64_t i = 0; i < kN; ++i) {
    const MixPlan p = mix().plan(i);
    ++kinds[p.kind];
    ++user_ids[p.user_ids.size()];
    signing += p.signing_subkey;
    superseded += p.superseded;
    if (p.third_party) {
      ++third_party;
      EXPECT_LE(p.third_party, 10u);
      EXPECT_LT(p.third_party_user_id, p.user_ids.size());
    }
    no_email += p.user_ids[0].find('<') == std::string::npos;
    EXPECT_EQ(std::set<std::string>(p.user_ids.begin(), p.user_ids.end()).size(), p.user_ids.size())
        << i;
    for (const auto& u : p.user_ids) {
      auto at = u.find('<');
      if (at != std::string::npos) {
        EXPECT_TRUE(addresses.insert(u.substr(at)).second) << u;  // unique addresses
      }
    }
    EXPECT_GE(p.created, 1104537600u);  // 2005
    EXPECT_LT(p.created, 1767225600u);  // 2026
    if (p.kind != MixKind::Ed25519) {
      ++rsa;
      rsa_times.insert(p.created);
    }
  }
  auto near = [](int count, double share, double tolerance) {
    return std::abs(count / double(kN) - share) <= tolerance;
  };
  EXPECT_PRED3(near, kinds[MixKind::Ed25519], 0.60, 0.04);
  EXPECT_PRED3(near, kinds[MixKind::Rsa2048], 0.30, 0.04);
  EXPECT_PRED3(near, kinds[MixKind::Rsa3072], 0.08, 0.025);
  EXPECT_PRED3(near, kinds[MixKind::Rsa4096], 0.02, 0.012);
  EXPECT_PRED3(near, user_ids[1], 0.65, 0.04);
  EXPECT_PRED3(near, user_ids[2], 0.25, 0.04);
  EXPECT_PRED3(near, user_ids[3], 0.10, 0.03);
  EXPECT_PRED3(near, signing, 0.20, 0.035);
  EXPECT_PRED3(near, third_party, 0.25, 0.035);
  EXPECT_PRED3(near, superseded, 0.05, 0.02);
  EXPECT_PRED3(near, no_email, 0.04, 0.02);
  // RSA creation times are a permutation of the index: all distinct.
  EXPECT_EQ(rsa_times.size(), static_cast<std::size_t>(rsa));
}

TEST(RealisticMixTest, EveryCertificateVerifiesAndThirdPartyOnesAreStripped) {
  constexpr std::uint64_t kN = 300;
  const openpgp::Policy policy;
  std::set<std::string> fingerprints;
  std::size_t keys = 0;
  int with_third_party = 0;
  int refused = 0;
  std::map<MixKind, int> kinds;
  for (std::uint64_t i = 0; i < kN; ++i) {
    const MixPlan p = mix().plan(i);
    const Bytes bytes = mix().make(i);
    auto parsed = openpgp::parse_certificates(bytes);
    ASSERT_TRUE(parsed.has_value()) << i;
    ASSERT_EQ(parsed->size(), 1u) << i;
    ASSERT_TRUE(parsed->front().cert.has_value()) << i;
    const openpgp::Certificate& c = *parsed->front().cert;
    // The certificate is what the plan says.
    ++kinds[p.kind];
    EXPECT_EQ(c.primary.created, p.created) << i;
    EXPECT_EQ(c.user_ids.size(), p.user_ids.size()) << i;
    EXPECT_EQ(c.subkeys.size(), p.signing_subkey ? 2u : 1u) << i;
    static const std::map<MixKind, unsigned> kBits = {
        {MixKind::Rsa2048, 2048}, {MixKind::Rsa3072, 3072}, {MixKind::Rsa4096, 4096}};
    if (p.kind == MixKind::Ed25519) {
      EXPECT_EQ(c.primary.algorithm, openpgp::PublicKeyAlgorithm::EdDsaLegacy) << i;
    } else {
      EXPECT_EQ(c.primary.algorithm, openpgp::PublicKeyAlgorithm::Rsa) << i;
      EXPECT_EQ(c.primary.bits, kBits.at(p.kind)) << i;
    }
    fingerprints.insert(c.primary.fingerprint.to_hex());
    ++keys;
    for (const auto& s : c.subkeys) {
      fingerprints.insert(s.key.fingerprint.to_hex());
      ++keys;
    }

    auto v = openpgp::verify(c, policy, kNow);
    if (!v.accepted()) {
      ++refused;
      ADD_FAILURE() << i << ": " << v.refusal->detail;
      continue;
    }
    const auto& kept = v.cert->cert();
    EXPECT_EQ(kept.user_ids.size(), p.user_ids.size()) << i << ": " << [&] {
      std::string why;
      for (const auto& f : v.stripped) {
        why += f.component + ": " + f.reason + "; ";
      }
      return why;
    }();
    EXPECT_EQ(kept.subkeys.size(), c.subkeys.size()) << i;
    std::size_t stripped_third_party = 0;
    for (const auto& f : v.stripped) {
      stripped_third_party += f.reason.rfind("third-party", 0) == 0;
    }
    EXPECT_EQ(stripped_third_party, p.third_party) << i;
    for (const auto& u : kept.user_ids) {
      for (const auto& s : u.signatures) {
        ASSERT_EQ(s.issuer_fingerprints.size(), 1u) << i;
        EXPECT_EQ(s.issuer_fingerprints[0], c.primary.fingerprint) << i;
      }
    }
    with_third_party += p.third_party > 0;
  }
  EXPECT_EQ(refused, 0);
  EXPECT_EQ(fingerprints.size(), keys);  // every primary key and subkey distinct
  EXPECT_GT(with_third_party, 30);
  EXPECT_GT(kinds[MixKind::Rsa3072] + kinds[MixKind::Rsa4096], 10);
  EXPECT_GT(kinds[MixKind::Rsa4096], 0);
}

// Multi-prime pool keys (gen_certs --rsa-multi-prime): the same plans, RSA
// keys of the same sizes, every self-signature valid, and still a pure
// function of (seed, index); RSA-3072 and RSA-4096 moduli differ from the
// two-prime ones, RSA-2048 ones (two primes either way) do not.
TEST(RealisticMixTest, MultiPrimeKeysVerifyAndKeepTheirSizes) {
  const RealisticMix multi(kSeed, MixOptions{1, {}, true});
  const RealisticMix again(kSeed, MixOptions{1, {}, true});
  const openpgp::Policy policy;
  std::map<MixKind, int> kinds;
  for (std::uint64_t i = 0; i < 400 && (kinds[MixKind::Rsa3072] < 2 || kinds[MixKind::Rsa4096] < 1);
       ++i) {
    const MixPlan p = multi.plan(i);
    if (p.kind == MixKind::Ed25519) {
      continue;
    }
    ++kinds[p.kind];
    const Bytes bytes = multi.make(i);
    EXPECT_EQ(again.make(i), bytes) << i;
    if (p.kind == MixKind::Rsa2048) {
      EXPECT_EQ(bytes, mix().make(i)) << i;
    } else {
      EXPECT_NE(bytes, mix().make(i)) << i;
    }
    auto parsed = openpgp::parse_certificates(bytes);
    ASSERT_TRUE(parsed.has_value() && parsed->size() == 1 && parsed->front().cert) << i;
    const openpgp::Certificate& c = *parsed->front().cert;
    static const std::map<MixKind, unsigned> kBits = {
        {MixKind::Rsa2048, 2048}, {MixKind::Rsa3072, 3072}, {MixKind::Rsa4096, 4096}};
    EXPECT_EQ(c.primary.bits, kBits.at(p.kind)) << i;
    auto v = openpgp::verify(c, policy, kNow);
    ASSERT_TRUE(v.accepted()) << i << ": " << v.refusal->detail;
    EXPECT_EQ(v.cert->cert().user_ids.size(), p.user_ids.size()) << i;
    EXPECT_EQ(v.cert->cert().subkeys.size(), c.subkeys.size()) << i;
  }
  EXPECT_GE(kinds[MixKind::Rsa3072], 2);
  EXPECT_GE(kinds[MixKind::Rsa4096], 1);
}

}  // namespace
}  // namespace keydir::test
