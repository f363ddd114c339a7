#include "openpgp/canonical.hpp"

#include <algorithm>
#include <map>

#include "openpgp/crypto/hash.hpp"
#include "openpgp/packet_reader.hpp"

namespace keydir::openpgp {

namespace {

// Signatures: one per normalized form, the smallest full body wins, then
// ordered by (type, creation time, normalized bytes).
void canonical_signatures(std::vector<Signature>& sigs) {
  std::map<Bytes, Signature> unique;
  for (auto& s : sigs) {
    Bytes key = s.normalized();
    auto it = unique.find(key);
    if (it == unique.end()) {
      unique.emplace(std::move(key), std::move(s));
    } else if (s.body < it->second.body) {
      it->second = std::move(s);
    }
  }
  struct Entry {
    std::uint8_t type;
    std::uint32_t created;
    const Bytes* normalized;
    Signature* sig;
  };
  std::vector<Entry> order;
  order.reserve(unique.size());
  for (auto& [k, s] : unique) {
    order.push_back({static_cast<std::uint8_t>(s.type), s.created.value_or(0), &k, &s});
  }
  std::sort(order.begin(), order.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.type, a.created, *a.normalized) < std::tie(b.type, b.created, *b.normalized);
  });
  std::vector<Signature> out;
  out.reserve(order.size());
  for (auto& e : order) {
    out.push_back(std::move(*e.sig));
  }
  sigs = std::move(out);
}

void canonical_bundles(std::vector<UserIdBundle>& bundles) {
  std::map<Bytes, UserIdBundle> joined;
  for (auto& b : bundles) {
    auto [it, inserted] = joined.try_emplace(b.body, UserIdBundle{b.body, {}});
    auto& sigs = it->second.signatures;
    sigs.insert(sigs.end(), std::make_move_iterator(b.signatures.begin()),
                std::make_move_iterator(b.signatures.end()));
  }
  bundles.clear();
  for (auto& [body, b] : joined) {
    canonical_signatures(b.signatures);
    bundles.push_back(std::move(b));
  }
}

void canonical_subkeys(std::vector<SubkeyBundle>& subkeys) {
  std::map<std::pair<std::uint32_t, Fingerprint>, SubkeyBundle> joined;
  for (auto& s : subkeys) {
    auto key = std::make_pair(s.key.created, s.key.fingerprint);
    auto it = joined.find(key);
    if (it == joined.end()) {
      joined.emplace(key, std::move(s));
    } else {
      auto& sigs = it->second.signatures;
      sigs.insert(sigs.end(), std::make_move_iterator(s.signatures.begin()),
                  std::make_move_iterator(s.signatures.end()));
    }
  }
  subkeys.clear();
  for (auto& [k, s] : joined) {
    canonical_signatures(s.signatures);
    subkeys.push_back(std::move(s));
  }
}

}  // namespace

void canonicalize(Certificate& cert) {
  canonical_signatures(cert.direct_signatures);
  canonical_bundles(cert.user_ids);
  canonical_bundles(cert.user_attributes);
  canonical_subkeys(cert.subkeys);
  cert.dropped.clear();
}

Result<Certificate> merge(const Certificate& a, const Certificate& b) {
  if (a.primary.fingerprint != b.primary.fingerprint) {
    return fail(ErrorCode::BadQuery, "cannot merge two different certificates (" +
                                         a.primary.fingerprint.to_hex() + ", " +
                                         b.primary.fingerprint.to_hex() + ")");
  }
  Certificate out = a;
  out.direct_signatures.insert(out.direct_signatures.end(), b.direct_signatures.begin(),
                               b.direct_signatures.end());
  out.user_ids.insert(out.user_ids.end(), b.user_ids.begin(), b.user_ids.end());
  out.user_attributes.insert(out.user_attributes.end(), b.user_attributes.begin(),
                             b.user_attributes.end());
  out.subkeys.insert(out.subkeys.end(), b.subkeys.begin(), b.subkeys.end());
  canonicalize(out);
  return out;
}

Bytes serialize(const Certificate& cert) {
  Bytes out;
  auto sigs = [&](const std::vector<Signature>& list) {
    for (const auto& s : list) {
      write_packet(out, static_cast<std::uint8_t>(PacketTag::Signature), s.body);
    }
  };
  write_packet(out, static_cast<std::uint8_t>(PacketTag::PublicKey), cert.primary.body);
  sigs(cert.direct_signatures);
  for (const auto& u : cert.user_ids) {
    write_packet(out, static_cast<std::uint8_t>(PacketTag::UserId), u.body);
    sigs(u.signatures);
  }
  for (const auto& u : cert.user_attributes) {
    write_packet(out, static_cast<std::uint8_t>(PacketTag::UserAttribute), u.body);
    sigs(u.signatures);
  }
  for (const auto& s : cert.subkeys) {
    write_packet(out, static_cast<std::uint8_t>(PacketTag::PublicSubkey), s.key.body);
    sigs(s.signatures);
  }
  return out;
}

Bytes content_digest(const Certificate& cert) {
  return *crypto::digest(HashAlgorithm::Sha256, serialize(cert));
}

}  // namespace keydir::openpgp

namespace keydir::openpgp {

Bytes sks_digest(const Certificate& cert) {
  std::vector<std::pair<std::uint8_t, const Bytes*>> packets;
  packets.emplace_back(static_cast<std::uint8_t>(PacketTag::PublicKey), &cert.primary.body);
  auto sigs = [&](const std::vector<Signature>& list) {
    for (const auto& s : list) {
      packets.emplace_back(static_cast<std::uint8_t>(PacketTag::Signature), &s.body);
    }
  };
  sigs(cert.direct_signatures);
  for (const auto& u : cert.user_ids) {
    packets.emplace_back(static_cast<std::uint8_t>(PacketTag::UserId), &u.body);
    sigs(u.signatures);
  }
  for (const auto& u : cert.user_attributes) {
    packets.emplace_back(static_cast<std::uint8_t>(PacketTag::UserAttribute), &u.body);
    sigs(u.signatures);
  }
  for (const auto& k : cert.subkeys) {
    packets.emplace_back(static_cast<std::uint8_t>(PacketTag::PublicSubkey), &k.key.body);
    sigs(k.signatures);
  }
  std::sort(packets.begin(), packets.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : *a.second < *b.second;
  });
  auto h = *crypto::Hasher::create(HashAlgorithm::Md5);
  for (const auto& [tag, body] : packets) {
    h.update_be(tag, 4);
    h.update_be(body->size(), 4);
    h.update(*body);
  }
  return h.finish();
}

Certificate with_user_ids(const Certificate& cert,
                          const std::function<bool(std::size_t, const UserIdBundle&)>& keep) {
  Certificate out;
  out.primary = cert.primary;
  out.direct_signatures = cert.direct_signatures;
  out.subkeys = cert.subkeys;
  for (std::size_t i = 0; i < cert.user_ids.size(); ++i) {
    if (keep(i, cert.user_ids[i])) {
      out.user_ids.push_back(cert.user_ids[i]);
    }
  }
  return out;
}

}  // namespace keydir::openpgp
