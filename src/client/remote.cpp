#include "client/remote.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <limits>
#include <mutex>
#include <sstream>
#include <thread>

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

// Lines of a /pks/add answer printed for one key (keydird sends one).
constexpr std::size_t kMaxUploadAnswerLines = 100;

std::uint64_t now_seconds() {
  return static_cast<std::uint64_t>(std::time(nullptr));
}

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

// A network failure: message and exit code 3 (2 for a URL libcurl refuses).
int network_error(std::ostream& err, const std::string& what, const net::HttpResult& r) {
  const char* kind = "network error";
  switch (r.error) {
    case net::NetError::Dns:
      kind = "name lookup failed";
      break;
    case net::NetError::Connect:
      kind = "cannot connect";
      break;
    case net::NetError::Timeout:
      kind = "timed out";
      break;
    case net::NetError::Tls:
      kind = "TLS failed";
      break;
    case net::NetError::TooLarge:
      kind = "answer too large";
      break;
    case net::NetError::Usage:
      kind = "bad URL";
      break;
    default:
      break;
  }
  // libcurl's message may quote what the server sent (a redirect's host).
  err << "keydir: " << what << ": " << kind << ": " << printable(r.message, 300) << "\n";
  return exit_code(r.error);
}

// An HTTP status other than 2xx: 404 not found (1), other 4xx refused (5),
// 5xx a failing server (3). The server's reason is its body's first line.
int status_error(std::ostream& err, const std::string& what, const net::HttpResult& r) {
  std::string reason = server_reason(r.content_type, r.body);
  err << "keydir: " << what << ": HTTP " << r.status << (reason.empty() ? "" : ": " + reason)
      << "\n";
  if (r.status == 404) {
    return exit_code(ErrorCode::NotFound);
  }
  return r.status >= 500 ? kExitNetwork : kExitServerRefused;
}

// A decimal field of an index line: empty (nullopt), or a number of at most
// `max`; otherwise the reason.
std::optional<std::string> decimal(std::string_view field, std::uint64_t max, const char* what,
                                   std::optional<std::uint64_t>& out) {
  out.reset();
  if (field.empty()) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (ec == std::errc::result_out_of_range) {
    return std::string(what) + " \"" + printable(field, 40) + "\" is too large";
  }
  if (ec != std::errc() || end != field.data() + field.size()) {
    return std::string(what) + " \"" + printable(field, 40) + "\" is not a decimal number";
  }
  if (v > max) {
    return std::string(what) + " " + std::to_string(v) + " is larger than " + std::to_string(max);
  }
  out = v;
  return std::nullopt;
}

std::optional<std::string> letters(std::string_view field, const char* what) {
  if (field.size() > 8 || !std::all_of(field.begin(), field.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      })) {
    return std::string(what) + " \"" + printable(field, 40) + "\" are not up to 8 letters";
  }
  return std::nullopt;
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

tl::expected<Bytes, AnswerError> check_answer(ByteView answer, const FetchQuery& query,
                                              std::uint64_t now, std::size_t* third_party) {
  auto bad = [](std::string why) {
    return tl::unexpected<AnswerError>(
        AnswerError{exit_code(ErrorCode::AnswerDidNotVerify), std::move(why)});
  };
  auto wrong = [](std::string why) {
    return tl::unexpected<AnswerError>(AnswerError{kExitWrongKey, std::move(why)});
  };
  openpgp::Policy policy;
  auto checked = openpgp::verify_input(answer, policy, now, limits::kMaxUploadBytes * 4, 1000);
  if (!checked) {
    return bad("the answer is not a valid key: " + printable(checked.error().detail, 300));
  }
  if (checked->empty()) {
    return bad("the answer holds no key");
  }
  for (const auto& v : *checked) {
    if (!v.accepted()) {
      return bad("the answer holds a key that does not verify: " +
                 printable(v.refusal->detail, 300));
    }
    for (const auto& f : v.stripped) {
      if (query.strict && f.reason.find("does not verify") != std::string::npos) {
        return bad("the answer holds key " + v.cert->fingerprint().to_hex() + " with a " +
                   printable(f.component, 200) + " whose self-signature does not verify (" +
                   printable(f.reason, 200) + "): it was changed; nothing was accepted");
      }
      if (third_party && f.reason.starts_with("third-party ")) {
        ++*third_party;
      }
    }
  }
  const bool by_key = query.fingerprint || query.key_id;
  if (by_key && checked->size() > 1) {
    std::string which;
    for (std::size_t i = 0; i < checked->size() && i < 3; ++i) {
      which += (i ? ", " : "") + (*checked)[i].cert->fingerprint().to_hex();
    }
    return wrong("the answer holds " + std::to_string(checked->size()) + " keys (" + which +
                 (checked->size() > 3 ? ", …" : "") + ") for the " + query.describe() +
                 ", which names one; nothing was accepted");
  }
  Bytes out;
  for (const auto& v : *checked) {
    const auto& c = v.cert->cert();
    const std::string got = "the answer holds key " + c.primary.fingerprint.to_hex();
    if (by_key) {
      const bool primary = query.fingerprint ? c.primary.fingerprint == *query.fingerprint
                                             : c.primary.key_id == *query.key_id;
      if (!primary) {
        // Does it carry the key asked for as a subkey, and does that subkey
        // prove possession (a signing subkey's binding holds a back-signature
        // made by the subkey; verify() strips signing bindings without one)?
        std::optional<bool> proves;
        for (std::size_t i = 0; i < c.subkeys.size(); ++i) {
          const auto& k = c.subkeys[i].key;
          if (query.fingerprint ? k.fingerprint == *query.fingerprint : k.key_id == *query.key_id) {
            const auto& flags = v.cert->subkey_states()[i].flags;
            proves = proves.value_or(false) ||
                     (flags && (*flags & (openpgp::kFlagSign | openpgp::kFlagCertify)) != 0);
          }
        }
        if (!proves) {
          return wrong(got + ", which is not the " + query.describe() + " asked for");
        }
        if (!query.subkey) {
          return wrong(got + ", which carries the " + query.describe() +
                       " only as a subkey, not as its primary key (anybody can attach another "
                       "person's public key to their own certificate); --subkey accepts a signing "
                       "subkey that proves possession");
        }
        if (!*proves) {
          return wrong(got + ", which carries the " + query.describe() +
                       " as a subkey that does not prove possession (not a signing subkey with a "
                       "back-signature): refused even with --subkey");
        }
      }
    } else if (query.email) {
      bool match = false;
      for (const auto& st : v.cert->user_id_states()) {
        match = match || (st.email && !st.revocation && *st.email == *query.email);
      }
      if (!match) {
        return wrong(got + ", which is not the " + query.describe() +
                     " asked for: the answer holds no user ID with " + query.email->address() +
                     " (that is not revoked)");
      }
    }
    append(out, v.cert->to_bytes());
  }
  return out;
}

std::pair<std::string, std::string> wkd_urls(const openpgp::Email& email, bool escape) {
  auto h = openpgp::WkdHash::of(email);
  std::string l = escape ? net::form_encode(email.local_part()) : std::string(email.local_part());
  std::string d(email.domain());
  return {
      "https://openpgpkey." + d + "/.well-known/openpgpkey/" + d + "/hu/" + h.hash() + "?l=" + l,
      "https://" + d + "/.well-known/openpgpkey/hu/" + h.hash() + "?l=" + l};
}

namespace {

// Why a request failed, in words: the kind of failure and libcurl's message.
std::string failure_of(const net::HttpResult& r) {
  const char* kind = "network error";
  switch (r.error) {
    case net::NetError::Dns:
      kind = "no such host (name lookup failed)";
      break;
    case net::NetError::Connect:
      kind = "cannot connect";
      break;
    case net::NetError::Timeout:
      kind = "timed out";
      break;
    case net::NetError::Tls:
      kind = "TLS failed";
      break;
    case net::NetError::TooLarge:
      kind = "answer too large";
      break;
    case net::NetError::Usage:
      kind = "bad URL";
      break;
    default:
      break;
  }
  return std::string(kind) + ": " + printable(r.message, 300);
}

// "keydir: trying URL (N s)" on `err` once a request has taken a second,
// then each second, from a timer thread, until the request ends. On a
// terminal the line is rewritten in place and wiped at the end; otherwise
// each is a line of its own. The caller writes nothing to `err` meanwhile.
class Progress {
 public:
  Progress(std::ostream& err, const FetchOptions& fo, const std::string& url)
      : err_(fo.progress_out ? *fo.progress_out : err) {
    if (!fo.progress) {
      return;
    }
    thread_ = std::thread([this, url, terminal = fo.progress_terminal] {
      std::unique_lock lock(mutex_);
      for (int seconds = 1; !cv_.wait_for(lock, std::chrono::seconds(1), [this] { return done_; });
           ++seconds) {
        // On a terminal the line must fit (a wrapped line is not rewritten).
        std::string line = "keydir: trying " + printable(url, terminal ? 56 : 200) + " (" +
                           std::to_string(seconds) + " s)";
        if (terminal) {
          width_ = std::max(width_, line.size());
          err_ << "\r" << line << std::flush;
        } else {
          err_ << line << "\n" << std::flush;
        }
      }
      if (terminal && width_ != 0) {
        err_ << "\r" << std::string(width_, ' ') << "\r" << std::flush;
      }
    });
  }
  ~Progress() {
    if (thread_.joinable()) {
      {
        std::lock_guard lock(mutex_);
        done_ = true;
      }
      cv_.notify_one();
      thread_.join();
    }
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

 private:
  std::ostream& err_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::size_t width_ = 0;
  std::thread thread_;
};

net::HttpResult get_with_progress(const std::string& url, const net::HttpOptions& ho,
                                  const std::vector<std::string>& headers, const FetchOptions& fo,
                                  std::ostream& err) {
  Progress progress(err, fo, url);
  return net::http_get(url, ho, headers);
}

std::string keys_found(std::size_t n) {
  return n == 1 ? "1 key" : std::to_string(n) + " keys";
}

std::size_t count_certs(ByteView certs) {
  auto parsed = openpgp::parse_certificates(certs);
  return parsed ? parsed->size() : 0;
}

}  // namespace

int fetch(const ClientOptions& options, const FetchQuery& query, const FetchOptions& fo,
          Bytes& certs, std::ostream& err, FetchReport* report) {
  // -v: every step, its URL and its outcome. Without it only what fetch
  // always said: WKD failures other than 404, refused answers, the error.
  auto say = [&](const std::string& line) {
    if (fo.verbose) {
      err << "keydir: " << line << "\n";
    }
  };
  int result = kExitNotFound;
  std::size_t third_party = 0;
  // 1. WKD (addresses only): advanced, then direct. An unreachable host
  //    falls through quickly (short connect timeout).
  if (!query.email) {
    say("WKD: skipped (the " + query.describe() + " is not an e-mail address)");
  } else if (!fo.wkd) {
    say("WKD: skipped (--no-wkd)");
  }
  if (query.email && fo.wkd) {
    auto [advanced, direct] = wkd_urls(*query.email);
    const std::string d(query.email->domain());
    for (int method = 0; method < 2; ++method) {
      std::string url = method == 0 ? advanced : direct;
      const std::string host = method == 0 ? "openpgpkey." + d : d;
      const std::string step = method == 0 ? "WKD advanced" : "WKD direct";
      net::HttpOptions ho = options.http;
      ho.connect_timeout = std::min<long>(ho.connect_timeout, 3);
      std::vector<std::string> headers;
      std::string via;
      if (!fo.wkd_host.empty()) {
        if (fo.wkd_host.starts_with("http://")) {
          // Plain HTTP to a test or internal host, with the Host header the
          // real request would carry.
          url = fo.wkd_host + url.substr(url.find('/', 8));
          headers.push_back("Host: " + host);
          via = " (Host: " + host + ", --wkd-host)";
        } else {
          std::string to =
              fo.wkd_host.starts_with("https://") ? fo.wkd_host.substr(8) : fo.wkd_host;
          if (to.find(':') == std::string::npos) {
            to += ":443";
          }
          ho.connect_to.push_back(host + ":443:" + to);
          via = " (connecting to " + to + ", --wkd-host)";
        }
      }
      say(step + ": GET " + url + via);
      auto r = get_with_progress(url, ho, headers, fo, err);
      if (r.error != net::NetError::None) {
        if (fo.verbose) {
          say(step + ": " + failure_of(r) + "; trying the next source");
        } else {
          err << "keydir: WKD " << (method == 0 ? "advanced" : "direct") << " (" << host
              << "): " << printable(r.message, 300) << "; trying the next source\n";
        }
        continue;
      }
      if (r.status == 404) {
        say(step + ": HTTP 404: no key for " + query.email->address() + " there");
        continue;
      }
      if (r.status != 200) {
        if (fo.verbose) {
          const std::string reason = server_reason(r.content_type, r.body);
          say(step + ": HTTP " + std::to_string(r.status) + (reason.empty() ? "" : ": " + reason) +
              "; trying the next source");
        } else {
          err << "keydir: WKD " << host << ": HTTP " << r.status << "; trying the next source\n";
        }
        continue;
      }
      auto checked = check_answer(as_bytes(r.body), query, now_seconds(), &third_party);
      if (!checked) {
        if (fo.verbose) {
          say(step + ": the answer was refused: " + checked.error().detail);
        } else {
          err << "keydir: WKD " << host << ": " << checked.error().detail << "\n";
        }
        result = checked.error().exit_code;
        if (report) {
          report->error = step + " (" + url + "): " + checked.error().detail;
        }
        continue;
      }
      say(step + ": " + keys_found(count_certs(*checked)) + " for " + query.email->address() +
          ", checked: the answer comes from " + step);
      if (report) {
        report->source = step + " (" + url + ")";
        report->third_party_dropped = third_party;
      }
      certs = std::move(*checked);
      return kExitOk;
    }
  }
  // 2. The server, over HKP.
  if (!fo.server || options.server.empty()) {
    say("server: skipped (" +
        std::string(options.server.empty() ? "no --server and no KEYDIR_SERVER" : "not asked") +
        ")");
    if (result == kExitNotFound) {
      err << "keydir: no key found for " << query.describe() << "\n";
    }
    return result;
  }
  std::string url;
  if (fo.vks) {
    url = options.server +
          (query.fingerprint ? "/vks/v1/by-fingerprint/" + query.fingerprint->to_hex()
           : query.key_id    ? "/vks/v1/by-keyid/" + query.key_id->to_hex()
                             : "/vks/v1/by-email/" + net::form_encode(query.email->address()));
  } else {
    std::string search = query.fingerprint ? "0x" + query.fingerprint->to_hex()
                         : query.key_id    ? "0x" + query.key_id->to_hex()
                                           : query.email->address();
    url = options.server + "/pks/lookup?op=get&options=mr&search=" + net::form_encode(search);
  }
  say(std::string("server: GET ") + url);
  auto r = get_with_progress(url, options.http, {}, fo, err);
  if (r.error != net::NetError::None) {
    if (report) {
      report->error = "the server (" + url + "): " + failure_of(r);
    }
    return network_error(err, options.server, r);
  }
  if (r.status != 200) {
    const int code =
        status_error(err, "no key for " + query.describe() + " from " + options.server, r);
    if (report && code != kExitNotFound) {
      const std::string reason = server_reason(r.content_type, r.body);
      report->error = "the server (" + url + "): HTTP " + std::to_string(r.status) +
                      (reason.empty() ? "" : ": " + reason);
    }
    // The server has none, but a WKD host answered a wrong key: say so.
    return code == kExitNotFound && result != kExitNotFound ? result : code;
  }
  third_party = 0;
  auto checked = check_answer(as_bytes(r.body), query, now_seconds(), &third_party);
  if (!checked) {
    err << "keydir: " << options.server << ": " << checked.error().detail << "\n";
    if (report) {
      report->error = "the server (" + url + "): " + checked.error().detail;
    }
    return checked.error().exit_code;
  }
  say("server: " + keys_found(count_certs(*checked)) + " for the " + query.describe() +
      ", checked: the answer comes from the server");
  if (report) {
    report->source = "the server (" + url + ")";
    report->third_party_dropped = third_party;
  }
  certs = std::move(*checked);
  return kExitOk;
}

namespace {

std::optional<VksAnswer> vks_upload(const ClientOptions& o, const std::string& armored,
                                    const openpgp::Fingerprint& fpr, std::ostream& err, int& code) {
  auto r = net::http_post(o.server + "/vks/v1/upload", "application/json",
                          json{{"keytext", armored}}.dump(), o.http);
  if (r.error != net::NetError::None) {
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
  auto a = parse_vks_answer(r.body);
  if (!a) {
    err << "keydir: " << o.server << ": " << a.error().detail << "\n";
    code = exit_code(a.error().code);
    return std::nullopt;
  }
  if (a->fpr != fpr.to_hex()) {
    err << "keydir: " << o.server << ": the VKS answer speaks of key " << a->fpr
        << ", not of the key uploaded (" << fpr.to_hex() << ")\n";
    code = kExitWrongKey;
    return std::nullopt;
  }
  code = kExitOk;
  return std::move(*a);
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
  auto r = net::http_post(o.server + "/vks/v1/request-verify", "application/json",
                          json{{"token", a.token}, {"addresses", emails}}.dump(), o.http);
  if (r.error != net::NetError::None) {
    return network_error(err, o.server, r);
  }
  if (r.status != 200) {
    return status_error(err, "request-verify", r);
  }
  auto answer = parse_vks_answer(r.body, true);
  if (!answer) {
    err << "keydir: " << o.server << ": request-verify: " << answer.error().detail << "\n";
    return exit_code(answer.error().code);
  }
  for (const auto& [addr, st] : answer->status) {
    out << "  " << addr << ": " << st
        << (st == "pending" ? " (a confirmation link was mailed to it)" : "") << "\n";
  }
  return kExitOk;
}

}  // namespace

int upload(const ClientOptions& o, const std::vector<std::string>& files, bool verify_addresses,
           std::ostream& out, std::ostream& err) {
  // 1. Read and check everything locally first: nothing is sent if any
  //    input is a secret key or not a key at all.
  struct ToSend {
    std::string file;
    Bytes cert;  // binary
    openpgp::Fingerprint fpr;
  };
  std::vector<ToSend> certs;
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
      return exit_code(checked.error().code);
    }
    for (auto& v : *checked) {
      if (!v.accepted()) {
        err << "keydir upload: " << f << ": key "
            << (v.fingerprint ? v.fingerprint->to_hex() : std::string("?"))
            << " would be refused: " << v.refusal->detail << "\n";
        return exit_code(v.refusal->code);
      }
      certs.push_back({f, v.cert->to_bytes(), v.cert->fingerprint()});
    }
  }
  // 2. Send, one certificate per request (so that each gets its answer).
  int result = kExitOk;
  const bool progress = certs.size() > 10;
  for (std::size_t i = 0; i < certs.size(); ++i) {
    const std::string armored = openpgp::armor(certs[i].cert);
    auto r = net::http_post(o.server + "/pks/add", "application/x-www-form-urlencoded",
                            "keytext=" + net::form_encode(armored), o.http);
    if (r.error != net::NetError::None) {
      return network_error(err, o.server, r);
    }
    // The server's report, one line per key: printable, and bounded.
    std::istringstream lines(r.body);
    std::string line;
    bool refused = r.status != 200;
    std::size_t shown = 0, more = 0;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      if (!line.empty()) {
        if (shown < kMaxUploadAnswerLines) {
          out << printable(line, 300) << "\n";
          ++shown;
        } else {
          ++more;
        }
        refused = refused || line.starts_with("refused");
      }
    }
    if (more != 0) {
      out << "(" << more << " more lines from the server)\n";
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
    auto vks = vks_upload(o, armored, certs[i].fpr, err, code);
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
          out << "\n  to mail the confirmation links: keydir verify --server " << o.server << " "
              << certs[i].file << "\n";
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
  auto checked =
      openpgp::verify_input(*data, policy, now_seconds(), limits::kMaxUploadBytes * 4, 2);
  if (!checked || checked->size() != 1 || !checked->front().accepted()) {
    err << "keydir verify: " << file << ": "
        << (!checked ? checked.error().detail : std::string("give exactly one valid public key"))
        << "\n";
    return !checked ? exit_code(checked.error().code) : kExitUsage;
  }
  std::vector<std::string> wanted;
  for (const auto& e : emails) {
    auto parsed = openpgp::Email::parse(e);
    if (!parsed) {
      err << "keydir verify: not an e-mail address: " << e << "\n";
      return exit_code(parsed.error().code);
    }
    wanted.push_back(parsed->address());
  }
  int code = kExitOk;
  auto vks = vks_upload(o, openpgp::armor(checked->front().cert->to_bytes()),
                        checked->front().cert->fingerprint(), err, code);
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

std::string printable(std::string_view text, std::size_t max) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const bool cut = text.size() > max;
  if (cut) {
    text = text.substr(0, max);
  }
  std::string out;
  out.reserve(text.size());
  auto escape = [&](unsigned char c) {
    out += "\\x";
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7F) {
        escape(c);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    // One UTF-8 sequence: shortest form, no surrogates, at most U+10FFFF.
    const std::size_t n = c >= 0xC2 && c <= 0xDF   ? 2
                          : c >= 0xE0 && c <= 0xEF ? 3
                          : c >= 0xF0 && c <= 0xF4 ? 4
                                                   : 0;
    std::uint32_t cp = c & (n == 2 ? 0x1Fu : n == 3 ? 0x0Fu : 0x07u);
    bool ok = n != 0 && i + n <= text.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto d = static_cast<unsigned char>(text[i + k]);
      ok = (d & 0xC0) == 0x80;
      cp = (cp << 6) | (d & 0x3Fu);
    }
    ok = ok && !(n == 3 && cp < 0x800) && !(n == 4 && cp < 0x10000) && cp <= 0x10FFFF &&
         !(cp >= 0xD800 && cp <= 0xDFFF);
    // C1 controls, and the bidirectional overrides and isolates that can
    // make a line read differently from what it holds.
    const bool hidden = (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
                        (cp >= 0x2066 && cp <= 0x2069);
    if (!ok) {
      escape(c);
      ++i;
      continue;
    }
    for (std::size_t k = 0; k < n; ++k) {
      if (hidden) {
        escape(static_cast<unsigned char>(text[i + k]));
      } else {
        out.push_back(text[i + k]);
      }
    }
    i += n;
  }
  if (cut) {
    out += "…";
  }
  return out;
}

std::string server_reason(std::string_view content_type, std::string_view body) {
  std::string reason;
  if (content_type.starts_with("application/json") && body.size() <= (std::size_t{1} << 20)) {
    auto j = json::parse(body, nullptr, false);
    if (j.is_object()) {
      auto e = j.find("error");
      if (e != j.end() && e->is_string()) {
        reason = e->get<std::string>();
      }
    }
  }
  if (reason.empty()) {
    reason = std::string(body.substr(0, 4096));
  }
  reason = first_line(reason);
  return printable(reason, 200);
}

Result<VksAnswer> parse_vks_answer(std::string_view body, bool status_only) {
  auto bad = [](const std::string& why) {
    return fail(ErrorCode::AnswerDidNotVerify, "the VKS answer " + why);
  };
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object()) {
    return bad("is not a JSON object");
  }
  VksAnswer a;
  if (!status_only) {
    auto f = j.find("key_fpr");
    if (f == j.end() || !f->is_string()) {
      return bad("has no key_fpr");
    }
    a.fpr = f->get<std::string>();
    if (!is_hex(a.fpr) || (a.fpr.size() != 40 && a.fpr.size() != 64)) {
      return bad("key_fpr \"" + printable(a.fpr, 80) + "\" is not a fingerprint");
    }
    std::transform(a.fpr.begin(), a.fpr.end(), a.fpr.begin(),
                   [](char c) { return c >= 'a' && c <= 'f' ? static_cast<char>(c - 32) : c; });
    auto t = j.find("token");
    if (t == j.end() || !t->is_string()) {
      return bad("has no token");
    }
    a.token = t->get<std::string>();
    if (a.token.empty() || a.token.size() > 1024 ||
        !std::all_of(a.token.begin(), a.token.end(), [](char c) { return c > 0x20 && c < 0x7F; })) {
      return bad("token is not 1 to 1024 printable ASCII characters");
    }
  }
  auto st = j.find("status");
  if (st == j.end() || !st->is_object()) {
    return bad("has no status object");
  }
  if (st->size() > limits::kMaxUserIdsPerCert) {
    return bad("names " + std::to_string(st->size()) + " addresses, more than a key can hold (" +
               std::to_string(limits::kMaxUserIdsPerCert) + ")");
  }
  for (const auto& [addr, state] : st->items()) {
    if (addr.size() > 254 || addr.find_first_of("<> ") != std::string::npos ||
        !openpgp::Email::parse(addr)) {
      return bad("status names \"" + printable(addr, 80) + "\", which is not an e-mail address");
    }
    const std::string name = state.is_string() ? state.get<std::string>() : std::string();
    if (name.empty() || name.size() > 32 || !std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || c == '_' || c == '-';
        })) {
      return bad("status of " + printable(addr, 80) + " is not a state name");
    }
    a.status.emplace_back(addr, name);
  }
  return a;
}

Result<std::vector<IndexEntry>> parse_mr_index(std::string_view text) {
  std::vector<IndexEntry> out;
  std::size_t pos = 0;
  std::size_t number = 0;
  while (pos < text.size()) {
    ++number;
    auto nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    auto bad = [&](const std::string& why) {
      return fail(ErrorCode::AnswerDidNotVerify,
                  "the index answer is malformed: line " + std::to_string(number) + ": " + why);
    };
    if (line.size() > kMaxIndexLineBytes) {
      return bad("longer than " + std::to_string(kMaxIndexLineBytes) + " octets");
    }
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty()) {
      continue;
    }
    if (auto c = std::find_if(line.begin(), line.end(),
                              [](char ch) {
                                auto u = static_cast<unsigned char>(ch);
                                return u < 0x20 || u == 0x7F;
                              });
        c != line.end()) {
      return bad("control octet \\x" +
                 std::string(1, "0123456789ABCDEF"[static_cast<unsigned char>(*c) >> 4]) +
                 std::string(1, "0123456789ABCDEF"[static_cast<unsigned char>(*c) & 15]));
    }
    std::vector<std::string_view> f;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= line.size(); ++i) {
      if (i == line.size() || line[i] == ':') {
        f.push_back(line.substr(start, i - start));
        start = i + 1;
      }
    }
    auto at = [&](std::size_t i) { return i < f.size() ? f[i] : std::string_view(); };
    std::optional<std::uint64_t> n;
    if (f[0] == "info") {
      if (f.size() > 3) {
        return bad("an info line has " + std::to_string(f.size()) + " fields, at most 3");
      }
      if (auto e = decimal(at(1), 1000, "the index version", n)) {
        return bad(*e);
      }
      if (n && *n != 1) {
        return bad("index version " + std::to_string(*n) + " is not supported (only 1)");
      }
      if (auto e = decimal(at(2), std::numeric_limits<std::uint32_t>::max(), "the count", n)) {
        return bad(*e);
      }
    } else if (f[0] == "pub") {
      if (f.size() < 2 || f.size() > 7) {
        return bad("a pub line has " + std::to_string(f.size()) + " fields, 2 to 7");
      }
      IndexEntry e;
      const auto key = f[1];
      if (!is_hex(key) || (key.size() != 8 && key.size() != 16 && key.size() != 32 &&
                           key.size() != 40 && key.size() != 64)) {
        return bad("key \"" + printable(key, 80) +
                   "\" is not hex of a key ID or fingerprint length (8, 16, 32, 40, 64)");
      }
      std::transform(key.begin(), key.end(), std::back_inserter(e.key),
                     [](char c) { return c >= 'a' && c <= 'f' ? static_cast<char>(c - 32) : c; });
      if (auto err = decimal(at(2), 255, "the algorithm", n)) {
        return bad(*err);
      }
      if (n) {
        e.algorithm = static_cast<std::uint8_t>(*n);
      }
      if (auto err = decimal(at(3), kMaxIndexBits, "the key length", n)) {
        return bad(*err);
      }
      if (n) {
        e.bits = static_cast<std::uint32_t>(*n);
      }
      if (auto err = decimal(at(4), kMaxIndexTime, "the creation date", e.created)) {
        return bad(*err);
      }
      if (auto err = decimal(at(5), kMaxIndexTime, "the expiry date", e.expires)) {
        return bad(*err);
      }
      if (auto err = letters(at(6), "the flags")) {
        return bad(*err);
      }
      e.flags = std::string(at(6));
      out.push_back(std::move(e));
    } else if (f[0] == "uid") {
      if (f.size() < 2 || f.size() > 5) {
        return bad("a uid line has " + std::to_string(f.size()) + " fields, 2 to 5");
      }
      if (out.empty()) {
        return bad("a uid line before any pub line");
      }
      std::string uid;
      const auto s = f[1];
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && is_hex(s.substr(i + 1, 2))) {
          unsigned v = 0;
          std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
          uid.push_back(static_cast<char>(v));
          i += 2;
        } else {
          uid.push_back(s[i]);
        }
      }
      if (uid.size() > kMaxIndexUserIdBytes) {
        return bad("a user ID longer than " + std::to_string(kMaxIndexUserIdBytes) + " octets");
      }
      for (std::size_t i : {2u, 3u}) {
        if (auto err = decimal(at(i), kMaxIndexTime,
                               i == 2 ? "the creation date" : "the expiry date", n)) {
          return bad(*err);
        }
      }
      if (auto err = letters(at(4), "the flags")) {
        return bad(*err);
      }
      out.back().user_ids.push_back(std::move(uid));
    }
    // Other line types are for future versions of the format: skipped.
  }
  return out;
}

void print_index(const std::vector<IndexEntry>& entries, bool as_json, std::ostream& out) {
  auto date = [](const std::optional<std::uint64_t>& t) {
    return t ? utc_date(*t) : std::string("-");
  };
  auto algorithm = [](const std::optional<std::uint8_t>& a) {
    if (!a) {
      return std::string();
    }
    auto name = openpgp::algorithm_name(static_cast<openpgp::PublicKeyAlgorithm>(*a));
    return name.empty() || name == "unknown" ? std::to_string(*a) : std::string(name);
  };
  if (as_json) {
    json arr = json::array();
    for (const auto& e : entries) {
      arr.push_back({{"key", e.key},
                     {"algorithm", algorithm(e.algorithm)},
                     {"bits", e.bits ? std::to_string(*e.bits) : std::string()},
                     {"created", e.created ? json(date(e.created)) : json()},
                     {"expires", e.expires ? json(date(e.expires)) : json()},
                     {"flags", e.flags},
                     {"user_ids", e.user_ids}});
    }
    // ensure_ascii: the JSON escapes C0 controls itself, but would pass DEL,
    // C1 controls (U+009B is CSI) and bidirectional overrides from the
    // server's user IDs to the terminal raw; \uXXXX for everything past
    // ASCII keeps the printout as safe as printable() makes the table.
    out << arr.dump(2, ' ', true, json::error_handler_t::replace) << "\n";
    return;
  }
  std::size_t key_w = 3;
  for (const auto& e : entries) {
    key_w = std::max(key_w, e.key.size());
  }
  out << std::left << std::setw(static_cast<int>(key_w)) << "KEY"
      << "  ALGORITHM    BITS  CREATED     FLAGS  USER IDS\n";
  for (const auto& e : entries) {
    const std::string a = algorithm(e.algorithm);
    out << std::left << std::setw(static_cast<int>(key_w)) << e.key << "  " << std::setw(11)
        << (a.empty() ? "-" : a) << "  " << std::setw(4)
        << (e.bits ? std::to_string(*e.bits) : std::string("-")) << "  " << std::setw(10)
        << date(e.created) << "  " << std::setw(5) << (e.flags.empty() ? "-" : e.flags) << "  "
        << (e.user_ids.empty() ? std::string("-") : printable(e.user_ids.front())) << "\n";
    for (std::size_t i = 1; i < e.user_ids.size(); ++i) {
      out << std::string(key_w + 40, ' ') << printable(e.user_ids[i]) << "\n";
    }
  }
}

int search(const ClientOptions& o, const std::string& text, bool as_json, std::ostream& out,
           std::ostream& err) {
  auto r = net::http_get(
      o.server + "/pks/lookup?op=index&options=mr&search=" + net::form_encode(text), o.http);
  if (r.error != net::NetError::None) {
    return network_error(err, o.server, r);
  }
  if (r.status != 200) {
    return status_error(err, "search for \"" + printable(text, 200) + "\"", r);
  }
  auto entries = parse_mr_index(r.body);
  if (!entries) {
    err << "keydir search: " << o.server << ": " << entries.error().detail << "\n";
    return exit_code(entries.error().code);
  }
  if (entries->empty()) {
    err << "keydir search: nothing found for \"" << printable(text, 200) << "\"\n";
    return kExitNotFound;
  }
  print_index(*entries, as_json, out);
  return kExitOk;
}

}  // namespace keydir::client
