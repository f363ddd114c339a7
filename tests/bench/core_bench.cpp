// Core benchmarks (one core): signature verification per algorithm and
// backend, and whole-certificate validation (dearmor + parse + verify +
// canonicalize) per fixture. Run: build/core_bench  (figures: docs/performance.md).
#include <benchmark/benchmark.h>

#include "common/limits.hpp"
#include "openpgp/crypto/hash.hpp"
#include "openpgp/verify.hpp"
#include "test_data.hpp"

namespace {

using namespace keydir;
using namespace keydir::openpgp;

struct SelfSig {
  Certificate cert;
  Bytes digest;
  const Signature* sig = nullptr;
};

// The first user ID self-signature of a fixture and the digest it signs.
SelfSig first_self_sig(const std::string& name) {
  SelfSig out;
  auto bin = decode_key_input(test::fixture(name), limits::kMaxUploadBytes);
  out.cert = *(*parse_certificates(*bin)).front().cert;
  const auto& uid = out.cert.user_ids.at(0);
  out.sig = &uid.signatures.at(0);
  auto h = *crypto::Hasher::create(out.sig->hash_algorithm);
  const auto& key = out.cert.primary;
  h.update_u8(0x99);
  h.update_be(key.body.size(), 2);
  h.update(key.body);
  h.update_u8(0xB4);
  h.update_be(uid.body.size(), 4);
  h.update(uid.body);
  h.update(ByteView(out.sig->body).first(out.sig->hashed_prefix_len));
  h.update_u8(4);
  h.update_u8(0xFF);
  h.update_be(out.sig->hashed_prefix_len, 4);
  out.digest = h.finish();
  return out;
}

void BM_Verify(benchmark::State& state, std::string fixture, crypto::Backend backend) {
  SelfSig s = first_self_sig(fixture);
  auto key = crypto::make_verifying_key(s.cert.primary, backend);
  if (!key) {
    state.SkipWithError(key.error().detail.c_str());
    return;
  }
  if (!(*key)->verify(s.sig->hash_algorithm, s.digest, s.sig->material)) {
    state.SkipWithError("fixture signature does not verify");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize((*key)->verify(s.sig->hash_algorithm, s.digest, s.sig->material));
  }
  state.counters["verify/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

std::size_t count_signatures(const VerifiedCertificate& vc) {
  const auto& c = vc.cert();
  std::size_t n = c.direct_signatures.size();
  for (const auto& u : c.user_ids) {
    n += u.signatures.size();
  }
  for (const auto& s : c.subkeys) {
    n += s.signatures.size();
  }
  return n;
}

void BM_ValidateCertificate(benchmark::State& state, std::string fixture,
                            std::optional<crypto::Backend> backend) {
  Bytes input = test::fixture(fixture);
  Policy policy;
  std::size_t sigs = 0;
  for (auto _ : state) {
    // What an upload does: dearmor, parse, verify, canonical bytes.
    auto bin = decode_key_input(input, limits::kMaxUploadBytes);
    auto certs = parse_certificates(*bin);
    auto v = verify(std::move(*certs->front().cert), policy, test::kNow, backend);
    if (!v.accepted()) {
      state.SkipWithError("fixture not accepted");
      return;
    }
    sigs = count_signatures(*v.cert);
    benchmark::DoNotOptimize(v.cert->to_bytes());
  }
  state.counters["certs/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["sigs/s"] = benchmark::Counter(static_cast<double>(state.iterations() * sigs),
                                                benchmark::Counter::kIsRate);
}

void BM_Digest(benchmark::State& state, HashAlgorithm algo) {
  Bytes data(512, 0x42);  // a typical key packet + user ID
  for (auto _ : state) {
    benchmark::DoNotOptimize(crypto::digest(algo, data));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}

const char* const kAlgorithms[][2] = {
    {"rsa2048", "gpg-rsa2048.asc"},
    {"rsa4096", "gpg-rsa4096.asc"},
    {"dsa2048", "gpg-dsa2048.asc"},
    {"ed25519", "gpg-ed25519.asc"},
    {"p256", "gpg-nistp256.asc"},
    {"p384", "gpg-nistp384.asc"},
    {"p521", "gpg-nistp521.asc"},
    {"brainpoolP256r1", "gpg-brainpoolp256.asc"},
    {"brainpoolP512r1", "gpg-brainpoolp512.asc"},
};

int register_all() {
  for (const auto& [name, file] : kAlgorithms) {
    for (auto b : {crypto::Backend::CryptoPP, crypto::Backend::OpenSSL}) {
      std::string label = std::string("Verify/") + name + "/" +
                          (b == crypto::Backend::CryptoPP ? "cryptopp" : "openssl");
      benchmark::RegisterBenchmark(label.c_str(), BM_Verify, std::string(file), b);
    }
  }
  for (const char* file :
       {"gpg-ed25519.asc", "gpg-rsa2048.asc", "gpg-rsa4096.asc", "gpg-nistp256.asc",
        "gpg-dsa2048.asc", "gpg-multi.asc", "sq-cv25519.asc", "sq-rsa3k.asc"}) {
    benchmark::RegisterBenchmark((std::string("Validate/") + file).c_str(), BM_ValidateCertificate,
                                 std::string(file), std::nullopt);
    for (auto b : {crypto::Backend::CryptoPP, crypto::Backend::OpenSSL}) {
      std::string label = std::string("ValidateWith/") + file + "/" +
                          (b == crypto::Backend::CryptoPP ? "cryptopp" : "openssl");
      benchmark::RegisterBenchmark(label.c_str(), BM_ValidateCertificate, std::string(file), b);
    }
  }
  benchmark::RegisterBenchmark("Digest/SHA256/512B", BM_Digest, HashAlgorithm::Sha256);
  benchmark::RegisterBenchmark("Digest/SHA1/512B", BM_Digest, HashAlgorithm::Sha1);
  return 0;
}
const int kRegistered = register_all();

}  // namespace

BENCHMARK_MAIN();
