#include "api/http/message.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace keydir::api {

std::optional<std::string_view> HttpRequest::param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) {
      return std::string_view(v);
    }
  }
  return std::nullopt;
}

namespace {
constexpr std::array<std::int8_t, 256> make_hex_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) {
    v = -1;
  }
  for (int i = 0; i < 10; ++i) {
    t['0' + i] = static_cast<std::int8_t>(i);
  }
  for (int i = 0; i < 6; ++i) {
    t['a' + i] = static_cast<std::int8_t>(10 + i);
    t['A' + i] = static_cast<std::int8_t>(10 + i);
  }
  return t;
}
constexpr auto kHexTable = make_hex_table();
}  // namespace

// Decodes into a buffer sized for the worst case (no escapes) through a raw
// pointer: an upload's keytext is tens of kilobytes, decoded once per request.
Result<std::string> form_decode(std::string_view text) {
  std::string out(text.size(), '\0');
  char* o = out.data();
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    // Copy the run up to the next escape ('+' → ' ' vectorizes), then decode it.
    const auto* pct =
        static_cast<const char*>(std::memchr(p, '%', static_cast<std::size_t>(end - p)));
    const char* run_end = pct ? pct : end;
    for (; p < run_end; ++p, ++o) {
      *o = *p == '+' ? ' ' : *p;
    }
    if (!pct) {
      break;
    }
    if (end - p < 3) {
      return fail(ErrorCode::BadQuery, "truncated %-escape");
    }
    int hi = kHexTable[static_cast<std::uint8_t>(p[1])];
    int lo = kHexTable[static_cast<std::uint8_t>(p[2])];
    if (hi < 0 || lo < 0) {
      return fail(ErrorCode::BadQuery, "malformed %-escape");
    }
    *o++ = static_cast<char>(hi << 4 | lo);
    p += 3;
  }
  out.resize(static_cast<std::size_t>(o - out.data()));
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view text,
                                                                    std::size_t max_params) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    auto amp = text.find('&');
    std::string_view part = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (part.empty()) {
      continue;
    }
    if (out.size() >= max_params) {
      return fail(ErrorCode::BadQuery, "too many parameters");
    }
    auto eq = part.find('=');
    KEYDIR_TRY(std::string k, form_decode(part.substr(0, eq)));
    std::string v;
    if (eq != std::string_view::npos) {
      KEYDIR_TRY(v, form_decode(part.substr(eq + 1)));
    }
    out.emplace_back(std::move(k), std::move(v));
  }
  return out;
}

std::optional<std::string> multipart_field(std::string_view content_type, std::string_view body,
                                           std::string_view name) {
  auto b = content_type.find("boundary=");
  if (b == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view raw = content_type.substr(b + 9);
  if (!raw.empty() && raw.front() == '"') {
    raw = raw.substr(1, raw.find('"', 1) - 1);
  } else {
    raw = raw.substr(0, raw.find(';'));
  }
  if (raw.empty() || raw.size() > 70) {  // RFC 2046 §5.1.1: 1 to 70 characters
    return std::nullopt;
  }
  // A delimiter is CRLF "--" boundary (RFC 2046 §5.1.1); the CRLF belongs to
  // it, so "--boundary" inside a value (armor's "-----BEGIN") never ends one.
  const std::string delimiter = "\r\n--" + std::string(raw);
  const std::string wanted = "name=\"" + std::string(name) + "\"";
  std::size_t pos = 0;
  if (body.starts_with(std::string_view(delimiter).substr(2))) {
    pos = delimiter.size() - 2;
  } else if ((pos = body.find(delimiter)) != std::string_view::npos) {
    pos += delimiter.size();
  } else {
    return std::nullopt;
  }
  for (std::size_t parts = 0; parts < 64; ++parts) {
    if (body.substr(pos).starts_with("--")) {
      return std::nullopt;  // the close delimiter
    }
    auto headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) {
      return std::nullopt;
    }
    const std::size_t value_start = headers_end + 4;
    // A delimiter is followed by CRLF (next part) or "--" (the end), with
    // optional white space: "--Bx" is not the boundary "B".
    auto next = body.find(delimiter, headers_end + 2);
    while (next != std::string_view::npos) {
      std::string_view after = body.substr(next + delimiter.size());
      while (!after.empty() && (after.front() == ' ' || after.front() == '\t')) {
        after.remove_prefix(1);
      }
      if (after.starts_with("\r\n") || after.starts_with("--")) {
        break;
      }
      next = body.find(delimiter, next + 1);
    }
    if (next == std::string_view::npos) {
      return std::nullopt;
    }
    // name="x", not filename="x".
    std::string_view headers = body.substr(pos, headers_end - pos);
    bool named = false;
    for (auto at = headers.find(wanted); at != std::string_view::npos && !named;
         at = headers.find(wanted, at + 1)) {
      named = at > 0 && (headers[at - 1] == ' ' || headers[at - 1] == ';');
    }
    if (named) {
      return next <= value_start ? std::string()
                                 : std::string(body.substr(value_start, next - value_start));
    }
    pos = next + delimiter.size();
  }
  return std::nullopt;
}

namespace {

int table_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::BadQuery:
    case ErrorCode::ShortKeyIdRefused:
    case ErrorCode::BadArmor:
    case ErrorCode::MalformedPacket:
    case ErrorCode::PacketTooLarge:
    case ErrorCode::NoCertificate:
    case ErrorCode::UnsupportedVersion:
      return Status::kBadRequest;
    case ErrorCode::UnsupportedMediaType:
      return Status::kUnsupportedMediaType;
    case ErrorCode::PayloadTooLarge:
      return Status::kPayloadTooLarge;
    case ErrorCode::UnsupportedOperation:
      return Status::kNotImplemented;
    case ErrorCode::SecretKeyRefused:
    case ErrorCode::NoValidComponents:
    case ErrorCode::WeakAlgorithm:
    case ErrorCode::UnsupportedAlgorithm:
    case ErrorCode::TooManyComponents:
    case ErrorCode::CertificateTooLarge:
    case ErrorCode::BadSignature:
      return Status::kUnprocessable;
    case ErrorCode::Tombstoned:
      return Status::kGone;
    case ErrorCode::NotFound:
      return Status::kNotFound;
    case ErrorCode::RateLimited:
      return Status::kTooManyRequests;
    case ErrorCode::MailFailed:
      return Status::kServiceUnavailable;
    case ErrorCode::TokenInvalid:
      return Status::kGone;
    case ErrorCode::Unauthorized:
      return Status::kUnauthorized;
    case ErrorCode::StorageIo:
      return Status::kServiceUnavailable;
    case ErrorCode::ProtocolError:
      return Status::kBadRequest;
    case ErrorCode::StorageCorruption:
    case ErrorCode::Internal:
    case ErrorCode::AnswerDidNotVerify:
      return Status::kInternalError;
  }
  return Status::kInternalError;
}

}  // namespace

int http_status(ErrorCode code, Surface surface) {
  const int status = table_status(code);
  const bool servers = status == Status::kInternalError ||
                       status == Status::kServiceUnavailable;  // not the request's fault
  switch (surface) {
    case Surface::Hkp:
      return status;
    case Surface::Upload:
      return servers ? Status::kServiceUnavailable : status;
    case Surface::HkpV2:
      return servers ? Status::kServiceUnavailable : Status::kUnprocessable;
    case Surface::Vks:
      return servers ? Status::kServiceUnavailable
             : (status == Status::kPayloadTooLarge || status == Status::kTooManyRequests)
                 ? status
                 : Status::kBadRequest;
  }
  return status;
}

Reply method_not_allowed(std::string_view allow) {
  Reply r = text_reply(Status::kMethodNotAllowed, "method not allowed");
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

Reply text_reply(int status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  if (r.body.empty() || r.body.back() != '\n') {
    r.body.push_back('\n');
  }
  return r;
}

std::string public_reason(const Error& e) {
  int status = http_status(e.code);
  if (status < Status::kInternalError) {
    return e.detail;
  }
  spdlog::error("{}: {}", error_code_name(e.code), e.detail);
  return status == Status::kServiceUnavailable ? "service temporarily unavailable"
                                               : "internal error";
}

Reply error_reply(const Error& e) {
  int status = http_status(e.code);
  // Internal and storage details stay in the log, not in the answer.
  if (status >= Status::kInternalError) {
    spdlog::error("{}: {}", error_code_name(e.code), e.detail);
    return text_reply(status, status == Status::kServiceUnavailable
                                  ? "service temporarily unavailable"
                                  : "internal error");
  }
  return text_reply(status, e.detail);
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace keydir::api
