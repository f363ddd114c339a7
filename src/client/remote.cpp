#include "client/remote.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <limits>
#include <locale>
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

// Why a request failed, in words: the kind of failure and libcurl's message
// (which may quote what the server sent, a redirect's host: printable).
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

// A network failure: message and exit code 3 (2 for a URL libcurl refuses).
int network_error(std::ostream& err, const std::string& what, const net::HttpResult& r) {
  err << "keydir: " << what << ": " << failure_of(r) << "\n";
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
  if (query.email && fo.wkd && fo.log_proof) {
    say("WKD: skipped (--audit asks the server, whose log proves the answer)");
  }
  if (query.email && fo.wkd && !fo.log_proof) {
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
  net::HttpOptions server_http = options.http;
  std::vector<std::string> server_headers;
  if (fo.log_proof) {
    server_headers.push_back("Keydir-Log-Proof: 1");
    server_http.keep_headers = {"Keydir-Log-Checkpoint", "Keydir-Log-Inclusion"};
  }
  auto r = get_with_progress(url, server_http, server_headers, fo, err);
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
    if (fo.log_proof) {
      for (auto& [name, value] : r.response_headers) {
        (name == "Keydir-Log-Checkpoint" ? report->log_checkpoint : report->log_inclusion) =
            std::move(value);
      }
      report->served = std::move(r.body);
    }
  }
  certs = std::move(*checked);
  return kExitOk;
}

namespace {

// --- uploads ------------------------------------------------------------------

// One key to upload, checked here: where it came from and what is sent.
struct ToSend {
  std::string file;
  Bytes cert;  // binary
  std::string fpr;
};

// "FILE: key FPR", the start of every error line about one key.
std::string key_label(const ToSend& k) {
  return printable(k.file, 300) + ": key " + k.fpr;
}

// Text for a wait: "12 s", "7 min 30 s", "27 h 46 min".
std::string duration(std::uint64_t s) {
  if (s < 60) {
    return std::to_string(s) + " s";
  }
  if (s < 3600) {
    return std::to_string(s / 60) + " min" + (s % 60 ? " " + std::to_string(s % 60) + " s" : "");
  }
  return std::to_string(s / 3600) + " h" +
         (s % 3600 / 60 ? " " + std::to_string(s % 3600 / 60) + " min" : "");
}

// One upload request, and what came of it.
struct Sent {
  net::HttpResult r;
  // Not empty: the server asked to wait, and keydir did not (longer than
  // max_wait, --no-wait, or too many waits): why, and when to retry.
  std::string stopped;
};

// POSTs `body`, again after each wait a 429 (or a 503 with Retry-After)
// asks for, with a visible line on `err` before each wait. `context` names
// what is being sent ("key 3 of 20, c.asc").
Sent post_paced(const ClientOptions& o, const UploadOptions& uo, const std::string& path,
                const std::string& type, const std::string& body, const std::string& context,
                const char* command, std::ostream& out, std::ostream& err) {
  net::HttpOptions http = o.http;
  if (!uo.token.empty()) {
    http.headers.push_back("Authorization: Bearer " + uo.token);
  }
  for (int waits = 0;; ++waits) {
    Sent s;
    s.r = net::http_post(o.server + path, type, body, http);
    const auto& r = s.r;
    if (r.error != net::NetError::None ||
        !(r.status == 429 || (r.status == 503 && !r.retry_after.empty()))) {
      return s;
    }
    const char* why = r.status == 429 ? "rate limit" : "server busy";
    const std::uint64_t now = now_seconds();
    auto wait = parse_retry_after(r.retry_after, now);
    if (!wait) {
      if (r.status == 429) {
        s.stopped = std::string("the server refused it for now (") + why +
                    ") and said not when to retry (no valid Retry-After)";
      }
      return s;
    }
    // At least a second: a server answering "0" again and again is not
    // asked as fast as the network goes.
    const std::uint64_t secs = std::max<std::uint64_t>(*wait, 1);
    if (secs > uo.max_wait || waits >= kMaxRetries) {
      s.stopped = "the server asks to wait " + duration(secs) + " (" + why + ")" +
                  (uo.max_wait == 0 ? ", and --no-wait was given"
                   : waits >= kMaxRetries
                       ? ", after " + std::to_string(waits) + " waits already"
                       : ", longer than keydir waits (" + duration(uo.max_wait) + ", --max-wait)") +
                  "; retry after " + utc_timestamp(now + secs);
      return s;
    }
    out << std::flush;
    err << "keydir " << command << ": the server asks to wait " << duration(secs) << " (" << why
        << "; " << context << "); waiting…\n"
        << std::flush;
    std::this_thread::sleep_for(std::chrono::seconds(secs));
  }
}

// What a 401 means to the person uploading, once per run.
void explain_unauthorized(const UploadOptions& uo, const char* command, std::ostream& err) {
  err << "keydir " << command
      << ": the directory takes uploads from its operators only: give --token-file FILE "
         "(or KEYDIR_TOKEN_FILE, or token-file in ~/.config/keydir/config.toml)\n";
  if (!uo.token.empty()) {
    err << "keydir " << command << ": the server refused the token"
        << (uo.token_source.empty() ? "" : " from " + uo.token_source) << "\n";
  }
}

// The exit code of an HTTP answer that is not 2xx (status_error's rule).
int status_code_exit(long status) {
  if (status == 404) {
    return exit_code(ErrorCode::NotFound);
  }
  return status >= 500 ? kExitNetwork : kExitServerRefused;
}

// Why a request that failed in the network left its keys as it did.
std::string network_reason(const net::HttpResult& r) {
  switch (r.error) {
    case net::NetError::Dns:
    case net::NetError::Connect:
    case net::NetError::Tls:
    case net::NetError::Usage:
      return "not sent (" + printable(r.message, 300) + ")";
    default:
      return "sent, but no answer came (" + printable(r.message, 300) +
             "): the server may have stored it; upload again to know (an upload of a stored "
             "key changes nothing)";
  }
}

// The VKS upload of one key. nullopt with code kExitOk: the server has no
// VKS API; with another code, the error is printed, and `stop` says whether
// the next keys would fare the same (the network, a wait not taken, 401).
std::optional<VksAnswer> vks_upload(const ClientOptions& o, const UploadOptions& uo,
                                    const ToSend& k, const std::string& context,
                                    const char* command, std::ostream& out, std::ostream& err,
                                    int& code, bool& stop) {
  stop = true;
  auto sent =
      post_paced(o, uo, "/vks/v1/upload", "application/json",
                 json{{"keytext", openpgp::armor(k.cert)}}.dump(), context, command, out, err);
  const auto& r = sent.r;
  if (r.error != net::NetError::None) {
    err << "keydir " << command << ": " << key_label(k) << ": " << network_reason(r) << "\n";
    code = exit_code(r.error);
    return std::nullopt;
  }
  if (!sent.stopped.empty()) {
    err << "keydir " << command << ": " << key_label(k) << ": not sent: " << sent.stopped << "\n";
    code = exit_code(ErrorCode::RateLimited);
    return std::nullopt;
  }
  if (r.status == 404 || r.status == 405 || r.status == 501) {
    code = kExitOk;
    return std::nullopt;
  }
  if (r.status != 200) {
    const std::string reason = server_reason(r.content_type, r.body);
    err << "keydir " << command << ": " << key_label(k) << ": not stored: HTTP " << r.status
        << (reason.empty() ? "" : ": " + reason) << "\n";
    if (r.status == 401) {
      explain_unauthorized(uo, command, err);
    }
    code = status_code_exit(r.status);
    stop = r.status == 401 || r.status == 403 || r.status >= 500;
    return std::nullopt;
  }
  stop = false;
  auto a = parse_vks_answer(r.body);
  if (!a) {
    err << "keydir " << command << ": " << key_label(k) << ": " << o.server << ": "
        << a.error().detail << "\n";
    code = exit_code(a.error().code);
    return std::nullopt;
  }
  if (a->fpr != k.fpr) {
    err << "keydir " << command << ": " << key_label(k) << ": " << o.server
        << ": the VKS answer speaks of key " << a->fpr << ", not of the key uploaded (" << k.fpr
        << ")\n";
    code = kExitWrongKey;
    return std::nullopt;
  }
  code = kExitOk;
  return std::move(*a);
}

int request_verify(const ClientOptions& o, const UploadOptions& uo, const ToSend& k,
                   const VksAnswer& a, std::vector<std::string> emails, const std::string& context,
                   const char* command, std::ostream& out, std::ostream& err) {
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
  auto sent = post_paced(o, uo, "/vks/v1/request-verify", "application/json",
                         json{{"token", a.token}, {"addresses", emails}}.dump(), context, command,
                         out, err);
  const auto& r = sent.r;
  const std::string what = key_label(k) + ": request-verify";
  if (r.error != net::NetError::None) {
    err << "keydir " << command << ": " << what << ": " << network_reason(r) << "\n";
    return exit_code(r.error);
  }
  if (!sent.stopped.empty()) {
    err << "keydir " << command << ": " << what << ": not sent: " << sent.stopped << "\n";
    return exit_code(ErrorCode::RateLimited);
  }
  if (r.status != 200) {
    const std::string reason = server_reason(r.content_type, r.body);
    err << "keydir " << command << ": " << what << ": HTTP " << r.status
        << (reason.empty() ? "" : ": " + reason) << "\n";
    return status_code_exit(r.status);
  }
  auto answer = parse_vks_answer(r.body, true);
  if (!answer) {
    err << "keydir " << command << ": " << what << ": " << o.server << ": " << answer.error().detail
        << "\n";
    return exit_code(answer.error().code);
  }
  for (const auto& [addr, st] : answer->status) {
    out << "  " << addr << ": " << st
        << (st == "pending" ? " (a confirmation link was mailed to it)" : "") << "\n";
  }
  return kExitOk;
}

// The armored size of `n` binary octets: base64, a line break every 64
// characters, header, checksum and footer.
std::size_t armored_size(std::size_t n) {
  const std::size_t b64 = (n + 2) / 3 * 4;
  return b64 + b64 / 64 + 160;
}

// Sends keys[begin, end) to /pks/add in batches and prints each key's
// report; returns the first failure's exit code (kExitOk when all stored).
int upload_batches(const ClientOptions& o, const UploadOptions& uo, const std::vector<ToSend>& keys,
                   std::size_t first, std::ostream& out, std::ostream& err) {
  std::vector<std::pair<std::size_t, std::size_t>> batches;
  std::size_t begin = first;
  std::size_t binary = 0;
  for (std::size_t i = first; i < keys.size(); ++i) {
    const std::size_t n = keys[i].cert.size();
    if (i > begin &&
        (i - begin >= kMaxBatchCerts || armored_size(binary + n) > kMaxBatchArmoredBytes)) {
      batches.emplace_back(begin, i);
      begin = i;
      binary = 0;
    }
    binary += n;
  }
  if (begin < keys.size()) {
    batches.emplace_back(begin, keys.size());
  }
  int result = kExitOk;
  auto fail = [&](int code) {
    if (result == kExitOk) {
      result = code;
    }
  };
  bool told_unauthorized = false;
  std::vector<std::string> to_confirm;  // files with addresses that await confirmation
  for (std::size_t b = 0; b < batches.size(); ++b) {
    // Named copies, not a structured binding: clang before 16 (the fuzz
    // build) cannot capture a binding in the lambdas below.
    const std::size_t lo = batches[b].first;
    const std::size_t hi = batches[b].second;
    Bytes ring;
    for (std::size_t i = lo; i < hi; ++i) {
      append(ring, keys[i].cert);
    }
    const std::size_t count = hi - lo;
    std::string context =
        count == 1 ? printable(keys[lo].file, 200) : std::to_string(count) + " keys";
    if (batches.size() > 1) {
      context += ", request " + std::to_string(b + 1) + " of " + std::to_string(batches.size());
      err << "keydir upload: sending keys " << lo + 1 << " to " << hi << " of " << keys.size()
          << "\n";
    }
    auto sent = post_paced(o, uo, "/pks/add", "application/x-www-form-urlencoded",
                           "keytext=" + net::form_encode(openpgp::armor(ring)), context, "upload",
                           out, err);
    const auto& r = sent.r;
    out << std::flush;
    auto all_failed = [&](const std::string& why, int code) {
      for (std::size_t i = lo; i < hi; ++i) {
        err << "keydir upload: " << key_label(keys[i]) << ": " << why << "\n";
      }
      fail(code);
    };
    auto rest_not_sent = [&] {
      for (std::size_t i = hi; i < keys.size(); ++i) {
        err << "keydir upload: " << key_label(keys[i])
            << ": not sent (keydir stopped after the error above)\n";
      }
    };
    if (r.error != net::NetError::None) {
      err << "keydir upload: " << o.server << ": " << printable(r.message, 300) << "\n";
      all_failed(network_reason(r), exit_code(r.error));
      rest_not_sent();
      return result;
    }
    if (!sent.stopped.empty()) {
      all_failed("not sent: " + sent.stopped, exit_code(ErrorCode::RateLimited));
      rest_not_sent();
      return result;
    }
    // The answer, read as far as it goes: a refusal of the whole request
    // (401, 413, a 5xx) has no key lines.
    auto answer = parse_add_answer(r.body);
    if (!answer) {
      all_failed("no report: " + answer.error().detail, exit_code(answer.error().code));
      continue;
    }
    if (answer->keys.empty() && r.status != 200) {
      const std::string reason = server_reason(r.content_type, r.body);
      all_failed(
          "not stored: HTTP " + std::to_string(r.status) + (reason.empty() ? "" : ": " + reason),
          status_code_exit(r.status));
      if (r.status == 401 && !told_unauthorized) {
        explain_unauthorized(uo, "upload", err);
        told_unauthorized = true;
      }
      if (r.status == 401 || r.status == 403) {
        rest_not_sent();
        return result;
      }
      continue;
    }
    std::size_t unnamed = 0;
    std::string unnamed_reason;
    for (const auto& k : answer->keys) {
      if (k.fpr == "-") {
        ++unnamed;
        unnamed_reason = k.reason;
      } else if (std::none_of(keys.begin() + static_cast<std::ptrdiff_t>(lo),
                              keys.begin() + static_cast<std::ptrdiff_t>(hi),
                              [&](const ToSend& t) { return t.fpr == k.fpr; })) {
        err << "keydir upload: " << o.server << ": the answer speaks of key " << k.fpr
            << ", which was not sent (ignored)\n";
      }
    }
    for (std::size_t i = lo; i < hi; ++i) {
      const auto& key = keys[i];
      const KeyOutcome* got = nullptr;
      for (const auto& k : answer->keys) {
        if (k.fpr == key.fpr) {
          got = &k;
          break;
        }
      }
      if (!got) {
        if (unnamed != 0) {
          err << "keydir upload: " << key_label(key)
              << ": not stored: the server refused a key without naming it: "
              << printable(unnamed_reason, 300) << "\n";
          fail(kExitServerRefused);
        } else {
          err << "keydir upload: " << key_label(key)
              << ": the server's answer does not mention this key (HTTP " << r.status
              << "): not known whether it was stored\n";
          fail(exit_code(ErrorCode::AnswerDidNotVerify));
        }
        continue;
      }
      if (got->outcome == "refused") {
        err << "keydir upload: " << key_label(key) << ": refused: " << printable(got->reason, 300)
            << "\n";
        fail(r.status >= 500 ? kExitNetwork : kExitServerRefused);
        continue;
      }
      out << printable(key.file, 300) << ": " << got->outcome << " " << key.fpr << "\n";
      bool confirm = false;
      for (const auto& a : got->addresses) {
        out << "  " << (a.published ? "published " : "withheld ") << printable(a.address, 300)
            << (a.published ? "" : ": " + printable(a.reason, 300)) << "\n";
        confirm = confirm || (!a.published && a.reason.find("confirm") != std::string::npos);
      }
      if (confirm &&
          std::find(to_confirm.begin(), to_confirm.end(), key.file) == to_confirm.end()) {
        to_confirm.push_back(key.file);
      }
    }
    if (!answer->other.empty()) {
      out << "the server also said:\n";
      for (const auto& line : answer->other) {
        out << "  " << printable(line, 300) << "\n";
      }
      if (answer->other_dropped != 0) {
        out << "  (" << answer->other_dropped << " more lines)\n";
      }
    }
  }
  for (const auto& f : to_confirm) {
    out << "to mail the confirmation links for " << printable(f, 300) << ": keydir verify --server "
        << o.server << " " << printable(f, 300) << "\n";
  }
  return result;
}

// Reads and checks every file: nothing is sent if any input is a secret key
// or not a key at all.
int read_keys(const std::vector<std::string>& files, std::size_t max_keys, const char* command,
              std::vector<ToSend>& keys, std::ostream& err) {
  openpgp::Policy policy;
  for (const auto& f : files) {
    std::string error;
    auto data = read_input(f, limits::kMaxUploadBytes * 4, error);
    if (!data) {
      err << "keydir " << command << ": " << error << "\n";
      return kExitUsage;
    }
    auto checked =
        openpgp::verify_input(*data, policy, now_seconds(), limits::kMaxUploadBytes * 4, max_keys);
    if (!checked) {
      if (checked.error().code == ErrorCode::SecretKeyRefused) {
        err << "keydir " << command << ": " << f
            << " holds a SECRET key; nothing was sent. Export the public key with "
               "`gpg --export --armor FINGERPRINT` and upload that.\n";
      } else {
        err << "keydir " << command << ": " << f << ": " << checked.error().detail << "\n";
      }
      return exit_code(checked.error().code);
    }
    for (auto& v : *checked) {
      if (!v.accepted()) {
        err << "keydir " << command << ": " << f << ": key "
            << (v.fingerprint ? v.fingerprint->to_hex() : std::string("?"))
            << " would be refused: " << v.refusal->detail << "\n";
        return exit_code(v.refusal->code);
      }
      keys.push_back({f, v.cert->to_bytes(), v.cert->fingerprint().to_hex()});
    }
  }
  return kExitOk;
}

// The VKS answer's states, for the report: the addresses that need no link.
void print_vks_status(const VksAnswer& a, std::ostream& out) {
  for (const auto& [addr, st] : a.status) {
    if (st != "unpublished" && st != "pending") {
      out << "  " << st << " " << addr << "\n";
    }
  }
}

bool is_loopback(std::string host) {
  std::transform(host.begin(), host.end(), host.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  if (host == "localhost" || host == "localhost." || host == "[::1]" ||
      host == "[0:0:0:0:0:0:0:1]") {
    return true;
  }
  // 127.0.0.0/8, dotted quad only.
  if (!host.starts_with("127.")) {
    return false;
  }
  int parts = 0;
  std::size_t i = 0;
  while (i <= host.size()) {
    std::size_t j = host.find('.', i);
    if (j == std::string::npos) {
      j = host.size();
    }
    const std::string part = host.substr(i, j - i);
    if (part.empty() || part.size() > 3 ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(part) > 255) {
      return false;
    }
    ++parts;
    i = j + 1;
  }
  return parts == 4;
}

bool is_b64token_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

// "Sun, 06 Nov 1994 08:49:37 GMT" and the two obsolete forms, in the C
// locale; seconds since the epoch.
std::optional<std::uint64_t> parse_http_date(std::string_view value) {
  static constexpr const char* kForms[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                           "%a %b %e %H:%M:%S %Y"};
  for (const char* form : kForms) {
    std::tm tm{};
    std::istringstream in{std::string(value)};
    in.imbue(std::locale::classic());
    in >> std::get_time(&tm, form);
    if (in.fail()) {
      continue;
    }
    in >> std::ws;
    if (!in.eof() && in.peek() != std::char_traits<char>::eof()) {
      continue;
    }
    const time_t t = timegm(&tm);
    if (t < 0) {
      return std::uint64_t{0};
    }
    return static_cast<std::uint64_t>(t);
  }
  return std::nullopt;
}

}  // namespace

int upload(const ClientOptions& o, const std::vector<std::string>& files, const UploadOptions& uo,
           std::ostream& out, std::ostream& err) {
  std::vector<ToSend> keys;
  if (int rc = read_keys(files, limits::kMaxCertsPerUpload * 100, "upload", keys, err);
      rc != kExitOk) {
    return rc;
  }
  if (!uo.verify_addresses) {
    return upload_batches(o, uo, keys, 0, out, err);
  }
  // --verify: one key per VKS request, then its confirmation links.
  int result = kExitOk;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& k = keys[i];
    const std::string context = "key " + std::to_string(i + 1) + " of " +
                                std::to_string(keys.size()) + ", " + printable(k.file, 200);
    int code = kExitOk;
    bool stop = false;
    auto vks = vks_upload(o, uo, k, context, "upload", out, err, code, stop);
    if (!vks && code == kExitOk) {
      err << "keydir upload: " << o.server
          << " has no VKS API (/vks/v1/): the keys go through /pks/add, and no confirmation "
             "links are mailed\n";
      const int rest = upload_batches(o, uo, keys, i, out, err);
      return result != kExitOk ? result : rest;
    }
    if (!vks) {
      if (result == kExitOk) {
        result = code;
      }
      if (stop) {
        for (std::size_t j = i + 1; j < keys.size(); ++j) {
          err << "keydir upload: " << key_label(keys[j])
              << ": not sent (keydir stopped after the error above)\n";
        }
        return result;
      }
      continue;
    }
    out << printable(k.file, 300) << ": uploaded " << k.fpr << "\n";
    print_vks_status(*vks, out);
    const bool waiting = std::any_of(vks->status.begin(), vks->status.end(), [](const auto& s) {
      return s.second == "unpublished" || s.second == "pending";
    });
    if (waiting) {
      code =
          request_verify(o, uo, k, *vks, {}, context + ", confirmation links", "upload", out, err);
      if (code != kExitOk && result == kExitOk) {
        result = code;
      }
    }
  }
  return result;
}

int verify(const ClientOptions& o, const std::string& file, const std::vector<std::string>& emails,
           const UploadOptions& uo, std::ostream& out, std::ostream& err) {
  std::vector<ToSend> keys;
  if (int rc = read_keys({file}, 2, "verify", keys, err); rc != kExitOk) {
    return rc;
  }
  if (keys.size() != 1) {
    err << "keydir verify: " << file << ": give exactly one valid public key\n";
    return kExitUsage;
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
  bool stop = false;
  const std::string context = printable(file, 200);
  auto vks = vks_upload(o, uo, keys.front(), context, "verify", out, err, code, stop);
  if (!vks) {
    if (code == kExitOk) {
      err << "keydir verify: " << o.server << " has no VKS API (/vks/v1/)\n";
      return kExitServerRefused;
    }
    return code;
  }
  out << vks->fpr << "\n";
  return request_verify(o, uo, keys.front(), *vks, wanted, context, "verify", out, err);
}

Result<std::string> read_token_file(const std::string& path) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::BadQuery, "the operator token file " + path + " " + why);
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(ErrorCode::BadQuery,
                "cannot read the operator token file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return bad("is not a file");
  }
  if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return bad(std::string("is open to every user (mode ") + mode +
               "): the token lets anyone who reads it publish in the directory; chmod 600 " + path);
  }
  if (st.st_size > 64 * 1024) {
    return bad("is larger than 64 KiB");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::BadQuery,
                "cannot read the operator token file " + path + ": " + std::strerror(errno));
  }
  std::string line;
  while (std::getline(in, line)) {
    std::string_view t = line;
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t' || t.front() == '\r')) {
      t.remove_prefix(1);
    }
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\r')) {
      t.remove_suffix(1);
    }
    if (t.empty() || t.front() == '#') {
      continue;
    }
    std::string_view body = t;
    while (!body.empty() && body.back() == '=') {
      body.remove_suffix(1);
    }
    if (body.empty() || !std::all_of(body.begin(), body.end(), is_b64token_char)) {
      return bad(
          "holds a token with characters other than letters, digits, - . _ ~ + / (and = at "
          "the end): a Bearer token cannot carry them");
    }
    return std::string(t);
  }
  return bad("holds no token (only blank lines and # comments)");
}

std::optional<std::string> token_transport_refusal(const std::string& base) {
  auto scheme_end = base.find("://");
  std::string scheme = base.substr(0, scheme_end);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  if (scheme == "https") {
    return std::nullopt;
  }
  std::string host;
  if (scheme_end != std::string::npos) {
    std::string rest = base.substr(scheme_end + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (auto at = rest.rfind('@'); at != std::string::npos) {
      rest = rest.substr(at + 1);
    }
    if (rest.starts_with("[")) {
      host = rest.substr(0, rest.find(']') + 1);
    } else {
      host = rest.substr(0, rest.find(':'));
    }
  }
  if (scheme == "http" && is_loopback(host)) {
    return std::nullopt;
  }
  return "the operator token would travel in plain text over " + scheme + "://" + host +
         ", readable on every network on the way: use https:// or hkps:// (plain http only to "
         "127.0.0.1, ::1 or localhost)";
}

std::optional<std::uint64_t> parse_retry_after(std::string_view value, std::uint64_t now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) {
    value.remove_suffix(1);
  }
  if (value.empty() || value.size() > 64) {
    return std::nullopt;
  }
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    constexpr std::uint64_t kMax = std::uint64_t{1} << 32;
    std::uint64_t v = 0;
    for (char c : value) {
      v = std::min(kMax, v * 10 + static_cast<std::uint64_t>(c - '0'));
    }
    return v;
  }
  auto t = parse_http_date(value);
  if (!t) {
    return std::nullopt;
  }
  return *t > now ? *t - now : 0;
}

Result<AddAnswer> parse_add_answer(std::string_view body) {
  AddAnswer a;
  std::size_t pos = 0;
  std::size_t number = 0;
  auto is_fpr = [](std::string_view s) { return is_hex(s) && (s.size() == 40 || s.size() == 64); };
  auto upper = [](std::string_view s) {
    std::string u(s);
    std::transform(u.begin(), u.end(), u.begin(),
                   [](char c) { return c >= 'a' && c <= 'f' ? static_cast<char>(c - 32) : c; });
    return u;
  };
  while (pos < body.size()) {
    ++number;
    auto nl = body.find('\n', pos);
    std::string_view line = body.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? body.size() : nl + 1;
    auto bad = [&](const std::string& why) {
      return fail(ErrorCode::AnswerDidNotVerify,
                  "the upload answer is malformed: line " + std::to_string(number) + ": " + why);
    };
    if (line.size() > kMaxAddAnswerLineBytes) {
      return bad("longer than " + std::to_string(kMaxAddAnswerLineBytes) + " octets");
    }
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.find_first_not_of(' ') == std::string_view::npos) {
      continue;
    }
    auto word_end = [](std::string_view s) { return s.substr(0, s.find(' ')); };
    if (line.starts_with("  ") && !line.starts_with("   ")) {
      std::string_view rest = line.substr(2);
      const std::string_view w = word_end(rest);
      if (w == "published" || w == "withheld") {
        if (a.keys.empty() || a.keys.back().outcome == "refused") {
          return bad("an address line before any key");
        }
        rest.remove_prefix(std::min(rest.size(), w.size() + 1));
        AddressOutcome o;
        o.published = w == "published";
        if (o.published) {
          o.address = std::string(rest);
        } else {
          auto colon = rest.find(": ");
          o.address = std::string(rest.substr(0, colon));
          o.reason = colon == std::string_view::npos ? std::string("no reason given")
                                                     : std::string(rest.substr(colon + 2));
        }
        if (o.address.empty()) {
          return bad("an address line without an address");
        }
        if (a.keys.back().addresses.size() >= limits::kMaxUserIdsPerCert) {
          return bad("more than " + std::to_string(limits::kMaxUserIdsPerCert) +
                     " addresses for one key");
        }
        a.keys.back().addresses.push_back(std::move(o));
        continue;
      }
    }
    const std::string_view w = word_end(line);
    std::string_view rest = line.substr(std::min(line.size(), w.size() + 1));
    std::optional<KeyOutcome> k;
    if ((w == "new" || w == "updated" || w == "unchanged") && is_fpr(rest)) {
      k = KeyOutcome{std::string(w), upper(rest), {}, {}};
    } else if (w == "refused") {
      auto colon = rest.find(':');
      std::string_view f = rest.substr(0, colon);
      if (f == "-" || is_fpr(f)) {
        std::string_view reason =
            colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
        while (!reason.empty() && reason.front() == ' ') {
          reason.remove_prefix(1);
        }
        k = KeyOutcome{"refused",
                       f == "-" ? std::string("-") : upper(f),
                       reason.empty() ? std::string("no reason given") : std::string(reason),
                       {}};
      }
    }
    if (k) {
      if (a.keys.size() >= 2 * kMaxBatchCerts) {
        return bad("more than " + std::to_string(2 * kMaxBatchCerts) + " keys");
      }
      a.keys.push_back(std::move(*k));
      continue;
    }
    if (a.other.size() < kMaxAddAnswerOther) {
      a.other.emplace_back(line);
    } else {
      ++a.other_dropped;
    }
  }
  return a;
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
