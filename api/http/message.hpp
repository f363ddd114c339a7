// The API layer's view of HTTP, independent of the server library: a parsed
// request in, a Reply out. Handlers never see Pistache; the adapter in
// src/server converts at the edge.
#pragma once

#include <string>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace keydir::api {

struct HttpRequest {
  std::string method;  // "GET", "HEAD", "POST", …
  std::string path;    // without the query string
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string content_type;
  std::string host;  // the Host header as sent ("keys.example.org:11371")
  std::string authorization;  // the Authorization header, if any
  // Set by the router: an upload authenticated with an operator token
  // (Managed mode), whose addresses are published at once.
  bool operator_upload = false;
  std::string body;
  std::string client;  // the peer's address (rate limits)

  // First value of a query parameter, or nullopt.
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const;
};

struct Reply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// "a=1&b=%20x+y" → [("a","1"),("b"," x y")]. At most `max_params`; a
// malformed escape is a BadQuery error.
Result<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view text,
                                                                    std::size_t max_params = 64);
// Percent-decoding with '+' as space (application/x-www-form-urlencoded).
Result<std::string> form_decode(std::string_view text);

// The field `name` of a multipart/form-data body (RFC 7578), or nullopt.
std::optional<std::string> multipart_field(std::string_view content_type, std::string_view body,
                                           std::string_view name);

// ONE table: error code → HTTP status (STYLE §6.8).
int http_status(ErrorCode code);
// A one-line, client-safe error reply.
Reply error_reply(const Error& e);
// What a client may read of an error: its detail, or for the server's own
// failures (5xx: storage, internal) a generic line, the detail going to the
// log instead.
std::string public_reason(const Error& e);
Reply text_reply(int status, std::string body);

std::string html_escape(std::string_view s);

}  // namespace keydir::api
