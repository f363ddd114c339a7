#include "tlog/entry.hpp"

#include <algorithm>

#include "openpgp/crypto/primitives.hpp"

namespace keydir::tlog {

namespace {
constexpr std::string_view kHmacLabel = "keydir address commitment v1\n";
constexpr std::string_view kFingerprintLabel = "keydir fingerprint v1\n";

tl::unexpected<Error> bad(std::string what) {
  return fail(ErrorCode::AnswerDidNotVerify, "a malformed log entry: " + std::move(what));
}

void put_be(Bytes& out, std::uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
}

std::size_t fpr_length(std::uint8_t version) {
  return version == 4 ? 20 : version == 6 ? 32 : 0;
}
}  // namespace

Result<Bytes> CommitmentScheme::commit(std::string_view address) const {
  const ByteView addr(reinterpret_cast<const std::uint8_t*>(address.data()), address.size());
  switch (kind) {
    case Kind::HmacSha256: {
      Bytes msg(kHmacLabel.begin(), kHmacLabel.end());
      msg.insert(msg.end(), addr.begin(), addr.end());
      return openpgp::crypto::hmac_sha256(salt, msg);
    }
    case Kind::Scrypt:
      return openpgp::crypto::scrypt(addr, salt, log2n, r, p, kCommitmentBytes);
  }
  return fail(ErrorCode::Internal, "an unknown commitment scheme");
}

Bytes CommitmentScheme::entry_fingerprint(std::uint8_t key_version, ByteView fingerprint) const {
  if (kind != Kind::Scrypt) {
    return Bytes(fingerprint.begin(), fingerprint.end());
  }
  Bytes msg(kFingerprintLabel.begin(), kFingerprintLabel.end());
  msg.push_back(key_version);
  msg.insert(msg.end(), fingerprint.begin(), fingerprint.end());
  Bytes mac = openpgp::crypto::hmac_sha256(salt, msg);
  mac.resize(std::min(mac.size(), fingerprint.size()));
  return mac;
}

Bytes Entry::encode() const {
  Bytes out;
  out.reserve(64 + commitments.size() * kCommitmentBytes);
  out.push_back(kEntryFormat);
  out.push_back(static_cast<std::uint8_t>(kind));
  put_be(out, seq, 8);
  put_be(out, time, 8);
  switch (kind) {
    case Kind::Header:
      out.push_back(static_cast<std::uint8_t>(scheme.kind));
      out.push_back(scheme.log2n);
      out.push_back(scheme.r);
      out.push_back(scheme.p);
      out.insert(out.end(), scheme.salt.begin(), scheme.salt.end());
      break;
    case Kind::Certificate:
      out.push_back(key_version);
      out.insert(out.end(), fingerprint.begin(), fingerprint.end());
      out.insert(out.end(), digest.begin(), digest.end());
      put_be(out, commitments.size(), 2);
      for (const auto& c : commitments) {
        out.insert(out.end(), c.begin(), c.end());
      }
      break;
    case Kind::Deleted:
      out.push_back(key_version);
      out.insert(out.end(), fingerprint.begin(), fingerprint.end());
      break;
  }
  return out;
}

Result<Entry> Entry::decode(ByteView in) {
  if (in.size() > kMaxEntryBytes) {
    return bad("larger than 65535 octets");
  }
  std::size_t pos = 0;
  auto need = [&](std::size_t n) { return in.size() - pos >= n; };
  auto be = [&](int width) {
    std::uint64_t v = 0;
    for (int i = 0; i < width; ++i) {
      v = v << 8 | in[pos++];
    }
    return v;
  };
  auto take = [&](std::size_t n) {
    Bytes b(in.begin() + static_cast<std::ptrdiff_t>(pos),
            in.begin() + static_cast<std::ptrdiff_t>(pos + n));
    pos += n;
    return b;
  };
  if (!need(18)) {
    return bad("too short");
  }
  if (in[pos++] != kEntryFormat) {
    return bad("an unknown format");
  }
  Entry e;
  const std::uint8_t kind = in[pos++];
  if (kind > 2) {
    return bad("an unknown kind");
  }
  e.kind = static_cast<Kind>(kind);
  e.seq = be(8);
  e.time = be(8);
  if (e.kind == Kind::Header) {
    if (!need(4 + kSaltBytes)) {
      return bad("a short header");
    }
    const std::uint8_t k = in[pos++];
    if (k != 1 && k != 2) {
      return bad("an unknown commitment scheme");
    }
    e.scheme.kind = static_cast<CommitmentScheme::Kind>(k);
    e.scheme.log2n = in[pos++];
    e.scheme.r = in[pos++];
    e.scheme.p = in[pos++];
    e.scheme.salt = take(kSaltBytes);
  } else {
    if (!need(1)) {
      return bad("no fingerprint");
    }
    e.key_version = in[pos++];
    const std::size_t flen = fpr_length(e.key_version);
    if (flen == 0 || !need(flen)) {
      return bad("a fingerprint of an unknown key version or length");
    }
    e.fingerprint = take(flen);
    if (e.kind == Kind::Certificate) {
      if (!need(32 + 2)) {
        return bad("no digest");
      }
      e.digest = take(32);
      const std::size_t count = be(2);
      if (!need(count * kCommitmentBytes)) {
        return bad("fewer commitments than it counts");
      }
      for (std::size_t i = 0; i < count; ++i) {
        e.commitments.push_back(take(kCommitmentBytes));
        if (i > 0 && !(e.commitments[i - 1] < e.commitments[i])) {
          return bad("commitments out of order or repeated");
        }
      }
    }
  }
  if (pos != in.size()) {
    return bad("trailing octets");
  }
  return e;
}

std::string vfpr_hex(std::uint8_t key_version, ByteView fingerprint) {
  static const char* const kHex = "0123456789abcdef";
  std::string out = key_version == 6 ? "06" : "04";
  for (auto b : fingerprint) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

}  // namespace keydir::tlog
