#include "net/http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <new>

namespace keydir::net {

namespace {

struct Sink {
  std::string* body;
  std::size_t max;
  bool too_large = false;
  bool out_of_memory = false;
};

// Called by libcurl (C): no exception may leave it.
std::size_t on_data(char* data, std::size_t size, std::size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  std::size_t len = size * n;
  if (s->body->size() + len > s->max) {
    s->too_large = true;
    return 0;  // aborts the transfer
  }
  try {
    s->body->append(data, len);
  } catch (const std::bad_alloc&) {
    s->out_of_memory = true;
    return 0;
  }
  return len;
}

NetError kind_of(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return NetError::Dns;
    case CURLE_COULDNT_CONNECT:
      return NetError::Connect;
    case CURLE_OPERATION_TIMEDOUT:
      return NetError::Timeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return NetError::Tls;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return NetError::Usage;
    default:
      return NetError::Protocol;
  }
}

HttpResult perform(const std::string& url, const HttpOptions& o,
                   const std::vector<std::string>& headers, const std::string* post_type,
                   const std::string* post_body) {
  HttpResult r;
  CURL* c = curl_easy_init();
  if (!c) {
    r.error = NetError::Protocol;
    r.message = "cannot start libcurl";
    return r;
  }
  Sink sink{&r.body, o.max_body};
  char err[CURL_ERROR_SIZE] = {0};
  curl_slist* hdrs = nullptr;
  for (const auto& h : headers) {
    hdrs = curl_slist_append(hdrs, h.c_str());
  }
  for (const auto& h : o.headers) {
    hdrs = curl_slist_append(hdrs, h.c_str());
  }
  std::string ct;
  if (post_type) {
    ct = "Content-Type: " + *post_type;
    hdrs = curl_slist_append(hdrs, ct.c_str());
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post_body->size()));
  }
  curl_slist* connect_to = nullptr;
  for (const auto& t : o.connect_to) {
    connect_to = curl_slist_append(connect_to, t.c_str());
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o.connect_timeout);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, o.timeout);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, o.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "keydir/0.1");
  if (!o.cacert.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, o.cacert.c_str());
  }
  // libcurl honours http_proxy / https_proxy / no_proxy from the environment.
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    char* type = nullptr;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    r.content_type = type ? type : "";
    curl_header* retry = nullptr;
    if (curl_easy_header(c, "Retry-After", 0, CURLH_HEADER, -1, &retry) == CURLHE_OK && retry &&
        retry->value) {
      r.retry_after = std::string(retry->value).substr(0, 200);
    }
    for (const auto& name : o.keep_headers) {
      curl_header* h = nullptr;
      if (curl_easy_header(c, name.c_str(), 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h &&
          h->value) {
        r.response_headers.emplace_back(name, h->value);
      }
    }
  } else if (sink.too_large) {
    r.error = NetError::TooLarge;
    r.message = "the answer is larger than " + std::to_string(o.max_body) + " octets";
  } else if (sink.out_of_memory) {
    r.error = NetError::TooLarge;
    r.message = "out of memory after " + std::to_string(r.body.size()) + " octets of the answer";
  } else {
    r.error = kind_of(rc);
    r.message = err[0] ? err : curl_easy_strerror(rc);
  }
  curl_slist_free_all(hdrs);
  curl_slist_free_all(connect_to);
  curl_easy_cleanup(c);
  return r;
}

}  // namespace

HttpResult http_get(const std::string& url, const HttpOptions& options,
                    const std::vector<std::string>& headers) {
  return perform(url, options, headers, nullptr, nullptr);
}

HttpResult http_post(const std::string& url, const std::string& content_type,
                     const std::string& body, const HttpOptions& options) {
  return perform(url, options, {}, &content_type, &body);
}

std::optional<std::string> server_base(std::string url) {
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0) {
    return std::nullopt;
  }
  std::string scheme = url.substr(0, scheme_end);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  std::string rest = url.substr(scheme_end + 3);
  if (rest.empty()) {
    return std::nullopt;
  }
  if (scheme == "http" || scheme == "https") {
    return scheme + "://" + rest;
  }
  std::string host = rest.substr(0, rest.find('/'));
  const bool has_port = host.find(':') != std::string::npos && host.back() != ']';
  if (scheme == "hkp") {
    return "http://" + host + (has_port ? "" : ":11371") + rest.substr(host.size());
  }
  if (scheme == "hkps") {
    return "https://" + rest;
  }
  return std::nullopt;
}

std::string form_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

}  // namespace keydir::net
