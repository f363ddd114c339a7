#include "storage/index_entries.hpp"

namespace keydir::storage::index_keys {

const char* const kIndexNames[kIndexCount] = {"by_fpr", "by_keyid", "by_short", "by_email",
                                              "by_wkd", "by_word",  "by_sks"};

std::string fpr_key(const Fingerprint& f) {
  std::string k(1, static_cast<char>(f.version()));
  k.append(as_chars(f.bytes()));
  return k;
}

std::string be(std::uint64_t v, std::size_t width) {
  Bytes b;
  append_be(b, v, width);
  return std::string(as_chars(b));
}

std::string wkd_key(const WkdHash& w) {
  std::string k = w.domain();
  k.push_back('\0');
  k += w.hash();
  return k;
}

void for_each_key(const IndexSet& idx, const std::function<void(Index, std::string)>& visit) {
  for (const auto& f : idx.fingerprints) {
    visit(kFpr, fpr_key(f));
  }
  for (const auto& k : idx.key_ids) {
    visit(kKeyId, std::string(as_chars(k.bytes())));
    visit(kShort, be(k.short_id(), 4));
  }
  for (const auto& f : idx.weak_subkeys) {
    visit(kFpr, kWeak + fpr_key(f));
    const KeyId k = f.key_id();
    visit(kKeyId, std::string(as_chars(k.bytes())) + kWeak);
    visit(kShort, be(k.short_id(), 4) + kWeak);
  }
  for (const auto& e : idx.emails) {
    visit(kEmail, e);
  }
  for (const auto& w : idx.wkd) {
    visit(kWkd, wkd_key(w));
  }
  for (const auto& w : idx.words) {
    visit(kWord, w);
  }
  if (!idx.sks_hash.empty()) {
    visit(kSks, std::string(as_chars(idx.sks_hash)));
  }
}

Result<std::set<Fingerprint>> best_claims(const ClaimSource& source, const std::string& key,
                                          const std::string& weak_key,
                                          const std::function<bool(const Fingerprint&)>& is_it,
                                          bool owner_first) {
  KEYDIR_TRY(auto strong, source.members(key));
  std::set<Fingerprint> own;  // certificates whose primary key it is
  for (const auto& f : strong) {
    if (owner_first && is_it(f)) {
      own.insert(f);
    }
  }
  if (!own.empty()) {
    return own;
  }
  if (!strong.empty()) {
    return strong;
  }
  KEYDIR_TRY(auto weak, source.members(weak_key));
  if (weak.size() != 1) {
    return std::set<Fingerprint>{};  // none, or claimed by several: nobody's
  }
  KEYDIR_TRY(auto subkeys, source.weak_subkeys(*weak.begin()));
  if (!subkeys) {
    return std::set<Fingerprint>{};
  }
  for (const auto& f : *subkeys) {
    if (!is_it(f)) {
      continue;
    }
    KEYDIR_TRY(bool deleted, source.deleted(f));
    if (deleted) {
      return std::set<Fingerprint>{};  // a deleted key stays deleted
    }
  }
  return weak;
}

}  // namespace keydir::storage::index_keys
