#include "cert_generator.hpp"

#include <unistd.h>

#include <cryptopp/asn.h>
#include <cryptopp/files.h>
#include <cryptopp/osrng.h>
#include <cryptopp/rsa.h>
#include <cryptopp/sha.h>
#include <cryptopp/xed25519.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <stdexcept>

#include "openpgp/packet_reader.hpp"

namespace keydir::test {

namespace {

// 32 octets from four 64-bit draws of `next`, low octet first.
template <typename Next>
std::array<std::uint8_t, 32> bytes32_from(Next&& next) {
  std::array<std::uint8_t, 32> s{};
  for (std::size_t i = 0; i < 32; i += 8) {
    std::uint64_t r = next();
    for (std::size_t j = 0; j < 8; ++j) {
      s[i + j] = static_cast<std::uint8_t>(r >> (8 * j));
    }
  }
  return s;
}

}  // namespace

namespace {

struct Ed25519Key {
  std::array<std::uint8_t, 32> seed;
  Bytes pub;
};

Ed25519Key ed25519(const std::array<std::uint8_t, 32>& seed) {
  CryptoPP::ed25519Signer signer(seed.data());
  const auto& priv = dynamic_cast<const CryptoPP::ed25519PrivateKey&>(signer.GetPrivateKey());
  Ed25519Key k{seed, Bytes(priv.GetPublicKeyBytePtr(), priv.GetPublicKeyBytePtr() + 32)};
  return k;
}

Bytes sign(const Ed25519Key& key, ByteView digest) {
  CryptoPP::ed25519Signer signer(key.seed.data());
  CryptoPP::RandomNumberGenerator& rng = CryptoPP::NullRNG();
  Bytes sig(64);
  signer.SignMessage(rng, digest.data(), digest.size(), sig.data());
  return sig;
}

void mpi(Bytes& out, ByteView v) {
  std::size_t i = 0;
  while (i < v.size() && v[i] == 0) {
    ++i;
  }
  ByteView t = v.subspan(i);
  std::size_t bits = t.empty() ? 0 : (t.size() - 1) * 8;
  for (std::uint8_t b = t.empty() ? 0 : t[0]; b; b >>= 1) {
    ++bits;
  }
  append_be(out, bits, 2);
  append(out, t);
}

const Bytes kEd25519Oid = {0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01};
const Bytes kCv25519Oid = {0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01};

struct Key {
  int version;
  Bytes body;
  Bytes fingerprint;
};

Key key_packet(int version, std::uint32_t created, std::uint8_t algo, const Bytes& material) {
  Key k{version, {}, {}};
  k.body.push_back(static_cast<std::uint8_t>(version));
  append_be(k.body, created, 4);
  k.body.push_back(algo);
  if (version == 6) {
    append_be(k.body, material.size(), 4);
  }
  append(k.body, material);
  Bytes pre;
  if (version == 4) {
    pre.push_back(0x99);
    append_be(pre, k.body.size(), 2);
    append(pre, k.body);
    k.fingerprint.resize(20);
    CryptoPP::SHA1().CalculateDigest(k.fingerprint.data(), pre.data(), pre.size());
  } else {
    pre.push_back(0x9B);
    append_be(pre, k.body.size(), 4);
    append(pre, k.body);
    k.fingerprint.resize(32);
    CryptoPP::SHA256().CalculateDigest(k.fingerprint.data(), pre.data(), pre.size());
  }
  return k;
}

Key signing_key(int version, std::uint32_t created, const Ed25519Key& ed) {
  Bytes m;
  if (version == 4) {
    m.push_back(static_cast<std::uint8_t>(kEd25519Oid.size()));
    append(m, kEd25519Oid);
    Bytes point{0x40};
    append(point, ed.pub);
    mpi(m, point);
    return key_packet(4, created, 22, m);
  }
  append(m, ed.pub);
  return key_packet(6, created, 27, m);
}

Key encryption_key(int version, std::uint32_t created, const Bytes& pub) {
  Bytes m;
  if (version == 4) {
    m.push_back(static_cast<std::uint8_t>(kCv25519Oid.size()));
    append(m, kCv25519Oid);
    Bytes point{0x40};
    append(point, pub);
    mpi(m, point);
    append(m, Bytes{0x03, 0x01, 0x08, 0x07});  // KDF: SHA-256, AES-128
    return key_packet(4, created, 18, m);
  }
  append(m, pub);
  return key_packet(6, created, 25, m);
}

void hash_key(Bytes& h, const Key& k) {
  if (k.version == 4) {
    h.push_back(0x99);
    append_be(h, k.body.size(), 2);
  } else {
    h.push_back(0x9B);
    append_be(h, k.body.size(), 4);
  }
  append(h, k.body);
}

void subpacket(Bytes& area, std::uint8_t type, ByteView data) {
  area.push_back(static_cast<std::uint8_t>(data.size() + 1));
  area.push_back(type);
  append(area, data);
}

// A signature by `signer` of `type` over `context` (key/user ID data already
// prefixed as RFC 9580 §5.2.4 says), SHA-256.
Bytes signature(const Key& signer, const Ed25519Key& ed, std::uint8_t type, const Bytes& context,
                std::uint32_t created, std::optional<std::uint8_t> flags, const Bytes& embedded,
                std::mt19937_64& rng) {
  const int v = signer.version;
  Bytes hashed;
  Bytes t;
  append_be(t, created, 4);
  subpacket(hashed, 2, t);
  if (flags) {
    subpacket(hashed, 27, Bytes{*flags});
  }
  Bytes issuer{static_cast<std::uint8_t>(v)};
  append(issuer, signer.fingerprint);
  subpacket(hashed, 33, issuer);
  if (!embedded.empty()) {
    Bytes area;
    area.push_back(255);
    append_be(area, embedded.size() + 1, 4);
    area.push_back(32);
    append(area, embedded);
    append(hashed, area);
  }
  Bytes body{static_cast<std::uint8_t>(v), type, static_cast<std::uint8_t>(v == 4 ? 22 : 27), 8};
  append_be(body, hashed.size(), v == 4 ? 2 : 4);
  append(body, hashed);
  std::size_t hashed_len = body.size();
  Bytes unhashed;
  if (v == 4) {
    subpacket(unhashed, 16, ByteView(signer.fingerprint).subspan(12));
  }
  Bytes salt;
  if (v == 6) {
    salt.resize(16);
    for (auto& b : salt) {
      b = static_cast<std::uint8_t>(rng());
    }
  }
  Bytes data = salt;
  append(data, context);
  append(data, ByteView(body).first(hashed_len));
  data.push_back(static_cast<std::uint8_t>(v));
  data.push_back(0xFF);
  append_be(data, hashed_len, 4);
  Bytes digest(32);
  CryptoPP::SHA256().CalculateDigest(digest.data(), data.data(), data.size());
  Bytes sig = sign(ed, digest);
  append_be(body, unhashed.size(), v == 4 ? 2 : 4);
  append(body, unhashed);
  body.push_back(digest[0]);
  body.push_back(digest[1]);
  if (v == 4) {
    mpi(body, ByteView(sig).first(32));
    mpi(body, ByteView(sig).subspan(32));
  } else {
    body.push_back(16);
    append(body, salt);
    append(body, sig);
  }
  return body;
}

const char* const kFirst[] = {"Alice",  "Bob",   "Carol", "Dave",    "Erin",   "Frank",  "Grace",
                              "Heidi",  "Ivan",  "Judy",  "Mallory", "Niaj",   "Olivia", "Peggy",
                              "Rupert", "Sybil", "Trent", "Victor",  "Walter", "Zoe"};
const char* const kLast[] = {"Smith",  "Müller", "García", "Rossi",    "Nowak",  "Dubois",
                             "Jensen", "Novak",  "Silva",  "Kowalski", "Tanaka", "Olsen"};

}  // namespace

std::array<std::uint8_t, 32> CertGenerator::random_seed() {
  return bytes32_from([this] { return rng_(); });
}

Bytes CertGenerator::next(int version) {
  ++n_;
  CertSpec spec;
  spec.version = version;
  const char* first = kFirst[rng_() % std::size(kFirst)];
  const char* last = kLast[rng_() % std::size(kLast)];
  std::string local = std::string(first) + "." + std::to_string(n_);
  for (auto& c : local) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  spec.user_ids.push_back(std::string(first) + " " + last + " <" + local + "@example.org>");
  spec.created = 1600000000 + static_cast<std::uint32_t>(rng_() % 100000000);
  return make(spec);
}

Bytes CertGenerator::make(const CertSpec& spec) {
  const int v = spec.version;
  Ed25519Key primary_ed = ed25519(spec.primary_seed ? *spec.primary_seed : random_seed());
  Key primary = signing_key(v, spec.created, primary_ed);
  Bytes out;
  openpgp::write_packet(out, 6, primary.body);
  const std::uint32_t t = spec.created + 1;
  Bytes key_ctx;
  hash_key(key_ctx, primary);
  if (v == 6) {
    openpgp::write_packet(out, 2, signature(primary, primary_ed, 0x1F, key_ctx, t, 0x03, {}, rng_));
  }
  for (std::size_t i = 0; i < spec.user_ids.size(); ++i) {
    const auto& uid = spec.user_ids[i];
    openpgp::write_packet(out, 13, as_bytes(uid));
    Bytes ctx = key_ctx;
    ctx.push_back(0xB4);
    append_be(ctx, uid.size(), 4);
    append(ctx, as_bytes(uid));
    openpgp::write_packet(
        out, 2,
        signature(primary, primary_ed, 0x13, ctx, t, std::optional<std::uint8_t>(0x03), {}, rng_));
  }
  for (const auto& r : spec.revoked_user_ids) {
    openpgp::write_packet(out, 13, as_bytes(r.user_id));
    Bytes ctx = key_ctx;
    ctx.push_back(0xB4);
    append_be(ctx, r.user_id.size(), 4);
    append(ctx, as_bytes(r.user_id));
    if (r.certified) {
      openpgp::write_packet(out, 2,
                            signature(primary, primary_ed, 0x13, ctx, t,
                                      std::optional<std::uint8_t>(0x03), {}, rng_));
    }
    openpgp::write_packet(out, 2,
                          signature(primary, primary_ed, 0x30, ctx, t + 1, std::nullopt, {}, rng_));
  }
  if (spec.encryption_subkey) {
    auto s = random_seed();
    Key sub = encryption_key(v, spec.created, Bytes(s.begin(), s.end()));
    openpgp::write_packet(out, 14, sub.body);
    Bytes ctx = key_ctx;
    hash_key(ctx, sub);
    if (!spec.encryption_subkey_revoked || spec.encryption_subkey_revoked->bound) {
      openpgp::write_packet(out, 2, signature(primary, primary_ed, 0x18, ctx, t, 0x0C, {}, rng_));
    }
    if (spec.encryption_subkey_revoked) {
      openpgp::write_packet(
          out, 2, signature(primary, primary_ed, 0x28, ctx, t + 1, std::nullopt, {}, rng_));
    }
  }
  if (spec.signing_subkey_seed) {
    Ed25519Key sub_ed = ed25519(*spec.signing_subkey_seed);
    Key sub = signing_key(v, spec.created, sub_ed);
    openpgp::write_packet(out, 14, sub.body);
    Bytes ctx = key_ctx;
    hash_key(ctx, sub);
    Bytes back = signature(sub, sub_ed, 0x19, ctx, t, std::nullopt, {}, rng_);
    openpgp::write_packet(out, 2, signature(primary, primary_ed, 0x18, ctx, t, 0x02, back, rng_));
  }
  for (const auto& b : spec.bound_subkeys) {
    Key sub = b.encryption ? encryption_key(v, b.created, Bytes(b.seed.begin(), b.seed.end()))
                           : signing_key(v, b.created, ed25519(b.seed));
    openpgp::write_packet(out, 14, sub.body);
    Bytes ctx = key_ctx;
    hash_key(ctx, sub);
    openpgp::write_packet(
        out, 2,
        signature(primary, primary_ed, 0x18, ctx, std::max(t, b.created + 1), b.flags, {}, rng_));
  }
  return out;
}

// ---------------------------------------------------------------------------
// RealisticMix

namespace {

std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// SplitMix64: one independent stream per (seed, domain, index).
struct Stream {
  std::uint64_t state;
  Stream(std::uint64_t seed, std::uint64_t domain, std::uint64_t index)
      : state(mix64(mix64(seed ^ mix64(domain)) ^ index)) {}
  std::uint64_t next() {
    state += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  template <typename T, std::size_t N>
  const T& pick(const T (&a)[N]) {
    return a[below(N)];
  }
  std::array<std::uint8_t, 32> bytes32() {
    return bytes32_from([this] { return next(); });
  }
};

enum : std::uint64_t { kPlanStream = 1, kKeyStream = 2, kRsaStream = 3, kSignerStream = 4 };

// A deterministic RandomNumberGenerator for Crypto++'s RSA key generation.
class StreamRng : public CryptoPP::RandomNumberGenerator {
 public:
  explicit StreamRng(Stream s) : s_(s) {}
  void GenerateBlock(CryptoPP::byte* output, std::size_t size) override {
    for (std::size_t i = 0; i < size; ++i) {
      output[i] = static_cast<CryptoPP::byte>(s_.next());
    }
  }

 private:
  Stream s_;
};

constexpr std::uint32_t kRsaStart = 1104537600;               // 2005-01-01
constexpr std::uint32_t kEdStart = 1409529600;                // 2014-09-01
constexpr std::uint32_t kKeysEnd = 1767225600;                // 2026-01-01
constexpr std::uint32_t kLastSig = 1780272000;                // 2026-06-01
constexpr std::uint64_t kSlots = (kKeysEnd - kRsaStart) / 4;  // 165,672,000 < 2^28
constexpr std::size_t kSigners = 16;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

void check(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("cert generator: OpenSSL ") + what + " failed");
  }
}

// A v4 key packet with what signs for it (nullptr for an encryption-only key).
struct MixKey {
  Key packet;
  std::uint8_t algo = 0;
  EVP_PKEY* pkey = nullptr;
};

struct RsaMaterial {
  Bytes n;
  Bytes e;
  Pkey pkey;
};

Bytes integer_bytes(const CryptoPP::Integer& i) {
  Bytes b(i.MinEncodedSize());
  i.Encode(b.data(), b.size());
  return b;
}

// An OpenSSL key of (n, e, d) and the CRT values of `primes` (two or more:
// RFC 8017's multi-prime form beyond two), so that OpenSSL signs with the CRT.
Pkey openssl_rsa(const std::vector<CryptoPP::Integer>& primes, const CryptoPP::Integer& e) {
  CryptoPP::Integer n = CryptoPP::Integer::One();
  CryptoPP::Integer lambda = CryptoPP::Integer::One();
  for (const auto& p : primes) {
    n *= p;
    const CryptoPP::Integer pm1 = p - 1;
    lambda = lambda / CryptoPP::Integer::Gcd(lambda, pm1) * pm1;
  }
  const CryptoPP::Integer d = e.InverseMod(lambda);
  std::vector<std::pair<std::string, CryptoPP::Integer>> parts = {
      {OSSL_PKEY_PARAM_RSA_N, n}, {OSSL_PKEY_PARAM_RSA_E, e}, {OSSL_PKEY_PARAM_RSA_D, d}};
  CryptoPP::Integer before = primes[0];  // the product of the primes before the next
  for (std::size_t i = 0; i < primes.size(); ++i) {
    const std::string num = std::to_string(i + 1);
    parts.emplace_back(std::string("rsa-factor") + num, primes[i]);
    parts.emplace_back(std::string("rsa-exponent") + num, d % (primes[i] - 1));
    if (i > 0) {
      // RFC 8017 §3.2: the coefficient of prime i is (r_1 ... r_(i-1))^-1
      // mod r_i, except the first, q^-1 mod p (OpenSSL's coefficient1).
      parts.emplace_back(std::string("rsa-coefficient") + std::to_string(i),
                         i == 1 ? primes[1].InverseMod(primes[0]) : before.InverseMod(primes[i]));
      before *= primes[i];
    }
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::vector<BIGNUM*> bns;
  for (const auto& [name, value] : parts) {
    Bytes b = integer_bytes(value);
    bns.push_back(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr));
    check(bns.back() && OSSL_PARAM_BLD_push_BN(bld, name.c_str(), bns.back()), "RSA parameter");
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* pkey = nullptr;
  check(ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) == 1,
        "RSA key import");
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  for (BIGNUM* bn : bns) {
    BN_free(bn);
  }
  return Pkey(pkey);
}

// `count` primes of bits/count bits each, their product exactly `bits` bits
// (each prime at least 0.85 * 2^(bits/count): 0.85^4 > 1/2), p - 1 prime to
// 65537, deterministically from the stream.
std::vector<CryptoPP::Integer> multi_primes(Stream s, unsigned bits, unsigned count) {
  StreamRng rng(s);
  const unsigned b = bits / count;
  const CryptoPP::Integer e(65537);
  const CryptoPP::Integer lo = CryptoPP::Integer::Power2(b) / 20 * 17;
  const CryptoPP::Integer hi = CryptoPP::Integer::Power2(b) - 1;
  std::vector<CryptoPP::Integer> primes;
  while (primes.size() < count) {
    CryptoPP::Integer p(rng, lo, hi, CryptoPP::Integer::PRIME);
    if (CryptoPP::Integer::Gcd(p - 1, e) == 1 &&
        std::find(primes.begin(), primes.end(), p) == primes.end()) {
      primes.push_back(p);
    }
  }
  return primes;
}

RsaMaterial make_rsa(std::uint64_t seed, unsigned bits, std::size_t k, unsigned primes,
                     const std::string& cache) {
  if (primes > 2) {
    const std::string file = cache.empty() ? std::string()
                                           : cache + "/rsa-" + std::to_string(seed) + "-" +
                                                 std::to_string(bits) + "-" + std::to_string(k) +
                                                 "-p" + std::to_string(primes) + ".der";
    std::vector<CryptoPP::Integer> ps(primes);
    bool loaded = false;
    if (!file.empty() && std::filesystem::exists(file)) {
      try {
        CryptoPP::FileSource in(file.c_str(), true);
        CryptoPP::BERSequenceDecoder seq(in);
        for (auto& p : ps) {
          p.BERDecode(seq);
        }
        seq.MessageEnd();
        CryptoPP::Integer n = CryptoPP::Integer::One();
        for (const auto& p : ps) {
          n *= p;
        }
        loaded = n.BitCount() == bits;
      } catch (const CryptoPP::Exception&) {
        loaded = false;
      }
    }
    if (!loaded) {
      ps = multi_primes(Stream(seed, kRsaStream, bits * 1000003ULL + k + (1ULL << 40) * primes),
                        bits, primes);
      if (!file.empty()) {
        std::filesystem::create_directories(cache);
        const std::string tmp = file + ".tmp" + std::to_string(::getpid());
        {
          CryptoPP::FileSink out(tmp.c_str(), true);
          CryptoPP::DERSequenceEncoder seq(out);
          for (const auto& p : ps) {
            p.DEREncode(seq);
          }
          seq.MessageEnd();
        }
        std::filesystem::rename(tmp, file);
      }
    }
    CryptoPP::Integer n = CryptoPP::Integer::One();
    for (const auto& p : ps) {
      n *= p;
    }
    const CryptoPP::Integer e(65537);
    return RsaMaterial{integer_bytes(n), integer_bytes(e), openssl_rsa(ps, e)};
  }

  CryptoPP::InvertibleRSAFunction f;
  const std::string file = cache.empty()
                               ? std::string()
                               : cache + "/rsa-" + std::to_string(seed) + "-" +
                                     std::to_string(bits) + "-" + std::to_string(k) + ".der";
  bool loaded = false;
  if (!file.empty() && std::filesystem::exists(file)) {
    try {
      CryptoPP::FileSource in(file.c_str(), true);
      f.BERDecode(in);
      loaded = f.GetModulus().BitCount() == bits && f.GetPublicExponent() == 65537;
    } catch (const CryptoPP::Exception&) {
      loaded = false;
    }
  }
  if (!loaded) {
    StreamRng rng(Stream(seed, kRsaStream, bits * 1000003ULL + k));
    f.Initialize(rng, bits, CryptoPP::Integer(65537));
    if (!file.empty()) {
      std::filesystem::create_directories(cache);
      const std::string tmp = file + ".tmp" + std::to_string(::getpid());
      {
        CryptoPP::FileSink out(tmp.c_str(), true);
        f.DEREncode(out);
      }
      std::filesystem::rename(tmp, file);
    }
  }
  return RsaMaterial{integer_bytes(f.GetModulus()), integer_bytes(f.GetPublicExponent()),
                     openssl_rsa({f.GetPrime1(), f.GetPrime2()}, f.GetPublicExponent())};
}

Pkey ed25519_pkey(const std::array<std::uint8_t, 32>& seed, Bytes& pub) {
  Pkey k(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), 32));
  pub.resize(32);
  std::size_t len = 32;
  check(k && EVP_PKEY_get_raw_public_key(k.get(), pub.data(), &len) == 1, "Ed25519 key");
  return k;
}

Key ed25519_packet(std::uint32_t created, const Bytes& pub) {
  Bytes m{static_cast<std::uint8_t>(kEd25519Oid.size())};
  append(m, kEd25519Oid);
  Bytes point{0x40};
  append(point, pub);
  mpi(m, point);
  return key_packet(4, created, 22, m);
}

Key rsa_packet(std::uint32_t created, const RsaMaterial& r) {
  Bytes m;
  mpi(m, r.n);
  mpi(m, r.e);
  return key_packet(4, created, 1, m);
}

Bytes raw_sign(const MixKey& k, const std::uint8_t* digest) {
  Bytes out;
  std::size_t len = 0;
  if (k.algo == 1) {
    EVP_PKEY_CTX* c = EVP_PKEY_CTX_new_from_pkey(nullptr, k.pkey, nullptr);
    check(c && EVP_PKEY_sign_init(c) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
              EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
              EVP_PKEY_sign(c, nullptr, &len, digest, 32) == 1,
          "RSA sign init");
    out.resize(len);
    check(EVP_PKEY_sign(c, out.data(), &len, digest, 32) == 1, "RSA sign");
    EVP_PKEY_CTX_free(c);
  } else {
    EVP_MD_CTX* m = EVP_MD_CTX_new();
    out.resize(64);
    len = 64;
    check(m && EVP_DigestSignInit(m, nullptr, nullptr, nullptr, k.pkey) == 1 &&
              EVP_DigestSign(m, out.data(), &len, digest, 32) == 1,
          "Ed25519 sign");
    EVP_MD_CTX_free(m);
  }
  out.resize(len);
  return out;
}

void sp_time(Bytes& area, std::uint8_t type, std::uint32_t t) {
  Bytes b;
  append_be(b, t, 4);
  subpacket(area, type, b);
}

void sp_issuer(Bytes& area, const MixKey& k) {
  Bytes b{4};
  append(b, k.packet.fingerprint);
  subpacket(area, 33, b);
}

// A v4 signature by `k` of `type` over `context`, SHA-256, with the hashed
// subpackets `hashed` (the issuer key ID goes in the unhashed area, as gpg
// does).
Bytes signature4(const MixKey& k, std::uint8_t type, const Bytes& context, const Bytes& hashed) {
  Bytes body{4, type, k.algo, 8};
  append_be(body, hashed.size(), 2);
  append(body, hashed);
  const std::size_t hashed_len = body.size();
  Bytes data = context;
  append(data, body);
  data.push_back(4);
  data.push_back(0xFF);
  append_be(data, hashed_len, 4);
  std::uint8_t digest[32];
  SHA256(data.data(), data.size(), digest);
  Bytes unhashed;
  subpacket(unhashed, 16, ByteView(k.packet.fingerprint).subspan(12));
  append_be(body, unhashed.size(), 2);
  append(body, unhashed);
  body.push_back(digest[0]);
  body.push_back(digest[1]);
  Bytes sig = raw_sign(k, digest);
  if (k.algo == 1) {
    mpi(body, sig);
  } else {
    mpi(body, ByteView(sig).first(32));
    mpi(body, ByteView(sig).subspan(32));
  }
  return body;
}

// gpg's self-signature subpackets; `old` gives the preferences of an older
// gpg (for a superseded self-signature).
Bytes self_sig_area(const MixKey& k, std::uint32_t t, bool primary_uid, bool old) {
  Bytes a;
  sp_issuer(a, k);
  sp_time(a, 2, t);
  subpacket(a, 27, Bytes{0x03});
  if (old) {
    subpacket(a, 11, Bytes{9, 8, 7, 3, 2});
    subpacket(a, 21, Bytes{8, 2, 9, 10, 11});
    subpacket(a, 22, Bytes{2, 3, 1});
  } else {
    subpacket(a, 11, Bytes{9, 8, 7, 2});
    subpacket(a, 21, Bytes{10, 9, 8, 11, 2});
    subpacket(a, 22, Bytes{2, 3, 1});
    subpacket(a, 30, Bytes{0x01});
  }
  subpacket(a, 23, Bytes{0x80});
  if (primary_uid) {
    subpacket(a, 25, Bytes{0x01});
  }
  return a;
}

const char* const kFirstNames[] = {
    "Alice",    "Bob",    "Carol",  "David",   "Emma",  "Frank",    "Grace",  "Hannah",  "Ivan",
    "Julia",    "Klaus",  "Laura",  "Michael", "Nina",  "Oliver",   "Paula",  "Quentin", "Rosa",
    "Stefan",   "Tanja",  "Ulrich", "Vera",    "Wei",   "Xavier",   "Yuki",   "Zoë",     "José",
    "François", "Łukasz", "Søren",  "Björn",   "Ana",   "Mohammed", "Fatima", "Raj",     "Priya",
    "Hiroshi",  "Mei",    "Olga",   "Dmitri",  "Chen",  "Kwame",    "Amara",  "Lars",    "Ingrid",
    "Pedro",    "Lucía",  "Giulia", "Matteo",  "Sven",  "Jan",      "Petra",  "Tomáš",   "Ömer",
    "Ayşe",     "Daniel", "Sarah",  "James",   "Maria", "Thomas"};
const char* const kLastNames[] = {
    "Smith",    "Müller",   "García",   "Rossi",     "Nowak",     "Dubois",   "Jensen",
    "Novak",    "Silva",    "Kowalski", "Tanaka",    "Olsen",     "Schmidt",  "Johnson",
    "Brown",    "Martin",   "Bernard",  "Fischer",   "Weber",     "Meyer",    "Wagner",
    "Becker",   "Hoffmann", "López",    "Fernández", "Bianchi",   "Ricci",    "Kim",
    "Lee",      "Wang",     "Li",       "Zhang",     "Sato",      "Suzuki",   "Ivanov",
    "Petrov",   "Nielsen",  "Hansen",   "Andersson", "Johansson", "Virtanen", "Korhonen",
    "de Vries", "van Dijk", "Janssens", "O'Brien",   "Murphy",    "Walsh",    "Patel",
    "Singh",    "Kumar",    "Nguyen",   "Yılmaz",    "Kaya",      "Horvath",  "Nagy",
    "Dvořák",   "Popescu",  "Costa",    "Santos"};
// Personal mail domains, weighted by repetition.
const char* const kPersonalDomains[] = {
    "gmail.com",      "gmail.com",  "gmail.com",    "gmail.com",      "gmail.com",
    "googlemail.com", "yahoo.com",  "hotmail.com",  "outlook.com",    "gmx.de",
    "gmx.net",        "web.de",     "posteo.de",    "mailbox.org",    "protonmail.com",
    "proton.me",      "riseup.net", "fastmail.com", "icloud.com",     "aol.com",
    "free.fr",        "orange.fr",  "libero.it",    "yandex.ru",      "mail.ru",
    "qq.com",         "163.com",    "t-online.de",  "btinternet.com", "tutanota.com"};
// Work, project and university domains.
const char* const kOtherDomains[] = {"debian.org",
                                     "kernel.org",
                                     "apache.org",
                                     "mozilla.com",
                                     "redhat.com",
                                     "suse.de",
                                     "ubuntu.com",
                                     "gnu.org",
                                     "fsfe.org",
                                     "torproject.org",
                                     "example.com",
                                     "example.net",
                                     "acme-corp.com",
                                     "initech.example",
                                     "globex.example",
                                     "mit.edu",
                                     "stanford.edu",
                                     "ox.ac.uk",
                                     "cam.ac.uk",
                                     "ethz.ch",
                                     "tum.de",
                                     "uni-heidelberg.de",
                                     "inria.fr",
                                     "uva.nl",
                                     "kth.se",
                                     "users.sourceforge.net",
                                     "github.io",
                                     "cs.example.edu",
                                     "lists.example.org",
                                     "company.example"};
const char* const kComments[] = {"work",   "personal", "code signing", "old key",
                                 "Debian", "laptop",   "home"};

// An ASCII local part from the name (non-ASCII letters are dropped, as many
// people do), with the certificate's index: every address is unique.
std::string local_part(Stream& r, const std::string& first, const std::string& last,
                       std::uint64_t index) {
  // Latin letters with diacritics (two-byte UTF-8) as their base letter.
  static const std::pair<const char*, char> kFold[] = {
      {"ü", 'u'}, {"ö", 'o'}, {"ä", 'a'}, {"é", 'e'}, {"è", 'e'}, {"ë", 'e'},
      {"ç", 'c'}, {"á", 'a'}, {"í", 'i'}, {"ó", 'o'}, {"ú", 'u'}, {"ñ", 'n'},
      {"ø", 'o'}, {"å", 'a'}, {"š", 's'}, {"ř", 'r'}, {"ý", 'y'}, {"ı", 'i'},
      {"ş", 's'}, {"ł", 'l'}, {"Ł", 'l'}, {"Ö", 'o'}, {"Å", 'a'}, {"Ø", 'o'}};
  auto ascii = [](const std::string& s) {
    std::string o;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        if (std::isalpha(c)) {
          o += static_cast<char>(std::tolower(c));
        }
        continue;
      }
      for (const auto& [utf8, base] : kFold) {
        if (s.compare(i, 2, utf8) == 0) {
          o += base;
          break;
        }
      }
      ++i;  // every letter of the name lists is two bytes long
    }
    return o.empty() ? std::string("x") : o;
  };
  const std::string f = ascii(first);
  const std::string l = ascii(last);
  std::string base;
  switch (r.below(6)) {
    case 0:
      base = f + "." + l;
      break;
    case 1:
      base = f.substr(0, 1) + l;
      break;
    case 2:
      base = f + l;
      break;
    case 3:
      base = f;
      break;
    case 4:
      base = f + "_" + l;
      break;
    default:
      base = f.substr(0, 1) + "." + l;
      break;
  }
  return base + std::to_string(index);
}

}  // namespace

struct RealisticMix::Impl {
  std::uint64_t seed;
  MixOptions options;
  std::array<std::uint64_t, 4> feistel{};
  struct Slot {
    std::once_flag once;
    RsaMaterial key;
  };
  // RSA-2048, RSA-3072, RSA-4096 pools, filled on first use.
  std::array<std::vector<Slot>, 3> pools;
  std::vector<MixKey> signers;
  std::vector<Pkey> signer_keys;
  std::atomic<std::uint64_t> pool_keys{0};
  std::atomic<std::uint64_t> pool_ns{0};

  const RsaMaterial& rsa(int size, std::size_t k) {
    static constexpr unsigned kBits[] = {2048, 3072, 4096};
    Slot& s = pools[static_cast<std::size_t>(size)][k];
    std::call_once(s.once, [&] {
      const auto start = std::chrono::steady_clock::now();
      // Multi-prime where OpenSSL signs faster with it: RSA-2048 keeps two
      // primes (OpenSSL's two-prime 2048-bit path is the fastest).
      static constexpr unsigned kPrimes[] = {2, 3, 4};
      s.key = make_rsa(seed, kBits[size], k, options.rsa_multi_prime ? kPrimes[size] : 2,
                       options.rsa_cache);
      pool_keys += 1;
      pool_ns += static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                std::chrono::steady_clock::now() - start)
                                                .count());
    });
    return s.key;
  }

  // A permutation of [0, kSlots): a 4-round Feistel network on 28 bits,
  // cycle-walked.
  std::uint64_t slot(std::uint64_t index) const {
    std::uint64_t x = index % kSlots;
    do {
      std::uint64_t left = x >> 14;
      std::uint64_t right = x & 0x3FFF;
      for (std::uint64_t key : feistel) {
        std::uint64_t f = mix64(key ^ right) & 0x3FFF;
        std::uint64_t next = left ^ f;
        left = right;
        right = next;
      }
      x = (left << 14) | right;
    } while (x >= kSlots);
    return x;
  }
};

RealisticMix::RealisticMix(std::uint64_t seed, MixOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->seed = seed;
  impl_->options = options;
  impl_->options.rsa_pool = std::max<std::size_t>(1, options.rsa_pool);
  Stream r(seed, kSignerStream, 0);
  for (auto& k : impl_->feistel) {
    k = r.next();
  }
  for (auto& pool : impl_->pools) {
    pool = std::vector<Impl::Slot>(impl_->options.rsa_pool);
  }
  for (std::size_t i = 0; i < kSigners; ++i) {
    Bytes pub;
    impl_->signer_keys.push_back(ed25519_pkey(r.bytes32(), pub));
    std::uint32_t created = 1230768000 + static_cast<std::uint32_t>(i) * 86400 * 7;  // 2009
    impl_->signers.push_back(
        MixKey{ed25519_packet(created, pub), 22, impl_->signer_keys.back().get()});
  }
}

RealisticMix::~RealisticMix() = default;

RealisticMix::PoolStats RealisticMix::pool_stats() const {
  return PoolStats{static_cast<std::size_t>(impl_->pool_keys.load()),
                   static_cast<double>(impl_->pool_ns.load()) / 1e9};
}

MixPlan RealisticMix::plan(std::uint64_t index) const {
  Stream r(impl_->seed, kPlanStream, index);
  MixPlan p;
  const std::uint64_t k = r.below(1000);
  p.kind = k < 600   ? MixKind::Ed25519
           : k < 900 ? MixKind::Rsa2048
           : k < 980 ? MixKind::Rsa3072
                     : MixKind::Rsa4096;
  p.created = p.kind == MixKind::Ed25519
                  ? kEdStart + static_cast<std::uint32_t>(r.below(kKeysEnd - kEdStart))
                  : kRsaStart + 4 * static_cast<std::uint32_t>(impl_->slot(index));
  const std::uint64_t how_many = r.below(100);
  const int uids = how_many < 65 ? 1 : how_many < 90 ? 2 : 3;
  const std::string first = r.pick(kFirstNames);
  const std::string last = r.pick(kLastNames);
  for (int n = 0; n < uids; ++n) {
    std::string name = first + " " + last;
    if (r.below(100) < 8) {
      name += std::string(" (") + r.pick(kComments) + ")";
    }
    std::string uid = name;
    if (r.below(100) >= (n == 0 ? 4 : 10)) {
      const char* domain =
          n == 0 || r.below(2) == 0 ? r.pick(kPersonalDomains) : r.pick(kOtherDomains);
      uid = name + " <" + local_part(r, first, last, index) + "@" + domain + ">";
    }
    // The user IDs of a certificate are distinct, and so are their addresses.
    auto address = [](const std::string& u) {
      auto at = u.find('<');
      return at == std::string::npos ? u : u.substr(at);
    };
    while (std::any_of(p.user_ids.begin(), p.user_ids.end(),
                       [&](const std::string& u) { return address(u) == address(uid); })) {
      uid = name + " <" + local_part(r, first, last, index) + "@" + r.pick(kOtherDomains) + ">";
    }
    p.user_ids.push_back(uid);
  }
  p.signing_subkey = r.below(100) < 20;
  p.superseded = r.below(100) < 5;
  if (r.below(100) < 25) {
    p.third_party = 1 + r.below(10);
    p.third_party_user_id = r.below(p.user_ids.size());
  }
  return p;
}

Bytes RealisticMix::make(std::uint64_t index) const {
  const MixPlan p = plan(index);
  Stream r(impl_->seed, kKeyStream, index);
  const bool rsa = p.kind != MixKind::Ed25519;
  const int size = static_cast<int>(p.kind) - 1;
  const std::size_t pool = impl_->options.rsa_pool;
  Pkey primary_ed;
  Pkey signing_ed;
  MixKey primary;
  MixKey enc;
  MixKey signing;
  if (rsa) {
    // The subkeys at the next seconds of the primary's slot: with the pool
    // shared, (modulus, creation time) still differs for every key.
    const RsaMaterial& pk = impl_->rsa(size, r.below(pool));
    primary = MixKey{rsa_packet(p.created, pk), 1, pk.pkey.get()};
    const RsaMaterial& ek = impl_->rsa(size, r.below(pool));
    enc = MixKey{rsa_packet(p.created + 1, ek), 1, nullptr};
    if (p.signing_subkey) {
      const RsaMaterial& sk = impl_->rsa(size, r.below(pool));
      signing = MixKey{rsa_packet(p.created + 2, sk), 1, sk.pkey.get()};
    }
  } else {
    Bytes pub;
    primary_ed = ed25519_pkey(r.bytes32(), pub);
    primary = MixKey{ed25519_packet(p.created, pub), 22, primary_ed.get()};
    auto point = r.bytes32();
    enc = MixKey{encryption_key(4, p.created, Bytes(point.begin(), point.end())), 18, nullptr};
    if (p.signing_subkey) {
      signing_ed = ed25519_pkey(r.bytes32(), pub);
      signing = MixKey{ed25519_packet(p.created, pub), 22, signing_ed.get()};
    }
  }
  const std::uint32_t t = p.created + 3;  // the self-signatures
  Bytes out;
  out.reserve(rsa ? 2048 : 1024);
  openpgp::write_packet(out, 6, primary.packet.body);
  Bytes key_ctx;
  hash_key(key_ctx, primary.packet);
  for (std::size_t n = 0; n < p.user_ids.size(); ++n) {
    const auto& uid = p.user_ids[n];
    openpgp::write_packet(out, 13, as_bytes(uid));
    Bytes ctx = key_ctx;
    ctx.push_back(0xB4);
    append_be(ctx, uid.size(), 4);
    append(ctx, as_bytes(uid));
    std::uint32_t self_time = t;
    if (n == 0 && p.superseded) {
      openpgp::write_packet(out, 2,
                            signature4(primary, 0x13, ctx, self_sig_area(primary, t, true, true)));
      self_time = t + 1 + static_cast<std::uint32_t>(r.below(kLastSig - t - 1));
    }
    openpgp::write_packet(
        out, 2, signature4(primary, 0x13, ctx, self_sig_area(primary, self_time, n == 0, false)));
    if (p.third_party && n == p.third_party_user_id) {
      // Distinct signers: a partial Fisher-Yates shuffle of the pool.
      std::array<std::size_t, kSigners> order{};
      std::iota(order.begin(), order.end(), 0);
      for (std::size_t j = 0; j < p.third_party; ++j) {
        std::swap(order[j], order[j + r.below(kSigners - j)]);
        const MixKey& signer = impl_->signers[order[j]];
        Bytes a;
        sp_issuer(a, signer);
        sp_time(a, 2, t + 1 + static_cast<std::uint32_t>(r.below(kLastSig - t - 1)));
        openpgp::write_packet(out, 2, signature4(signer, 0x10, ctx, a));
      }
    }
  }
  auto bind = [&](const MixKey& sub, std::uint8_t flags) {
    openpgp::write_packet(out, 14, sub.packet.body);
    Bytes ctx = key_ctx;
    hash_key(ctx, sub.packet);
    Bytes a;
    sp_issuer(a, primary);
    sp_time(a, 2, t);
    subpacket(a, 27, Bytes{flags});
    if (flags & 0x02) {  // signing: the subkey's back-signature, embedded
      Bytes b;
      sp_issuer(b, sub);
      sp_time(b, 2, t);
      Bytes back = signature4(sub, 0x19, ctx, b);
      a.push_back(255);
      append_be(a, back.size() + 1, 4);
      a.push_back(32);
      append(a, back);
    }
    openpgp::write_packet(out, 2, signature4(primary, 0x18, ctx, a));
  };
  bind(enc, 0x0C);
  if (p.signing_subkey) {
    bind(signing, 0x02);
  }
  return out;
}

}  // namespace keydir::test
