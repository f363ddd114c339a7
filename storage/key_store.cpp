#include "storage/key_store.hpp"

#include "common/byte_reader.hpp"

namespace keydir::storage {

namespace {

void put_bytes(Bytes& out, ByteView b) {
  append_be(out, b.size(), 2);
  append(out, b);
}

Result<ByteView> get_bytes(ByteReader& r) {
  return r.read_length_prefixed(2, 0, 0xffff);
}

}  // namespace

// Format: for each list a two-octet count, then each item as a two-octet
// length and its bytes (fingerprints: version octet + bytes; WKD: domain,
// hash).
Bytes IndexSet::encode() const {
  Bytes out;
  append_be(out, fingerprints.size(), 2);
  for (const auto& f : fingerprints) {
    Bytes b{static_cast<std::uint8_t>(f.version())};
    append(b, f.bytes());
    put_bytes(out, b);
  }
  append_be(out, key_ids.size(), 2);
  for (const auto& k : key_ids) {
    put_bytes(out, k.bytes());
  }
  append_be(out, emails.size(), 2);
  for (const auto& e : emails) {
    put_bytes(out, as_bytes(e));
  }
  append_be(out, wkd.size(), 2);
  for (const auto& w : wkd) {
    put_bytes(out, as_bytes(w.domain()));
    put_bytes(out, as_bytes(w.hash()));
  }
  append_be(out, words.size(), 2);
  for (const auto& w : words) {
    put_bytes(out, as_bytes(w));
  }
  put_bytes(out, sks_hash);
  // Added after the first format: absent in older records, which knew no
  // weak claims (every subkey was listed in `fingerprints`).
  if (!weak_subkeys.empty()) {
    append_be(out, weak_subkeys.size(), 2);
    for (const auto& f : weak_subkeys) {
      Bytes b{static_cast<std::uint8_t>(f.version())};
      append(b, f.bytes());
      put_bytes(out, b);
    }
  }
  return out;
}

Result<IndexSet> IndexSet::decode(ByteView bytes) {
  ByteReader r(bytes, "index set");
  IndexSet s;
  auto fingerprints = [&r](std::vector<Fingerprint>& into) -> Result<void> {
    KEYDIR_TRY(std::uint16_t nf, r.read_u16());
    for (std::uint16_t i = 0; i < nf; ++i) {
      KEYDIR_TRY(ByteView b, get_bytes(r));
      if (b.size() == 21 && b[0] == 4) {
        into.emplace_back(Fingerprint::Version::V4, b.subspan(1));
      } else if (b.size() == 33 && b[0] == 6) {
        into.emplace_back(Fingerprint::Version::V6, b.subspan(1));
      } else {
        return r.error("bad fingerprint");
      }
    }
    return {};
  };
  KEYDIR_CHECK(fingerprints(s.fingerprints));
  KEYDIR_TRY(std::uint16_t nk, r.read_u16());
  for (std::uint16_t i = 0; i < nk; ++i) {
    KEYDIR_TRY(ByteView b, get_bytes(r));
    if (b.size() != KeyId::kSize) {
      return r.error("bad key ID");
    }
    s.key_ids.emplace_back(b);
  }
  KEYDIR_TRY(std::uint16_t ne, r.read_u16());
  for (std::uint16_t i = 0; i < ne; ++i) {
    KEYDIR_TRY(ByteView b, get_bytes(r));
    s.emails.emplace_back(as_chars(b));
  }
  KEYDIR_TRY(std::uint16_t nw, r.read_u16());
  for (std::uint16_t i = 0; i < nw; ++i) {
    KEYDIR_TRY(ByteView d, get_bytes(r));
    KEYDIR_TRY(ByteView h, get_bytes(r));
    KEYDIR_TRY(auto w, WkdHash::from_parts(as_chars(d), as_chars(h)));
    s.wkd.push_back(std::move(w));
  }
  KEYDIR_TRY(std::uint16_t nwords, r.read_u16());
  for (std::uint16_t i = 0; i < nwords; ++i) {
    KEYDIR_TRY(ByteView b, get_bytes(r));
    s.words.emplace_back(as_chars(b));
  }
  KEYDIR_TRY(ByteView sks, get_bytes(r));
  s.sks_hash.assign(sks.begin(), sks.end());
  if (!r.at_end()) {
    KEYDIR_CHECK(fingerprints(s.weak_subkeys));
  }
  KEYDIR_CHECK(r.expect_end());
  return s;
}

}  // namespace keydir::storage

namespace keydir::storage {

namespace {
tl::unexpected<Error> no_log() {
  return fail(ErrorCode::UnsupportedOperation, "this store keeps no transparency log");
}
}  // namespace

Result<void> KeyStore::start_log(const tlog::CommitmentScheme&, std::uint64_t) {
  return no_log();
}
Result<void> KeyStore::append_log(const std::vector<LogItem>&, std::uint64_t) {
  return no_log();
}
Result<LogState> KeyStore::log_state() const {
  return no_log();
}
Result<std::optional<tlog::CommitmentScheme>> KeyStore::log_scheme() const {
  return no_log();
}
Result<tlog::Hash> KeyStore::log_hash(tlog::NodeId) const {
  return no_log();
}
Result<std::vector<tlog::Hash>> KeyStore::log_hashes(std::uint8_t, std::uint64_t,
                                                     std::uint64_t) const {
  return no_log();
}
Result<std::vector<Bytes>> KeyStore::log_entries(std::uint64_t, std::uint64_t) const {
  return no_log();
}
Result<std::optional<std::uint64_t>> KeyStore::log_index(const Fingerprint&) const {
  return no_log();
}
Result<ConsistencyReport> KeyStore::verify_log() const {
  return no_log();
}

}  // namespace keydir::storage
