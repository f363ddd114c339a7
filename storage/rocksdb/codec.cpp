#include "storage/rocksdb/codec.hpp"

#include <algorithm>

#include "common/byte_reader.hpp"

namespace keydir::storage::rocks {

const char* const kCfNames[kCfCount] = {
    "default", "certs",     "by_fpr",     "by_keyid", "by_short", "by_email",   "by_wkd", "by_word",
    "by_sks",  "changelog", "tombstones", "meta",     "verify",   "recon_tree", "audit",  "tlog"};

std::string alias_prefix(std::string_view peer) {
  std::string k = "recon-alias.";
  k.append(peer);
  k.push_back('\0');
  return k;
}

std::string published_key(const Fingerprint& f, std::string_view email) {
  return "p" + fpr_key(f) + std::string(email);
}

std::string token_key(ByteView hash) {
  return "t" + std::string(as_chars(hash));
}

// kind | flags, fingerprint length, fingerprint key, created, expires,
// [used_at when kTokenUsed is set], address. Records written before used
// links were kept have no flag and decode as unused.
std::string encode_token(const VerifyToken& t) {
  const bool used = t.used_at != 0;
  std::string v(1, static_cast<char>(static_cast<std::uint8_t>(t.kind) | (used ? kTokenUsed : 0)));
  std::string f = fpr_key(t.fingerprint);
  v.push_back(static_cast<char>(f.size()));
  v += f;
  auto put = [&](std::uint64_t x) {
    for (int i = 7; i >= 0; --i) {
      v.push_back(static_cast<char>(x >> (8 * i)));
    }
  };
  put(t.created);
  put(t.expires);
  if (used) {
    put(t.used_at);
  }
  v += t.email;
  return v;
}

std::optional<Fingerprint> fpr_from(std::string_view k) {
  if (k.size() == 21 && k[0] == 4) {
    return Fingerprint(Fingerprint::Version::V4, as_bytes(k.substr(1)));
  }
  if (k.size() == 33 && k[0] == 6) {
    return Fingerprint(Fingerprint::Version::V6, as_bytes(k.substr(1)));
  }
  return std::nullopt;
}

std::optional<VerifyToken> decode_token(std::string_view v) {
  if (v.size() < 2) {
    return std::nullopt;
  }
  VerifyToken t;
  const auto first = static_cast<std::uint8_t>(v[0]);
  const bool used = (first & kTokenUsed) != 0;
  const auto kind = static_cast<std::uint8_t>(first & ~kTokenUsed);
  if (kind != 1 && kind != 2) {
    return std::nullopt;
  }
  t.kind = static_cast<VerifyToken::Kind>(kind);
  auto flen = static_cast<std::uint8_t>(v[1]);
  if (v.size() < 2u + flen + (used ? 24u : 16u)) {
    return std::nullopt;
  }
  auto fpr = fpr_from(v.substr(2, flen));
  if (!fpr) {
    return std::nullopt;
  }
  t.fingerprint = *fpr;
  std::size_t at = 2u + flen;
  std::vector<std::uint64_t*> fields{&t.created, &t.expires};
  if (used) {
    fields.push_back(&t.used_at);
  }
  for (std::uint64_t* x : fields) {
    for (int i = 0; i < 8; ++i) {
      *x = *x << 8 | static_cast<std::uint8_t>(v[at++]);
    }
  }
  if (used && t.used_at == 0) {
    return std::nullopt;  // the flag says used: a time must go with it
  }
  t.email = std::string(v.substr(at));
  return t;
}

std::string sep_key(std::string_view a, const std::string& fpr) {
  std::string k(a);
  k.push_back('\0');
  k += fpr;
  return k;
}

std::string wkd_prefix(const WkdHash& w) {
  return index_keys::wkd_key(w);
}

std::vector<Entry> entries_of(const IndexSet& idx, const Fingerprint& primary) {
  std::vector<Entry> out;
  std::string p = fpr_key(primary);
  // Several certificates may claim one fingerprint (a primary key bound as
  // another's subkey): a set, resolved at lookup.
  index_keys::for_each_key(idx, [&](index_keys::Index ix, std::string key) {
    const Cf cf = cf_of(ix);
    if (ix == index_keys::kWord) {
      out.push_back({cf, sep_key(key, p), {}, Kind::Scan});
    } else if (ix == index_keys::kSks) {
      out.push_back({cf, std::move(key), p, Kind::Unique});
    } else {
      out.push_back({cf, std::move(key), p, Kind::Set});
    }
  });
  return out;
}

std::string encode_change(const Fingerprint& f, ByteView digest,
                          std::optional<std::uint64_t> log_index) {
  std::string v = fpr_key(f);
  v.append(as_chars(digest));
  if (log_index) {
    v += be(*log_index, 8);
  }
  return v;
}

std::optional<ChangeRecord> decode_change(std::string_view v) {
  const std::size_t flen = (!v.empty() && v[0] == 6) ? 33 : 21;
  auto fpr = fpr_from(v.substr(0, std::min(flen, v.size())));
  if (!fpr || v.size() < flen) {
    return std::nullopt;
  }
  ChangeRecord c{*fpr, v.substr(flen), std::nullopt};
  if (c.digest.size() == 32 + 8) {
    std::uint64_t i = 0;
    for (char ch : c.digest.substr(32)) {
      i = i << 8 | static_cast<std::uint8_t>(ch);
    }
    c.log_index = i;
    c.digest = c.digest.substr(0, 32);
  } else if (!c.digest.empty() && c.digest.size() != 32) {
    return std::nullopt;
  }
  return c;
}

std::vector<std::string> decode_set(std::string_view v) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < v.size()) {
    std::size_t len = v[i] == 6 ? 33 : v[i] == 4 ? 21 : 0;
    if (len == 0 || i + len > v.size()) {
      break;
    }
    out.emplace_back(v.substr(i, len));
    i += len;
  }
  return out;
}

std::string encode_record(const CertRecord& r) {
  Bytes out{kRecordFormat};
  append_be(out, r.first_seen, 8);
  append_be(out, r.last_change, 8);
  append_be(out, r.seq, 8);
  out.push_back(static_cast<std::uint8_t>(r.digest.size()));
  append(out, r.digest);
  append_be(out, r.cert.size(), 4);
  append(out, r.cert);
  append(out, r.index.encode());
  return std::string(as_chars(out));
}

Result<CertRecord> decode_record(const Fingerprint& fpr, std::string_view value, bool with_index) {
  ByteReader r(as_bytes(value), "stored certificate record");
  KEYDIR_TRY(std::uint8_t format, r.read_u8());
  if (format != kRecordFormat) {
    return fail(ErrorCode::StorageCorruption, "unknown record format " + std::to_string(format));
  }
  CertRecord rec;
  rec.fingerprint = fpr;
  KEYDIR_TRY(std::uint32_t f_hi, r.read_u32());
  KEYDIR_TRY(std::uint32_t f_lo, r.read_u32());
  KEYDIR_TRY(std::uint32_t l_hi, r.read_u32());
  KEYDIR_TRY(std::uint32_t l_lo, r.read_u32());
  KEYDIR_TRY(std::uint32_t s_hi, r.read_u32());
  KEYDIR_TRY(std::uint32_t s_lo, r.read_u32());
  rec.first_seen = std::uint64_t{f_hi} << 32 | f_lo;
  rec.last_change = std::uint64_t{l_hi} << 32 | l_lo;
  rec.seq = std::uint64_t{s_hi} << 32 | s_lo;
  KEYDIR_TRY(ByteView digest, r.read_length_prefixed(1, 0, 64));
  rec.digest.assign(digest.begin(), digest.end());
  KEYDIR_TRY(ByteView cert, r.read_length_prefixed(4, 1, 1u << 30));
  rec.cert.assign(cert.begin(), cert.end());
  if (!with_index) {
    return rec;
  }
  auto index = IndexSet::decode(r.rest());
  if (!index) {
    return fail(ErrorCode::StorageCorruption, "stored index: " + index.error().detail);
  }
  rec.index = std::move(*index);
  return rec;
}

}  // namespace keydir::storage::rocks
