#include "cert_generator.hpp"

#include <cryptopp/osrng.h>
#include <cryptopp/sha.h>
#include <cryptopp/xed25519.h>
#include <algorithm>

#include "openpgp/packet_reader.hpp"

namespace keydir::test {

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
  std::array<std::uint8_t, 32> s{};
  for (std::size_t i = 0; i < 32; i += 8) {
    std::uint64_t r = rng_();
    for (std::size_t j = 0; j < 8; ++j) {
      s[i + j] = static_cast<std::uint8_t>(r >> (8 * j));
    }
  }
  return s;
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

}  // namespace keydir::test
