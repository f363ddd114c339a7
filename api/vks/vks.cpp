#include "api/vks/vks.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "openpgp/certificate.hpp"

namespace keydir::api {

namespace {

using nlohmann::json;

Reply json_reply(int status, const json& body) {
  Reply r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump();
  return r;
}

Reply json_error(int status, std::string message) {
  return json_reply(status, json{{"error", std::move(message)}});
}

// Path segments come percent-encoded ("a%40b.org").
std::string path_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto d = form_decode(s.substr(i, 3));
      if (d) {
        out += *d;
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

}  // namespace

Vks::Vks(service::KeyDirectory& directory, const Hkp& hkp, const UploadTokens& tokens,
         service::Verification* verification)
    : directory_(directory), hkp_(hkp), tokens_(tokens), verification_(verification) {}

namespace {
// A failure of the publishing machinery as the JSON error Hagrid gives.
Reply verification_error(const Error& e) {
  // The status is the table's (Surface::Vks); only the words are Hagrid's.
  const int status = http_status(e.code, Surface::Vks);
  switch (e.code) {
    case ErrorCode::MailFailed:
      return json_error(status, "the confirmation mail could not be sent; try again later");
    case ErrorCode::NotFound:
      return json_error(status, "this key is no longer in the directory");
    default:
      break;
  }
  return json_error(status,
                    Status::is_server_error(status) ? "service temporarily unavailable" : e.detail);
}
}  // namespace

Reply Vks::handle(const HttpRequest& request, std::string_view rest) const {
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (rest == "upload" || rest == "request-verify") {
    if (request.method != "POST") {
      return method_not_allowed("POST");
    }
    if (!request.content_type.starts_with("application/json")) {
      return json_error(Status::kBadRequest,
                        "expected application/json data; see /about for the API");
    }
    return rest == "upload" ? upload(request) : request_verify(request);
  }
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return text_reply(Status::kNotFound, "not found");
  }
  std::string_view kind = rest.substr(0, slash);
  std::string arg = path_decode(rest.substr(slash + 1));
  if (kind != "by-fingerprint" && kind != "by-keyid" && kind != "by-email") {
    return text_reply(Status::kNotFound, "not found");
  }
  if (!get) {
    return method_not_allowed("GET, HEAD");
  }
  Search s;
  s.whole = wants_log_proof(request);
  if (kind == "by-fingerprint") {
    // Hagrid: upper- or lower-case hex, no 0x prefix.
    if ((arg.size() != 40 && arg.size() != 64) || !is_hex(arg)) {
      return text_reply(Status::kBadRequest, "malformed fingerprint");
    }
    auto fpr = openpgp::Fingerprint::from_hex(arg);
    if (!fpr) {
      return text_reply(Status::kBadRequest, "malformed fingerprint");
    }
    s.query.what = storage::Query::ByFingerprint{*fpr};
    s.v6_fingerprint = arg.size() == 64;
  } else if (kind == "by-keyid") {
    auto id = arg.size() == 16 && is_hex(arg) ? openpgp::KeyId::from_hex(arg)
                                              : fail(ErrorCode::BadQuery, "");
    if (!id) {
      return text_reply(Status::kBadRequest, "malformed key id");
    }
    s.query.what = storage::Query::ByKeyId{*id};
  } else {
    auto email = openpgp::Email::parse(arg);
    if (!email || arg.find('<') != std::string::npos) {
      return text_reply(Status::kBadRequest, "malformed e-mail address");
    }
    s.query.what = storage::Query::ByEmail{email->address()};
  }
  return hkp_.get(s);
}

Reply Vks::upload(const HttpRequest& request) const {
  if (request.body.size() > directory_.options().max_upload_bytes * 2) {
    return json_error(Status::kPayloadTooLarge, "upload larger than the limit");
  }
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("keytext") ||
      !body["keytext"].is_string()) {
    return json_error(Status::kBadRequest, "expected a JSON object with a \"keytext\" string");
  }
  const std::string& keytext = body["keytext"].get_ref<const std::string&>();
  auto binary = openpgp::decode_key_input(as_bytes(keytext), directory_.options().max_upload_bytes);
  if (!binary) {
    return json_error(http_status(binary.error().code, Surface::Vks), binary.error().detail);
  }
  // One key per request (Hagrid's rule, and the upload limit's: Api::dispatch
  // charges keys only where the answer counts them). Three or more keys fail
  // the parse itself (more than max_certs): a keyring too, never "one key".
  auto certs = openpgp::parse_certificates(*binary, {.max_packet_bytes = 0, .max_certs = 2});
  if ((certs && certs->size() > 1) ||
      (!certs && certs.error().code == ErrorCode::TooManyComponents)) {
    return json_error(Status::kBadRequest, "upload one key at a time");
  }
  auto report = directory_.upload(as_bytes(keytext), request.operator_upload);
  if (!report) {
    return json_error(http_status(report.error().code, Surface::Vks),
                      public_reason(report.error()));
  }
  if (report->stored.empty()) {
    if (report->refused.empty()) {
      return json_error(Status::kBadRequest, "no key in the upload");
    }
    const Error& e = report->refused.front().error;
    return json_error(http_status(e.code, Surface::Vks), public_reason(e));
  }
  const auto& stored = report->stored.front();
  // The answer speaks of the addresses this upload held, never of the rest
  // of the stored key: those may be ones its owner chose not to publish.
  return key_status(UploadSession::of(stored.fingerprint, stored.addresses), stored.addresses, {},
                    &stored.publication);
}

Reply Vks::request_verify(const HttpRequest& request) const {
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("token") ||
      !body["token"].is_string() || !body.contains("addresses") || !body["addresses"].is_array()) {
    return json_error(Status::kBadRequest,
                      "expected a JSON object with \"token\" and \"addresses\"");
  }
  auto session = tokens_.check(body["token"].get_ref<const std::string&>());
  if (!session) {
    return json_error(Status::kBadRequest, session.error().detail);
  }
  std::vector<std::string> wanted;
  for (const auto& a : body["addresses"]) {
    if (!a.is_string() || wanted.size() >= 100) {
      return json_error(Status::kBadRequest, "addresses must be a list of e-mail addresses");
    }
    auto email = openpgp::Email::parse(a.get_ref<const std::string&>());
    if (!email) {
      return json_error(Status::kBadRequest, "malformed e-mail address: " + a.get<std::string>());
    }
    // Only what the upload held: the same answer whether or not the stored
    // key has the address (unpublished, withheld or absent alike).
    if (!session->covers(email->address())) {
      return json_error(Status::kBadRequest,
                        "the upload did not contain the address " + email->address());
    }
    if (std::find(wanted.begin(), wanted.end(), email->address()) == wanted.end()) {
      wanted.push_back(email->address());
    }
  }
  std::vector<std::string> mailed;
  if (verifier()) {
    // Already published and revoked addresses need no mail.
    auto states = verifier()->states(session->fingerprint, wanted);
    if (!states) {
      return verification_error(states.error());
    }
    for (const auto& a : wanted) {
      auto it = states->find(a);
      if (it == states->end()) {
        return json_error(Status::kBadRequest, "the key has no user ID with the address " + a);
      }
      if (it->second == service::AddressState::Unpublished) {
        mailed.push_back(a);
      }
    }
    if (auto sent = verifier()->request(session->fingerprint, mailed, request.client); !sent) {
      return verification_error(sent.error());
    }
  }
  return key_status(*session, wanted, mailed);
}

Reply Vks::key_status(const UploadSession& session, const std::vector<std::string>& addresses,
                      const std::vector<std::string>& mailed,
                      const std::vector<service::AddressReport>* publication) const {
  const auto& fpr = session.fingerprint;
  json status = json::object();
  if (verifier()) {
    auto states = verifier()->states(fpr, addresses);
    if (!states) {
      return verification_error(states.error());
    }
    for (const auto& [addr, st] : *states) {
      status[addr] = std::string(service::state_name(st));
    }
  } else {
    auto vc = directory_.stored_summary(fpr);
    if (!vc) {
      return verification_error(vc.error());
    }
    for (const auto& st : vc->user_id_states()) {
      if (!st.email ||
          std::find(addresses.begin(), addresses.end(), st.email->address()) == addresses.end()) {
        continue;
      }
      const std::string& addr = st.email->address();
      const bool revoked = st.revocation.has_value() || vc->revoked();
      // A revoked user ID never hides the same address on a current one.
      if (!status.contains(addr) || status[addr] == "revoked") {
        status[addr] = revoked ? "revoked" : "published";
      }
    }
  }
  for (const auto& a : addresses) {
    if (!status.contains(a)) {
      return json_error(Status::kBadRequest, "the key has no user ID with the address " + a);
    }
  }
  for (const auto& a : mailed) {
    status[a] = std::string(service::state_name(service::AddressState::Pending));
  }
  json reasons = json::object();
  if (publication) {
    for (const auto& p : *publication) {
      if (p.state == service::Publication::Published) {
        continue;
      }
      reasons[p.address] = p.reason;
      if (p.state == service::Publication::OutsideDomains ||
          p.state == service::Publication::OperatorsOnly) {
        status.erase(p.address);
      }
    }
  }
  json answer{{"key_fpr", fpr.to_hex()}, {"status", status}, {"token", tokens_.make(session)}};
  if (!reasons.empty()) {
    answer["reasons"] = std::move(reasons);
  }
  return json_reply(Status::kOk, answer);
}

}  // namespace keydir::api
