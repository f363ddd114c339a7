#include "client/remote.hpp"

#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/limits.hpp"
#include "common/time_format.hpp"
#include "openpgp/armor.hpp"
#include "openpgp/certificate.hpp"
#include "openpgp/types.hpp"
#include "openpgp/verify.hpp"

namespace keydir::client {

namespace {

using nlohmann::json;

std::uint64_t now_seconds() { return static_cast<std::uint64_t>(std::time(nullptr)); }

bool is_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
}

std::string first_line(std::string_view s) {
  auto nl = s.find('\n');
  std::string line(s.substr(0, nl));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
    line.pop_back();
  }
  return line.size() > 200 ? line.substr(0, 200) + "…" : line;
}

// A network failure: message and exit code 3.
int network_error(std::ostream& err, const std::string& what, const HttpResult& r) {
  const char* kind = "network error";
  switch (r.error) {
    case NetError::Dns: kind = "name lookup failed"; break;
    case NetError::Connect: kind = "cannot connect"; break;
    case NetError::Timeout: kind = "timed out"; break;
    case NetError::Tls: kind = "TLS failed"; break;
    case NetError::TooLarge: kind = "answer too large"; break;
    case NetError::Usage: kind = "bad URL"; break;
    default: break;
  }
  err << "keydir: " << what << ": " << kind << ": " << r.message << "\n";
  return r.error == NetError::Usage ? kExitUsage : kExitNetwork;
}

// An HTTP status other than 2xx: 404 not found (1), other 4xx refused (5),
// 5xx a failing server (3). The server's reason is its body's first line.
int status_error(std::ostream& err, const std::string& what, const HttpResult& r) {
  std::string reason = first_line(r.body);
  if (r.content_type.starts_with("application/json")) {
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) {
      reason = j["error"].get<std::string>();
    }
  }
  err << "keydir: " << what << ": HTTP " << r.status << (reason.empty() ? "" : ": " + reason)
      << "\n";
  if (r.status == 404) {
    return kExitNotFound;
  }
  return r.status >= 500 ? kExitNetwork : kExitServerRefused;
}


}  // namespace

std::optional<Bytes> read_input(const std::string& path, std::size_t max, std::string& error) {
  std::istream* in = &std::cin;
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) {
      error = "cannot open " + path;
      return std::nullopt;
    }
    in = &file;
  }
  Bytes data;
  char buf[65536];
  while (*in) {
    in->read(buf, sizeof buf);
    auto got = static_cast<std::size_t>(in->gcount());
    if (data.size() + got > max) {
      error = path + ": larger than " + std::to_string(max) + " octets";
      return std::nullopt;
    }
    data.insert(data.end(), buf, buf + got);
  }
  if (in->bad()) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  return data;
}

std::string FetchQuery::describe() const {
  if (fingerprint) {
    return "fingerprint " + fingerprint->to_hex();
  }
  if (key_id) {
    return "key ID " + key_id->to_hex();
  }
  return "address " + email->address();
}

Result<FetchQuery> classify(std::string_view query) {
  std::string q;
  for (char c : query) {
    if (c != ' ') {
      q.push_back(c);
    }
  }
  FetchQuery out;
  if (q.find('@') != std::string::npos) {
    KEYDIR_TRY(auto e, openpgp::Email::parse(query));
    out.email = std::move(e);
    return out;
  }
  std::string hex = q.starts_with("0x") || q.starts_with("0X") ? q.substr(2) : q;
  if (is_hex(hex) && (hex.size() == 40 || hex.size() == 64)) {
    KEYDIR_TRY(auto f, openpgp::Fingerprint::from_hex(hex));
    out.fingerprint = f;
    return out;
  }
  if (is_hex(hex) && hex.size() == 16) {
    KEYDIR_TRY(auto k, openpgp::KeyId::from_hex(hex));
    out.key_id = k;
    return out;
  }
  if (is_hex(hex) && hex.size() == 8) {
    return fail(ErrorCode::ShortKeyIdRefused,
                "32-bit key IDs are not unique (collisions are cheap to make): use the "
                "fingerprint");
  }
  return fail(ErrorCode::BadQuery,
              "not a fingerprint (40 or 64 hex digits), a key ID (16) or an e-mail address");
}

Result<Bytes> check_answer(ByteView answer, const FetchQuery& query, std::uint64_t now) {
  openpgp::Policy policy;
  auto checked = openpgp::verify_input(answer, policy, now, limits::kMaxUploadBytes * 4, 1000);
  if (!checked) {
    return fail(ErrorCode::AnswerDidNotVerify,
                "the answer is not a valid key: " + checked.error().detail);
  }
  if (checked->empty()) {
    return fail(ErrorCode::AnswerDidNotVerify, "the answer holds no key");
  }
  Bytes out;
  for (const auto& v : *checked) {
    if (!v.accepted()) {
      return fail(ErrorCode::AnswerDidNotVerify,
                  "the answer holds a key that does not verify: " + v.refusal->detail);
    }
    const auto& c = v.cert->cert();
    bool match = false;
    if (query.fingerprint) {
      match = c.primary.fingerprint == *query.fingerprint;
      for (const auto& s : c.subkeys) {
        match = match || s.key.fingerprint == *query.fingerprint;
      }
    } else if (query.key_id) {
      match = c.primary.key_id == *query.key_id;
      for (const auto& s : c.subkeys) {
        match = match || s.key.key_id == *query.key_id;
      }
    } else if (query.email) {
      for (const auto& st : v.cert->user_id_states()) {
        match = match || (st.email && !st.revocation && *st.email == *query.email);
      }
    }
    if (!match) {
      return fail(ErrorCode::AnswerDidNotVerify,
                  "the answer holds key " + c.primary.fingerprint.to_hex() + ", which is not the " +
                      query.describe() + " asked for");
    }
    append(out, v.cert->to_bytes());
  }
  return out;
}

std::pair<std::string, std::string> wkd_urls(const openpgp::Email& email, bool escape) {
  auto h = openpgp::WkdHash::of(email);
  std::string l = escape ? form_encode(email.local_part()) : std::string(email.local_part());
  std::string d(email.domain());
  return {"https://openpgpkey." + d + "/.well-known/openpgpkey/" + d + "/hu/" + h.hash() + "?l=" + l,
          "https://" + d + "/.well-known/openpgpkey/hu/" + h.hash() + "?l=" + l};
}

int fetch(const ClientOptions& options, const FetchQuery& query, const FetchOptions& fo,
          Bytes& certs, std::ostream& err) {
  int result = kExitNotFound;
  // 1. WKD (addresses only): advanced, then direct. An unreachable host
  //    falls through quickly (short connect timeout).
  if (query.email && fo.wkd) {
    auto [advanced, direct] = wkd_urls(*query.email);
    const std::string d(query.email->domain());
    for (int method = 0; method < 2; ++method) {
      std::string url = method == 0 ? advanced : direct;
      const std::string host = method == 0 ? "openpgpkey." + d : d;
      HttpOptions ho = options.http;
      ho.connect_timeout = std::min<long>(ho.connect_timeout, 3);
      std::vector<std::string> headers;
      if (!fo.wkd_host.empty()) {
        if (fo.wkd_host.starts_with("http://")) {
          // Plain HTTP to a test or internal host, with the Host header the
          // real request would carry.
          url = fo.wkd_host + url.substr(url.find('/', 8));
          headers.push_back("Host: " + host);
        } else {
          std::string to = fo.wkd_host.starts_with("https://") ? fo.wkd_host.substr(8) : fo.wkd_host;
          if (to.find(':') == std::string::npos) {
            to += ":443";
          }
          ho.connect_to.push_back(host + ":443:" + to);
        }
      }
      auto r = http_get(url, ho, headers);
      if (r.error != NetError::None) {
        err << "keydir: WKD " << (method == 0 ? "advanced" : "direct") << " (" << host
            << "): " << r.message << "; trying the next source\n";
        continue;
      }
      if (r.status == 404) {
        continue;
      }
      if (r.status != 200) {
        err << "keydir: WKD " << host << ": HTTP " << r.status << "; trying the next source\n";
        continue;
      }
      auto checked = check_answer(as_bytes(r.body), query, now_seconds());
      if (!checked) {
        err << "keydir: WKD " << host << ": " << checked.error().detail << "\n";
        result = kExitBadAnswer;
        continue;
      }
      certs = std::move(*checked);
      return kExitOk;
    }
  }
  // 2. The server, over HKP.
  if (!fo.server || options.server.empty()) {
    if (result == kExitNotFound) {
      err << "keydir: no key found for " << query.describe() << "\n";
    }
    return result;
  }
  std::string url;
  if (fo.vks) {
    url = options.server + (query.fingerprint ? "/vks/v1/by-fingerprint/" + query.fingerprint->to_hex()
                            : query.key_id    ? "/vks/v1/by-keyid/" + query.key_id->to_hex()
                                              : "/vks/v1/by-email/" + form_encode(query.email->address()));
  } else {
    std::string search = query.fingerprint ? "0x" + query.fingerprint->to_hex()
                         : query.key_id    ? "0x" + query.key_id->to_hex()
                                           : query.email->address();
    url = options.server + "/pks/lookup?op=get&options=mr&search=" + form_encode(search);
  }
  auto r = http_get(url, options.http);
  if (r.error != NetError::None) {
    return network_error(err, options.server, r);
  }
  if (r.status != 200) {
    return status_error(err, "no key for " + query.describe() + " from " + options.server, r);
  }
  auto checked = check_answer(as_bytes(r.body), query, now_seconds());
  if (!checked) {
    err << "keydir: " << options.server << ": " << checked.error().detail << "\n";
    return kExitBadAnswer;
  }
  certs = std::move(*checked);
  return kExitOk;
}

namespace {

// The addresses of a key and their states, from the VKS upload answer.
struct VksAnswer {
  std::string fpr;
  std::string token;
  std::vector<std::pair<std::string, std::string>> status;
};

std::optional<VksAnswer> vks_upload(const ClientOptions& o, const std::string& armored,
                                    std::ostream& err, int& code) {
  auto r = http_post(o.server + "/vks/v1/upload", "application/json",
                     json{{"keytext", armored}}.dump(), o.http);
  if (r.error != NetError::None) {
    code = network_error(err, o.server, r);
    return std::nullopt;
  }
  if (r.status == 404 || r.status == 405 || r.status == 501) {
    code = kExitOk;  // the server has no VKS API
    return std::nullopt;
  }
  if (r.status != 200) {
    code = status_error(err, "VKS upload", r);
    return std::nullopt;
  }
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("key_fpr") || !j.contains("token") || !j.contains("status")) {
    err << "keydir: " << o.server << ": the VKS answer is not what the API defines\n";
    code = kExitBadAnswer;
    return std::nullopt;
  }
  VksAnswer a;
  a.fpr = j["key_fpr"].is_string() ? j["key_fpr"].get<std::string>() : "";
  a.token = j["token"].is_string() ? j["token"].get<std::string>() : "";
  if (j["status"].is_object()) {
    for (auto& [k, v] : j["status"].items()) {
      a.status.emplace_back(k, v.is_string() ? v.get<std::string>() : "?");
    }
  }
  code = kExitOk;
  return a;
}

int request_verify(const ClientOptions& o, const VksAnswer& a, std::vector<std::string> emails,
                   std::ostream& out, std::ostream& err) {
  if (emails.empty()) {
    for (const auto& [addr, st] : a.status) {
      if (st == "unpublished" || st == "pending") {
        emails.push_back(addr);
      }
    }
  }
  if (emails.empty()) {
    out << a.fpr << ": no address awaits confirmation\n";
    return kExitOk;
  }
  auto r = http_post(o.server + "/vks/v1/request-verify", "application/json",
                     json{{"token", a.token}, {"addresses", emails}}.dump(), o.http);
  if (r.error != NetError::None) {
    return network_error(err, o.server, r);
  }
  if (r.status != 200) {
    return status_error(err, "request-verify", r);
  }
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("status") && j["status"].is_object()) {
    for (auto& [k, v] : j["status"].items()) {
      out << "  " << k << ": " << (v.is_string() ? v.get<std::string>() : "?")
          << (v == "pending" ? " (a confirmation link was mailed to it)" : "") << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

int upload(const ClientOptions& o, const std::vector<std::string>& files, bool verify_addresses,
           std::ostream& out, std::ostream& err) {
  // 1. Read and check everything locally first: nothing is sent if any
  //    input is a secret key or not a key at all.
  std::vector<std::pair<std::string, Bytes>> certs;  // (file, binary certificate)
  openpgp::Policy policy;
  for (const auto& f : files) {
    std::string error;
    auto data = read_input(f, limits::kMaxUploadBytes * 4, error);
    if (!data) {
      err << "keydir upload: " << error << "\n";
      return kExitUsage;
    }
    auto checked = openpgp::verify_input(*data, policy, now_seconds(), limits::kMaxUploadBytes * 4,
                                         limits::kMaxCertsPerUpload * 100);
    if (!checked) {
      if (checked.error().code == ErrorCode::SecretKeyRefused) {
        err << "keydir upload: " << f
            << " holds a SECRET key; nothing was sent. Export the public key with "
               "`gpg --export --armor FINGERPRINT` and upload that.\n";
      } else {
        err << "keydir upload: " << f << ": " << checked.error().detail << "\n";
      }
      return kExitUsage;
    }
    for (auto& v : *checked) {
      if (!v.accepted()) {
        err << "keydir upload: " << f << ": key "
            << (v.fingerprint ? v.fingerprint->to_hex() : std::string("?"))
            << " would be refused: " << v.refusal->detail << "\n";
        return kExitUsage;
      }
      certs.emplace_back(f, v.cert->to_bytes());
    }
  }
  // 2. Send, one certificate per request (so that each gets its answer).
  int result = kExitOk;
  const bool progress = certs.size() > 10;
  for (std::size_t i = 0; i < certs.size(); ++i) {
    const std::string armored = openpgp::armor(certs[i].second);
    auto r = http_post(o.server + "/pks/add", "application/x-www-form-urlencoded",
                       "keytext=" + form_encode(armored), o.http);
    if (r.error != NetError::None) {
      return network_error(err, o.server, r);
    }
    std::istringstream lines(r.body);
    std::string line;
    bool refused = r.status != 200;
    while (std::getline(lines, line)) {
      if (!line.empty()) {
        out << line << "\n";
        refused = refused || line.starts_with("refused");
      }
    }
    if (r.status != 200 && r.body.empty()) {
      out << "refused: HTTP " << r.status << "\n";
    }
    if (refused) {
      result = r.status >= 500 ? kExitNetwork : kExitServerRefused;
      continue;
    }
    // Which addresses await confirmation (servers with the VKS API).
    int code = kExitOk;
    auto vks = vks_upload(o, armored, err, code);
    if (vks) {
      std::vector<std::string> waiting;
      for (const auto& [addr, st] : vks->status) {
        if (st == "unpublished" || st == "pending") {
          waiting.push_back(addr);
        }
      }
      if (!waiting.empty()) {
        if (verify_addresses) {
          code = request_verify(o, *vks, {}, out, err);
        } else {
          out << "  not yet published (the owner must confirm):";
          for (const auto& a : waiting) {
            out << " " << a;
          }
          out << "\n  to mail the confirmation links: keydir verify --server " << o.server
              << " " << certs[i].first << "\n";
        }
      }
    }
    if (code != kExitOk) {
      result = code;
    }
    if (progress && (i + 1) % 10 == 0) {
      err << "keydir upload: " << (i + 1) << "/" << certs.size() << "\n";
    }
  }
  return result;
}

int verify(const ClientOptions& o, const std::string& file, const std::vector<std::string>& emails,
           std::ostream& out, std::ostream& err) {
  std::string error;
  auto data = read_input(file, limits::kMaxUploadBytes * 4, error);
  if (!data) {
    err << "keydir verify: " << error << "\n";
    return kExitUsage;
  }
  openpgp::Policy policy;
  auto checked = openpgp::verify_input(*data, policy, now_seconds(), limits::kMaxUploadBytes * 4, 2);
  if (!checked || checked->size() != 1 || !checked->front().accepted()) {
    err << "keydir verify: " << file << ": "
        << (!checked ? checked.error().detail : std::string("give exactly one valid public key"))
        << "\n";
    return kExitUsage;
  }
  std::vector<std::string> wanted;
  for (const auto& e : emails) {
    auto parsed = openpgp::Email::parse(e);
    if (!parsed) {
      err << "keydir verify: not an e-mail address: " << e << "\n";
      return kExitUsage;
    }
    wanted.push_back(parsed->address());
  }
  int code = kExitOk;
  auto vks = vks_upload(o, openpgp::armor(checked->front().cert->to_bytes()), err, code);
  if (!vks) {
    if (code == kExitOk) {
      err << "keydir verify: " << o.server << " has no VKS API (/vks/v1/)\n";
      return kExitServerRefused;
    }
    return code;
  }
  out << vks->fpr << "\n";
  return request_verify(o, *vks, wanted, out, err);
}

std::vector<IndexEntry> parse_mr_index(std::string_view text) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size() && is_hex(s.substr(i + 1, 2))) {
        out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  };
  std::vector<IndexEntry> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    std::vector<std::string_view> f;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= line.size(); ++i) {
      if (i == line.size() || line[i] == ':') {
        f.push_back(line.substr(start, i - start));
        start = i + 1;
      }
    }
    auto at = [&](std::size_t i) { return i < f.size() ? std::string(f[i]) : std::string(); };
    if (f[0] == "pub" && f.size() >= 2) {
      IndexEntry e;
      e.key = at(1);
      e.algorithm = at(2);
      if (!e.algorithm.empty() && e.algorithm.size() <= 3 && is_hex(e.algorithm) &&
          std::all_of(e.algorithm.begin(), e.algorithm.end(), ::isdigit)) {
        auto name = openpgp::algorithm_name(
            static_cast<openpgp::PublicKeyAlgorithm>(std::stoi(e.algorithm)));
        if (!name.empty()) {
          e.algorithm = std::string(name);
        }
      }
      e.bits = at(3);
      e.created = at(4);
      e.expires = at(5);
      e.flags = at(6);
      out.push_back(std::move(e));
    } else if (f[0] == "uid" && f.size() >= 2 && !out.empty()) {
      out.back().user_ids.push_back(decode(f[1]));
    }
  }
  return out;
}

int search(const ClientOptions& o, const std::string& text, bool as_json, std::ostream& out,
           std::ostream& err) {
  auto r = http_get(o.server + "/pks/lookup?op=index&options=mr&search=" + form_encode(text),
                    o.http);
  if (r.error != NetError::None) {
    return network_error(err, o.server, r);
  }
  if (r.status != 200) {
    return status_error(err, "search for \"" + text + "\"", r);
  }
  auto entries = parse_mr_index(r.body);
  if (entries.empty()) {
    err << "keydir search: nothing found for \"" << text << "\"\n";
    return kExitNotFound;
  }
  auto date = [](const std::string& s) {
    return s.empty() ? std::string("-") : utc_date(std::stoull(s));
  };
  if (as_json) {
    json arr = json::array();
    for (const auto& e : entries) {
      arr.push_back({{"key", e.key},
                     {"algorithm", e.algorithm},
                     {"bits", e.bits},
                     {"created", e.created.empty() ? json() : json(date(e.created))},
                     {"expires", e.expires.empty() ? json() : json(date(e.expires))},
                     {"flags", e.flags},
                     {"user_ids", e.user_ids}});
    }
    out << arr.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  std::size_t key_w = 3;
  for (const auto& e : entries) {
    key_w = std::max(key_w, e.key.size());
  }
  out << std::left << std::setw(static_cast<int>(key_w)) << "KEY"
      << "  ALGORITHM    BITS  CREATED     FLAGS  USER IDS\n";
  for (const auto& e : entries) {
    out << std::left << std::setw(static_cast<int>(key_w)) << e.key << "  " << std::setw(11)
        << e.algorithm << "  " << std::setw(4) << e.bits << "  " << std::setw(10)
        << date(e.created) << "  " << std::setw(5) << (e.flags.empty() ? "-" : e.flags) << "  "
        << (e.user_ids.empty() ? std::string("-") : e.user_ids.front()) << "\n";
    for (std::size_t i = 1; i < e.user_ids.size(); ++i) {
      out << std::string(key_w + 40, ' ') << e.user_ids[i] << "\n";
    }
  }
  return kExitOk;
}

}  // namespace keydir::client
