// Outgoing HTTP(S), through libcurl (the client's lookups and uploads,
// keydird's requests to its recon peers): one request at a time, bounded
// answers, and failures sorted by kind so that each gets its own message and
// exit code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace keydir::net {

struct HttpOptions {
  std::string cacert;        // PEM file of CAs to trust instead of the system's
  long connect_timeout = 5;  // seconds
  long timeout = 30;         // seconds, whole request
  std::size_t max_body = 64u << 20;
  // "HOST:PORT:CONNECT-HOST:CONNECT-PORT" (libcurl CONNECT_TO): send a
  // request for HOST:PORT to another address, keeping the URL's name for TLS.
  std::vector<std::string> connect_to;
  // Header lines sent with every request ("Authorization: Bearer ..." for an
  // operator's uploads). libcurl leaves them out when a redirect leads to
  // another host, port or scheme.
  std::vector<std::string> headers;
  // Redirects followed (at most 3); off: a 3xx is the answer (keydird's
  // posts to transparency-log witnesses: a witness cannot send them on to
  // other hosts).
  bool follow_redirects = true;
  // Names of answer headers to keep in HttpResult::response_headers (the
  // client's transparency-log proofs).
  std::vector<std::string> keep_headers;
};

enum class NetError { None, Usage, Dns, Connect, Timeout, Tls, Protocol, TooLarge };

struct HttpResult {
  NetError error = NetError::None;
  std::string message;  // for errors: one line
  long status = 0;
  std::string content_type;
  std::string body;
  std::string retry_after;  // the answer's Retry-After header as sent (429, 503), or empty
  // The headers HttpOptions::keep_headers named that the answer carried
  // (name as asked, value as sent; the first one of a name).
  std::vector<std::pair<std::string, std::string>> response_headers;
};

HttpResult http_get(const std::string& url, const HttpOptions& options,
                    const std::vector<std::string>& headers = {});
HttpResult http_post(const std::string& url, const std::string& content_type,
                     const std::string& body, const HttpOptions& options);

// "hkp://keys.example.org" → "http://keys.example.org:11371"; "hkps://h" →
// "https://h"; http(s) URLs unchanged (trailing '/' removed). nullopt: not a
// server URL.
std::optional<std::string> server_base(std::string url);

// application/x-www-form-urlencoded value.
std::string form_encode(std::string_view s);

}  // namespace keydir::net
