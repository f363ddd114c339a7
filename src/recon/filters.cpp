#include "recon/filters.hpp"

#include <algorithm>

namespace keydir::recon {

const std::vector<FilterTerm>& filter_registry() {
  static const std::vector<FilterTerm> terms = {
      {"drop:UAT", FilterHonour::Applied, "user attributes (photo IDs) are dropped"},
      {"drop:hardRevokedCruft", FilterHonour::Presented,
       "a hard-revoked key (reason none, unspecified or compromised) loses its user IDs and "
       "third-party certifications on the peer; keydird keeps its user IDs and shows the peer "
       "the peer's own form once fetched"},
      {"drop:implausible", FilterHonour::Stricter,
       "implausible third-party certifications are dropped; keydird drops every third-party "
       "certification the key's owner did not attest"},
      {"drop:invalidSelfSig", FilterHonour::Applied,
       "self-signatures are verified and invalid ones dropped"},
      {"drop:structuralMartian", FilterHonour::Applied,
       "signatures in a place their type cannot be are dropped"},
      {"drop:unbound", FilterHonour::Applied,
       "user IDs and subkeys without a valid self-signature are dropped"},
      {"drop:unparseable", FilterHonour::Applied, "packets that do not parse are dropped"},
      {"schema:application/pgp-keys", FilterHonour::Applied, "the set holds OpenPGP public keys"},
      {"versions:34", FilterHonour::Presented,
       "only v3 and v4 keys; keydird holds v6 keys too and leaves them out of what it shows "
       "this peer"},
      {"yminsky.dedup", FilterHonour::Applied, "duplicate packets are removed"},
      {"yminsky.merge", FilterHonour::Applied, "keys with the same primary key are merged"},
  };
  return terms;
}

std::string Filters::announced() const {
  std::string out;
  for (const auto& t : terms) {
    out += (out.empty() ? "" : ",") + t;
  }
  return out;
}

bool Filters::v3_v4_only() const {
  return std::find(terms.begin(), terms.end(), "versions:34") != terms.end();
}

std::string filter_profiles() {
  return "sks, hockeypuck-2.3";
}

Result<Filters> parse_filters(std::string_view spec) {
  std::string_view list = spec;
  if (spec == "sks" || spec.empty()) {
    list = "yminsky.dedup,yminsky.merge";
  } else if (spec == "hockeypuck-2.3" || spec == "hockeypuck-2.2") {
    list =
        "drop:UAT,drop:hardRevokedCruft,drop:implausible,drop:invalidSelfSig,"
        "drop:structuralMartian,drop:unbound,drop:unparseable,schema:application/pgp-keys,"
        "versions:34,yminsky.dedup,yminsky.merge";
  }
  Filters f;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    auto comma = list.find(',', pos);
    auto term = list.substr(pos, comma == std::string_view::npos ? list.size() - pos : comma - pos);
    pos = comma == std::string_view::npos ? list.size() + 1 : comma + 1;
    const auto& reg = filter_registry();
    if (std::none_of(reg.begin(), reg.end(), [&](const FilterTerm& t) { return t.name == term; })) {
      if (list == spec && spec.find(',') == std::string_view::npos &&
          spec.find(':') == std::string_view::npos && spec.find('.') == std::string_view::npos) {
        return fail(ErrorCode::BadQuery, "unknown filter profile \"" + std::string(spec) +
                                             "\" (profiles: " + filter_profiles() +
                                             "; or a comma-separated list of filters)");
      }
      std::string known;
      for (const auto& t : reg) {
        known += (known.empty() ? "" : ", ") + std::string(t.name);
      }
      return fail(ErrorCode::BadQuery, "filter \"" + std::string(term) +
                                           "\" is not one keydird applies, so it does not "
                                           "announce it (it applies: " +
                                           known + ")");
    }
    f.terms.emplace_back(term);
  }
  std::sort(f.terms.begin(), f.terms.end());
  f.terms.erase(std::unique(f.terms.begin(), f.terms.end()), f.terms.end());
  return f;
}

}  // namespace keydir::recon
