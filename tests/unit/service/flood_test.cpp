// Certificate flooding (issue #8): a certificate with 100,000 third-party
// signatures, one with 10,000 user IDs, one of 50 MB. Each is answered with a
// clear refusal or stripped, within bounded time and memory, on both entry
// points (an upload, and the bulk importer's larger limits). The bounds are
// limits.hpp's; the times are printed (docs/security.md, "Hostile input and faults").
#include <gtest/gtest.h>

#include <chrono>

#include "cert_generator.hpp"
#include "common/limits.hpp"
#include "openpgp/certificate.hpp"
#include "openpgp/packet_reader.hpp"
#include "openpgp/verify.hpp"
#include "service/key_directory.hpp"
#include "storage/memory_key_store.hpp"
#include "test_data.hpp"

namespace keydir::service {
namespace {

struct Timer {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
};

// The signature packets of a certificate (to reuse one as a "third-party"
// certification on another key: its issuer is not that key).
std::vector<Bytes> signature_packets(const Bytes& cert) {
  std::vector<Bytes> out;
  std::size_t at = 0;
  while (at < cert.size()) {
    auto h = openpgp::peek_packet_header(ByteView(cert).subspan(at), at);
    if (!h || !*h) {
      break;
    }
    std::size_t end = at + (*h)->header_len + (*h)->body_len;
    if ((*h)->tag == static_cast<std::uint8_t>(openpgp::PacketTag::Signature)) {
      out.emplace_back(cert.begin() + static_cast<std::ptrdiff_t>(at),
                       cert.begin() + static_cast<std::ptrdiff_t>(end));
    }
    at = end;
  }
  return out;
}

// The reason the input or its (only) certificate is refused; empty if accepted.
std::string refusal_of(const Result<std::vector<openpgp::Verification>>& v) {
  if (!v) {
    return v.error().detail;
  }
  for (const auto& c : *v) {
    if (!c.accepted()) {
      return c.refusal->detail;
    }
  }
  return "";
}

struct Env {
  std::unique_ptr<storage::MemoryKeyStore> store = std::make_unique<storage::MemoryKeyStore>();
  std::unique_ptr<KeyDirectory> directory;
  Env() {
    directory =
        std::make_unique<KeyDirectory>(*store, DirectoryOptions{}, [] { return test::kNow; });
  }
};

TEST(Flood, HundredThousandThirdPartySignatures) {
  test::CertGenerator gen(5);
  test::CertSpec spec;
  spec.user_ids = {"Victim <victim@keydir.test>"};
  Bytes cert = gen.make(spec);
  Bytes other = gen.next();
  Bytes sig = signature_packets(other).front();
  // Insert the flood after the user ID's own signature: the packets follow
  // the user ID, where third-party certifications go.
  Bytes flooded = cert;
  for (int i = 0; i < 100000; ++i) {
    flooded.insert(flooded.end(), sig.begin(), sig.end());
  }
  std::printf("flood: 100,000 third-party signatures, %zu octets\n", flooded.size());
  Env env;
  Timer t1;
  auto up = env.directory->upload(flooded);
  std::printf("  upload: %.1f ms\n", t1.ms());
  ASSERT_FALSE(up);  // larger than an upload may be
  EXPECT_EQ(up.error().code, ErrorCode::PayloadTooLarge);
  // The importer's limit is 16 MiB a certificate: the packet count stops it.
  openpgp::Policy policy;
  Timer t2;
  auto v = openpgp::verify_input(flooded, policy, test::kNow, limits::kMaxImportCertBytes);
  std::printf("  import-size check: %.1f ms\n", t2.ms());
  const std::string why = refusal_of(v);
  std::printf("  refused: %s\n", why.c_str());
  EXPECT_FALSE(why.empty());
  EXPECT_LT(t2.ms(), 10000.0);  // a bound far above the measured time, not a benchmark
  // A merely large flood that fits an upload is stripped to the cap.
  Bytes some = cert;
  for (int i = 0; i < 2000; ++i) {
    some.insert(some.end(), sig.begin(), sig.end());
  }
  Timer t3;
  auto ok = env.directory->upload(some);
  std::printf("  2,000 signatures (%zu octets): %.1f ms\n", some.size(), t3.ms());
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->stored.size(), 1u);
  auto rec = env.store->get(ok->stored[0].fingerprint);
  ASSERT_TRUE(rec && *rec);
  EXPECT_LT((*rec)->cert.size(), std::size_t{4096});  // third-party certifications stripped
}

TEST(Flood, TenThousandUserIds) {
  test::CertGenerator gen(6);
  test::CertSpec spec;
  for (int i = 0; i < 10000; ++i) {
    spec.user_ids.push_back("User " + std::to_string(i) + " <u" + std::to_string(i) +
                            "@keydir.test>");
  }
  Bytes cert = gen.make(spec);
  std::printf("flood: 10,000 user IDs, %zu octets\n", cert.size());
  Env env;
  Timer t1;
  auto up = env.directory->upload(cert);
  std::printf("  upload: %.1f ms\n", t1.ms());
  ASSERT_FALSE(up);
  EXPECT_EQ(up.error().code, ErrorCode::PayloadTooLarge);
  openpgp::Policy policy;
  Timer t2;
  auto v = openpgp::verify_input(cert, policy, test::kNow, limits::kMaxImportCertBytes);
  std::printf("  import-size check: %.1f ms\n", t2.ms());
  const std::string why = refusal_of(v);
  std::printf("  refused: %s\n", why.c_str());
  EXPECT_FALSE(why.empty());
  EXPECT_LT(t2.ms(), 10000.0);
}

TEST(Flood, FiftyMegabytes) {
  // One user ID packet announcing 50 MB (and carrying it).
  Bytes big;
  openpgp::write_packet(big, static_cast<std::uint8_t>(openpgp::PacketTag::UserId),
                        Bytes(50u << 20, 'a'));
  Bytes cert = test::fixture("gpg-ed25519.pgp");
  cert.insert(cert.end(), big.begin(), big.end());
  Env env;
  Timer t1;
  auto up = env.directory->upload(cert);
  std::printf("flood: 50 MB certificate: upload refused in %.1f ms\n", t1.ms());
  ASSERT_FALSE(up);
  EXPECT_EQ(up.error().code, ErrorCode::PayloadTooLarge);
  openpgp::Policy policy;
  Timer t2;
  auto v = openpgp::verify_input(cert, policy, test::kNow, 64u << 20);
  std::printf("  with a 64 MB input limit: %.1f ms\n", t2.ms());
  const std::string why = refusal_of(v);
  std::printf("  refused: %s\n", why.c_str());
  EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace keydir::service
