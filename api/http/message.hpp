// The API layer's view of HTTP, independent of the server library: a parsed
// request in, a Reply out. Handlers never see Pistache; the adapter in
// src/server converts at the edge.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace keydir::api {

struct HttpRequest {
  std::string method;                                      // "GET", "HEAD", "POST", …
  std::string path;                                        // without the query string
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string content_type;
  std::string host;           // the Host header as sent ("keys.example.org:11371")
  std::string authorization;  // the Authorization header, if any
  // Set by the router: an upload authenticated with an operator token
  // (Managed mode), whose addresses are published at once.
  bool operator_upload = false;
  std::string body;
  std::string client;  // the peer's address (rate limits)
  // The client's whole address (`client` may be its IPv6 network): the
  // peer's, or the one a trusted proxy forwarded in X-Forwarded-For. Empty
  // when it is not known: a proxy keydird does not trust forwarded the
  // request, or a trusted one forwarded something else than an address.
  // /metrics answers by it (loopback and metrics-allow only).
  std::string address;
  // The client asked for the transparency log's proofs with the answer
  // (request header "Keydir-Log-Proof: 1"; HKP also options=proof).
  bool log_proof = false;

  // First value of a query parameter, or nullopt.
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const;
};

// HTTP status codes by name. Handlers never write a number
// (tests/support/check_status_literals.py fails the build's tests if one
// does): an error's status comes from http_status(), others from here.
struct Status {
  static constexpr int kOk = 200;
  static constexpr int kAccepted = 202;
  static constexpr int kNoContent = 204;
  static constexpr int kMovedPermanently = 301;
  static constexpr int kFound = 302;
  static constexpr int kSeeOther = 303;
  static constexpr int kNotModified = 304;
  static constexpr int kBadRequest = 400;
  static constexpr int kUnauthorized = 401;
  static constexpr int kForbidden = 403;
  static constexpr int kNotFound = 404;
  static constexpr int kMethodNotAllowed = 405;
  static constexpr int kConflict = 409;
  static constexpr int kGone = 410;
  static constexpr int kPayloadTooLarge = 413;
  static constexpr int kUriTooLong = 414;
  static constexpr int kUnsupportedMediaType = 415;
  static constexpr int kUnprocessable = 422;
  static constexpr int kTooManyRequests = 429;
  static constexpr int kHeaderFieldsTooLarge = 431;
  static constexpr int kInternalError = 500;
  static constexpr int kNotImplemented = 501;
  static constexpr int kServiceUnavailable = 503;
  static constexpr int kHttpVersionNotSupported = 505;
  // 5xx: the server's own failure, not the request's.
  static constexpr bool is_server_error(int s) { return s >= kInternalError; }
  static constexpr bool is_client_error(int s) { return s >= kBadRequest && s < kInternalError; }
};

struct Reply {
  int status = Status::kOk;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // An upload's answer: how many certificates the upload held (stored and
  // refused), for the per-key upload limit (Api::dispatch); 0 otherwise.
  // Not sent.
  std::size_t upload_certificates = 0;
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

// Where an error is answered. Each API has its convention for a key it
// refuses; the server's own failures (storage, mail, internal: 500 and 503
// in the table) are the same everywhere: 503 on every upload surface, where
// a retry may succeed.
enum class Surface {
  Hkp,     // HKP lookups, the pages, WKD: the table as it stands
  Upload,  // an upload by HKP (/pks/add): the table, the server's failures 503
  HkpV2,   // an HKPv2 upload: a refused key is 422, the server's failures 503
  Vks,     // the VKS API (Hagrid): client errors 400 (413 and 429 kept), the server's 503
};
// ONE table: error code → HTTP status, per surface (tested for every code).
int http_status(ErrorCode code, Surface surface = Surface::Hkp);
// 405 with the Allow header.
Reply method_not_allowed(std::string_view allow);
// A one-line, client-safe error reply.
Reply error_reply(const Error& e);
// What a client may read of an error: its detail, or for the server's own
// failures (5xx: storage, internal) a generic line, the detail going to the
// log instead.
std::string public_reason(const Error& e);
Reply text_reply(int status, std::string body);

std::string html_escape(std::string_view s);

}  // namespace keydir::api
