#include "client/inspect.hpp"

#include <ostream>

#include "common/limits.hpp"
#include "common/time_format.hpp"

namespace keydir::client {

using namespace keydir::openpgp;
using nlohmann::json;

int InspectReport::exit_code() const {
  if (input_error) {
    return kExitRefused;
  }
  for (const auto& c : certificates) {
    if (!c.accepted()) {
      return kExitRefused;
    }
  }
  return kExitOk;
}

InspectReport inspect(ByteView input, const Policy& policy, std::uint64_t now) {
  InspectReport report;
  // Offline inspection reads files of any keyring size up to the import bound.
  auto result = verify_input(input, policy, now, limits::kMaxImportCertBytes);
  if (!result) {
    report.input_error = result.error();
  } else {
    report.certificates = std::move(*result);
  }
  return report;
}

namespace {

std::vector<std::string> flag_names(std::optional<std::uint8_t> flags) {
  std::vector<std::string> out;
  if (!flags) {
    return out;
  }
  const std::pair<std::uint8_t, const char*> names[] = {
      {kFlagCertify, "certify"},
      {kFlagSign, "sign"},
      {kFlagEncryptCommunications, "encrypt_communications"},
      {kFlagEncryptStorage, "encrypt_storage"},
      {kFlagSplitKey, "split_key"},
      {kFlagAuthenticate, "authenticate"},
      {kFlagGroupKey, "group_key"},
  };
  for (auto [bit, name] : names) {
    if (*flags & bit) {
      out.emplace_back(name);
    }
  }
  return out;
}

std::string_view revocation_code_name(std::optional<std::uint8_t> code) {
  if (!code) {
    return "unspecified";
  }
  switch (*code) {
    case 0:
      return "no reason specified";
    case 1:
      return "key is superseded";
    case 2:
      return "key material has been compromised";
    case 3:
      return "key is retired and no longer used";
    case 32:
      return "user ID information is no longer valid";
    default:
      return "other reason";
  }
}

json revocation_json(const std::optional<Revocation>& r) {
  if (!r) {
    return nullptr;
  }
  json j = {{"created", utc_timestamp(r->created)},
            {"reason", revocation_code_name(r->code)},
            {"message", r->reason}};
  j["code"] = r->code ? json(*r->code) : json(nullptr);
  return j;
}

json key_json(const PublicKey& k, const KeyState& st, std::uint64_t now) {
  json j;
  j["fingerprint"] = k.fingerprint.to_hex();
  j["key_id"] = k.key_id.to_hex();
  j["version"] = k.version;
  j["algorithm"] = algorithm_name(k.algorithm);
  j["algorithm_id"] = static_cast<int>(k.algorithm);
  j["bits"] = k.bits;
  j["curve"] =
      k.material.curve == Curve::Unknown ? json(nullptr) : json(curve_name(k.material.curve));
  j["created"] = utc_timestamp(k.created);
  j["expires"] = st.expires ? json(utc_timestamp(*st.expires)) : json(nullptr);
  j["expired"] = st.expires && *st.expires <= now;
  j["revoked"] = st.revocation.has_value();
  j["revocation"] = revocation_json(st.revocation);
  j["flags"] = flag_names(st.flags);
  return j;
}

std::string user_id_text(const Bytes& body) {
  return std::string(as_chars(body));
}

json certificate_json(const Verification& v, std::size_t index, std::uint64_t now) {
  json j;
  j["index"] = index;
  j["verdict"] = v.accepted() ? "accepted" : "refused";
  j["refusal"] =
      v.refusal ? json{{"code", error_code_name(v.refusal->code)}, {"reason", v.refusal->detail}}
                : json(nullptr);
  j["fingerprint"] = v.fingerprint ? json(v.fingerprint->to_hex()) : json(nullptr);
  if (v.cert) {
    const auto& vc = *v.cert;
    const auto& c = vc.cert();
    json primary = key_json(c.primary, vc.primary_state(), now);
    for (auto& [k, val] : primary.items()) {
      if (k != "fingerprint") {
        j[k] = val;
      }
    }
    j["user_ids"] = json::array();
    for (std::size_t i = 0; i < c.user_ids.size(); ++i) {
      const auto& st = vc.user_id_states()[i];
      j["user_ids"].push_back({{"user_id", user_id_text(c.user_ids[i].body)},
                               {"email", st.email ? json(st.email->address()) : json(nullptr)},
                               {"primary", st.primary},
                               {"revoked", st.revocation.has_value()},
                               {"revocation", revocation_json(st.revocation)},
                               {"third_party_certifications", st.third_party_certifications}});
    }
    j["user_attributes"] = c.user_attributes.size();
    j["subkeys"] = json::array();
    for (std::size_t i = 0; i < c.subkeys.size(); ++i) {
      j["subkeys"].push_back(key_json(c.subkeys[i].key, vc.subkey_states()[i], now));
    }
    j["size"] = vc.to_bytes().size();
  }
  j["stripped"] = json::array();
  for (const auto& f : v.stripped) {
    j["stripped"].push_back({{"component", f.component}, {"reason", f.reason}});
  }
  return j;
}

std::string key_line(const PublicKey& k) {
  std::string s(algorithm_name(k.algorithm));
  if (k.material.curve != Curve::Unknown) {
    s += " " + std::string(curve_name(k.material.curve));
  }
  if (k.bits) {
    s += " (" + std::to_string(k.bits) + " bits)";
  }
  return s;
}

std::string state_line(const KeyState& st, std::uint64_t now) {
  std::string s;
  if (st.expires) {
    s += (*st.expires <= now ? "expired " : "expires ") + utc_timestamp(*st.expires);
  } else {
    s += "does not expire";
  }
  if (st.revocation) {
    s += "; REVOKED " + utc_timestamp(st.revocation->created) + " (" +
         std::string(revocation_code_name(st.revocation->code)) +
         (st.revocation->reason.empty() ? "" : ": " + st.revocation->reason) + ")";
  }
  return s;
}

}  // namespace

json to_json(const InspectReport& report, std::uint64_t now) {
  json doc;
  doc["certificates"] = json::array();
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < report.certificates.size(); ++i) {
    doc["certificates"].push_back(certificate_json(report.certificates[i], i, now));
    accepted += report.certificates[i].accepted() ? 1 : 0;
  }
  doc["error"] = report.input_error ? json{{"code", error_code_name(report.input_error->code)},
                                           {"reason", report.input_error->detail}}
                                    : json(nullptr);
  doc["summary"] = {{"accepted", accepted}, {"refused", report.certificates.size() - accepted}};
  return doc;
}

void print_text(std::ostream& out, const InspectReport& report, std::uint64_t now) {
  if (report.input_error) {
    out << "refused: " << report.input_error->detail << "\n";
    return;
  }
  std::size_t n = report.certificates.size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto& v = report.certificates[i];
    out << "certificate " << (i + 1) << " of " << n << ": "
        << (v.accepted() ? "accepted" : "REFUSED: " + v.refusal->detail) << "\n";
    if (v.fingerprint) {
      out << "  fingerprint  " << v.fingerprint->to_hex() << "\n";
    }
    if (v.cert) {
      const auto& vc = *v.cert;
      const auto& c = vc.cert();
      out << "  key ID       " << c.primary.key_id.to_hex() << "\n";
      out << "  version      " << int{c.primary.version} << "\n";
      out << "  algorithm    " << key_line(c.primary) << "\n";
      out << "  created      " << utc_timestamp(c.primary.created) << "\n";
      out << "  status       " << state_line(vc.primary_state(), now) << "\n";
      for (std::size_t u = 0; u < c.user_ids.size(); ++u) {
        const auto& st = vc.user_id_states()[u];
        out << "  user ID      " << user_id_text(c.user_ids[u].body)
            << (st.primary ? "  [primary]" : "") << (st.revocation ? "  [revoked]" : "")
            << (st.third_party_certifications
                    ? "  [" + std::to_string(st.third_party_certifications) +
                          " attested third-party certifications]"
                    : "")
            << "\n";
      }
      for (std::size_t s = 0; s < c.subkeys.size(); ++s) {
        const auto& k = c.subkeys[s].key;
        const auto& st = vc.subkey_states()[s];
        std::string flags;
        for (const auto& f : flag_names(st.flags)) {
          flags += (flags.empty() ? "" : ",") + f;
        }
        out << "  subkey       " << k.fingerprint.to_hex() << "\n"
            << "               " << key_line(k) << ", created " << utc_timestamp(k.created) << ", "
            << state_line(st, now) << (flags.empty() ? "" : ", usage " + flags) << "\n";
      }
    }
    for (const auto& f : v.stripped) {
      out << "  stripped     " << f.component << ": " << f.reason << "\n";
    }
  }
}

}  // namespace keydir::client
