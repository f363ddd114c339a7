#include "server/http_parser.hpp"

#include <strings.h>

#include <algorithm>
#include <array>
#include <utility>

#include "api/http/message.hpp"

namespace keydir::server {

namespace {

using api::Status;

// tchar (RFC 9110 §5.6.2): the octets of a token.
constexpr std::array<bool, 256> kTchar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) {
    t[static_cast<std::size_t>(c)] = true;
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    t[static_cast<std::size_t>(c)] = true;
    t[static_cast<std::size_t>(c - 'a' + 'A')] = true;
  }
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) {
    t[static_cast<unsigned char>(c)] = true;
  }
  return t;
}();

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return kTchar[static_cast<unsigned char>(c)]; });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  return v;
}

bool known_method(std::string_view m) {
  static constexpr std::array<std::string_view, 9> kMethods = {
      "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"};
  return std::find(kMethods.begin(), kMethods.end(), m) != kMethods.end();
}

// A Host value (RFC 9110 §7.2, the uri-host of RFC 3986 without
// percent-encoded octets): a name, an IPv4 or a bracketed IPv6 literal, with
// an optional port.
bool valid_host(std::string_view h) {
  return h.size() <= 255 && std::all_of(h.begin(), h.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
         });
}

std::string normal_host(std::string_view h) {
  std::string out(h);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  for (std::string_view port : {std::string_view(":80"), std::string_view(":443")}) {
    if (out.size() > port.size() && out.ends_with(port)) {
      out.resize(out.size() - port.size());
      break;
    }
  }
  return out;
}

}  // namespace

void WireRequest::clear() {
  method.clear();
  path.clear();
  query.clear();
  http10 = false;
  close = false;
  host.clear();
  content_type.clear();
  authorization.clear();
  forwarded_for.clear();
  forwarded_for_fields = 0;
  log_proof = false;
  body.clear();
}

void HttpParser::feed(std::string_view octets) {
  if (state_ != State::Refused) {
    buf_.append(octets);
  }
}

HttpParser::Step HttpParser::refuse(int status, std::string reason) {
  state_ = State::Refused;
  refusal_.status = status;
  refusal_.reason = std::move(reason);
  refusal_.method = current_.method;
  refusal_.path = current_.path;
  buf_.clear();
  buf_.shrink_to_fit();
  pos_ = 0;
  scan_ = 0;
  line_end_ = std::string::npos;
  current_.clear();
  return Step::Refused;
}

void HttpParser::compact() {
  if (pos_ == 0) {
    return;
  }
  buf_.erase(0, pos_);
  scan_ -= std::min(scan_, pos_);
  body_start_ -= std::min(body_start_, pos_);
  if (line_end_ != std::string::npos) {
    line_end_ -= pos_;
  }
  pos_ = 0;
}

HttpParser::Step HttpParser::next(WireRequest& out) {
  if (state_ == State::Refused) {
    return Step::Refused;
  }
  if (state_ == State::Head) {
    // Empty lines before a request line are ignored (RFC 9112 §2.2).
    while (buf_.size() - pos_ >= 2 && buf_[pos_] == '\r' && buf_[pos_ + 1] == '\n') {
      pos_ += 2;
    }
    scan_ = std::max(scan_, pos_);
    const std::size_t from = std::max(pos_, scan_ >= 3 ? scan_ - 3 : 0);
    const std::size_t end = buf_.find("\r\n\r\n", from);
    // The request line's end is looked for once, from where the last
    // search stopped: rescanning it for every read of the fields would
    // cost a client's 8 KiB line once per octet.
    if (line_end_ == std::string::npos) {
      line_end_ = buf_.find("\r\n", std::max(pos_, scan_ > 0 ? scan_ - 1 : 0));
    }
    const std::size_t line_end = line_end_;
    // The bounds, as octets arrive: the request line, then the field lines
    // (with their CRLFs). While the end is not in, the last octet may be
    // the CR of a CRLF to come: one more is allowed, so that a request
    // refused read by read is refused whole, and the other way round.
    if (line_end == std::string::npos ? buf_.size() - pos_ > limits_.request_line + 1
                                      : line_end - pos_ > limits_.request_line) {
      return refuse(Status::kUriTooLong,
                    "request line longer than " + std::to_string(limits_.request_line) + " octets");
    }
    if (line_end != std::string::npos &&
        (end == std::string::npos ? buf_.size() - (line_end + 2) > limits_.header_bytes + 1
                                  : end - line_end > limits_.header_bytes)) {
      return refuse(Status::kHeaderFieldsTooLarge, "request header fields too large");
    }
    if (end == std::string::npos) {
      scan_ = buf_.size();
      compact();
      return Step::More;
    }
    if (auto s = parse_head(end); s != Step::More) {
      return s;
    }
  }
  // The body.
  if (chunked_) {
    if (!scan_chunks(current_)) {
      return Step::Refused;
    }
    if (chunk_ != Chunk::End) {
      compact();
      return Step::More;
    }
    pos_ = scan_;
  } else {
    if (buf_.size() - body_start_ < content_length_) {
      compact();
      return Step::More;
    }
    current_.body.assign(buf_, body_start_, content_length_);
    pos_ = body_start_ + content_length_;
  }
  // Swapped, not moved: the strings of the caller's last request keep
  // their capacity for the next.
  std::swap(out, current_);
  current_.clear();
  state_ = State::Head;
  scan_ = pos_;
  line_end_ = std::string::npos;
  continue_ = false;
  if (pos_ == buf_.size()) {
    // Between requests nothing is held: a large body's buffer is given
    // back rather than kept by an idle keep-alive connection.
    if (buf_.capacity() > 64 * 1024) {
      std::string().swap(buf_);
    }
    buf_.clear();
    pos_ = 0;
    scan_ = 0;
  }
  return Step::Request;
}

// The head is buf_[pos_, end + 4): the request line, the field lines and
// the empty line. Returns More once it is read (the body comes next), or a
// refusal.
HttpParser::Step HttpParser::parse_head(std::size_t end) {
  current_.clear();
  chunked_ = false;
  chunk_ = Chunk::Size;
  chunk_digits_ = 0;
  chunk_left_ = 0;
  trailer_bytes_ = 0;
  content_length_ = 0;
  seen_content_length_ = seen_transfer_encoding_ = seen_host_ = seen_content_type_ =
      seen_authorization_ = 0;
  keep_alive_ = close_ = expect_continue_ = false;

  const std::string_view head(buf_.data() + pos_, end + 2 - pos_);  // each line with its CRLF
  const std::size_t line_len = head.find("\r\n");
  const std::string_view line = head.substr(0, line_len);

  // request-line = method SP request-target SP HTTP-version
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return refuse(Status::kBadRequest, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method) || method.size() > 32 || target.empty() ||
      // Visible ASCII, and octets above it: raw UTF-8 as some clients send
      // it (curl, a WKD "l=" with an umlaut) is taken as nginx takes it.
      std::any_of(target.begin(), target.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
      })) {
    return refuse(Status::kBadRequest, "malformed request line");
  }
  if (version == "HTTP/1.1") {
    current_.http10 = false;
  } else if (version == "HTTP/1.0") {
    current_.http10 = true;
  } else if (version.size() == 8 && version.starts_with("HTTP/1.") && version[7] >= '0' &&
             version[7] <= '9') {
    current_.http10 = false;  // a later 1.x is answered as 1.1 (RFC 9110 §2.5)
  } else if (version.size() == 8 && version.starts_with("HTTP/") && version[5] >= '0' &&
             version[5] <= '9' && version[6] == '.' && version[7] >= '0' && version[7] <= '9') {
    return refuse(Status::kHttpVersionNotSupported, "HTTP version not supported (1.0 and 1.1 are)");
  } else {
    return refuse(Status::kBadRequest, "malformed request line");
  }
  current_.method = std::string(method);
  if (!known_method(method)) {
    return refuse(Status::kNotImplemented, "unknown method");
  }
  // request-target (RFC 9112 §3.2): origin-form; absolute-form, whose
  // authority stands for Host; "*" for OPTIONS.
  std::string authority;
  bool absolute = false;
  if (target.size() > 7 && (strncasecmp(target.data(), "http://", 7) == 0 ||
                            strncasecmp(target.data(), "https://", 8) == 0)) {
    const std::size_t start = target.find("//") + 2;
    const std::size_t stop = std::min(target.find('/', start), target.find('?', start));
    authority = std::string(target.substr(start, stop - start));
    target = stop == std::string_view::npos ? std::string_view("/") : target.substr(stop);
    absolute = true;
    if (authority.empty() || !valid_host(authority)) {
      return refuse(Status::kBadRequest, "malformed request target");
    }
  }
  if (target == "*" && method == "OPTIONS") {
    current_.path = "*";
  } else if (target.front() == '/' || (absolute && target.front() == '?')) {
    const auto q = target.find('?');
    current_.path = absolute && target.front() == '?' ? "/" : std::string(target.substr(0, q));
    if (q != std::string_view::npos) {
      current_.query = std::string(target.substr(q + 1));
    }
  } else {
    return refuse(Status::kBadRequest, "malformed request target");
  }

  // field-line = field-name ":" OWS field-value OWS, each ending in CRLF.
  std::size_t at = line_len + 2;
  std::size_t fields = 0;
  while (at < head.size()) {
    const std::size_t eol = head.find("\r\n", at);
    if (++fields > limits_.header_fields) {
      return refuse(Status::kHeaderFieldsTooLarge, "request header fields too large");
    }
    if (!parse_field(head.substr(at, eol - at), current_)) {
      return Step::Refused;
    }
    at = eol + 2;
  }
  if (absolute) {
    current_.host = normal_host(authority);
  }
  current_.close = current_.http10 ? !keep_alive_ : close_;

  // The body's length (RFC 9112 §6.3).
  if (seen_transfer_encoding_ > 0) {
    if (current_.http10) {
      // HTTP/1.0 has no chunked framing (RFC 9112 §6.1): a front that frames
      // it by Content-Length would read another request.
      return refuse(Status::kBadRequest, "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (seen_content_length_ > 0) {
      return refuse(Status::kBadRequest,
                    "ambiguous body length (Content-Length and Transfer-Encoding)");
    }
    chunked_ = true;
  } else if (content_length_ > limits_.body) {
    return refuse(Status::kPayloadTooLarge,
                  "request body larger than " + std::to_string(limits_.body) + " octets");
  }
  state_ = State::Body;
  continue_ = expect_continue_ && !current_.http10 && (chunked_ || content_length_ > 0);
  body_start_ = end + 4;
  scan_ = body_start_;
  return Step::More;
}

bool HttpParser::parse_field(std::string_view line, WireRequest& out) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
    // No name, whitespace before the colon, or a line folded onto the
    // previous one (RFC 9112 §5.1 and §5.2): refused, never guessed at.
    refuse(Status::kBadRequest, "malformed header field");
    return false;
  }
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = trim_ows(line.substr(colon + 1));
  if (std::any_of(value.begin(), value.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && u != '\t') || u == 0x7f;
      })) {
    refuse(Status::kBadRequest, "malformed header field (a control character)");
    return false;
  }
  auto once = [&](int& seen) {
    if (++seen > 1) {
      refuse(Status::kBadRequest, "repeated header field (" + std::string(name) + ")");
      return false;
    }
    return true;
  };
  switch (name.size()) {
    case 4:
      if (iequals(name, "Host")) {
        if (!once(seen_host_)) {
          return false;
        }
        if (!valid_host(value)) {
          refuse(Status::kBadRequest, "malformed header field (Host)");
          return false;
        }
        out.host = normal_host(value);
      }
      break;
    case 10:
      if (iequals(name, "Connection")) {
        // A list of tokens: "close", "keep-alive", others (Upgrade) ignored.
        std::string_view rest = value;
        while (!rest.empty()) {
          const auto comma = rest.find(',');
          const std::string_view opt = trim_ows(rest.substr(0, comma));
          close_ = close_ || iequals(opt, "close");
          keep_alive_ = keep_alive_ || iequals(opt, "keep-alive");
          rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
      }
      break;
    case 12:
      if (iequals(name, "Content-Type")) {
        if (!once(seen_content_type_)) {
          return false;
        }
        out.content_type = std::string(value);
      }
      break;
    case 13:
      if (iequals(name, "Authorization")) {
        if (!once(seen_authorization_)) {
          return false;
        }
        out.authorization = std::string(value);
      }
      break;
    case 14:
      if (iequals(name, "Content-Length")) {
        if (!once(seen_content_length_)) {
          return false;
        }
        if (value.empty() || value.size() > 19 ||
            !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
          refuse(Status::kBadRequest, "malformed Content-Length");
          return false;
        }
        content_length_ = 0;
        for (char c : value) {
          content_length_ = content_length_ * 10 + static_cast<std::size_t>(c - '0');
        }
      }
      break;
    case 15:
      if (iequals(name, "X-Forwarded-For")) {
        // More than one: which the proxy wrote cannot be told (the adapter
        // then takes the client as unknown).
        if (++out.forwarded_for_fields == 1) {
          out.forwarded_for = std::string(value);
        }
      }
      break;
    case 6:
      if (iequals(name, "Expect")) {
        expect_continue_ = iequals(value, "100-continue");
      }
      break;
    case 16:
      if (iequals(name, "Keydir-Log-Proof")) {
        out.log_proof = value == "1";
      }
      break;
    case 17:
      if (iequals(name, "Transfer-Encoding")) {
        if (!once(seen_transfer_encoding_)) {
          return false;
        }
        if (!iequals(value, "chunked")) {
          refuse(Status::kNotImplemented, "unsupported Transfer-Encoding (only chunked)");
          return false;
        }
      }
      break;
    default:
      break;
  }
  return true;
}

// Checks the chunk framing of the octets not yet looked at (from scan_ to
// the end of what arrived): hex size, CRLF, data, CRLF, ..., then the last
// chunk and the trailer fields up to their empty line (Chunk::End). Sizes
// add up against the body bound before anything is copied; the wire octets
// of the body (framing included) are bounded by it too.
bool HttpParser::scan_chunks(WireRequest& out) {
  const std::size_t end = buf_.size();
  auto bad = [this](int status, std::string reason) {
    refuse(status, std::move(reason));
    return false;
  };
  const auto too_large = [&] {
    return bad(Status::kPayloadTooLarge, "request body larger than " +
                                             std::to_string(limits_.body) +
                                             " octets (chunk framing included)");
  };
  while (scan_ < end && chunk_ != Chunk::End) {
    if (scan_ - body_start_ >= limits_.body) {
      return too_large();
    }
    const char c = buf_[scan_];
    switch (chunk_) {
      case Chunk::Size: {
        const int digit = c >= '0' && c <= '9'   ? c - '0'
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
        if (digit >= 0) {
          if (++chunk_digits_ > 8) {
            return bad(Status::kPayloadTooLarge,
                       "chunk larger than " + std::to_string(limits_.body) + " octets");
          }
          chunk_left_ = chunk_left_ * 16 + static_cast<std::size_t>(digit);
          if (out.body.size() + chunk_left_ > limits_.body) {
            return bad(Status::kPayloadTooLarge,
                       "request body larger than " + std::to_string(limits_.body) + " octets");
          }
        } else if (c == '\r' && chunk_digits_ > 0) {
          chunk_ = Chunk::SizeLf;
        } else if ((c == ';' || c == ' ' || c == '\t') && chunk_digits_ > 0) {
          chunk_ = Chunk::Ext;  // chunk extensions are ignored (RFC 9112 §7.1.1)
        } else {
          return bad(Status::kBadRequest, "malformed chunk size");
        }
        ++scan_;
        break;
      }
      case Chunk::Ext:
        if (c == '\r') {
          chunk_ = Chunk::SizeLf;
        } else if (c == '\n') {
          return bad(Status::kBadRequest, "malformed chunk size");
        }
        ++scan_;
        break;
      case Chunk::SizeLf:
        if (c != '\n') {
          return bad(Status::kBadRequest, "malformed chunk size");
        }
        ++scan_;
        chunk_digits_ = 0;
        chunk_ = chunk_left_ == 0 ? Chunk::Trailer : Chunk::Data;
        break;
      case Chunk::Data: {
        const std::size_t n = std::min(chunk_left_, end - scan_);
        out.body.append(buf_, scan_, n);
        scan_ += n;
        chunk_left_ -= n;
        if (chunk_left_ == 0) {
          chunk_ = Chunk::DataCr;
        }
        break;
      }
      case Chunk::DataCr:
      case Chunk::DataLf:
        if (c != (chunk_ == Chunk::DataCr ? '\r' : '\n')) {
          return bad(Status::kBadRequest, "malformed chunk (no CRLF after its data)");
        }
        ++scan_;
        chunk_ = chunk_ == Chunk::DataCr ? Chunk::DataLf : Chunk::Size;
        break;
      case Chunk::Trailer:
      case Chunk::TrailerLine:
        if (++trailer_bytes_ > limits_.header_bytes) {
          return bad(
              Status::kHeaderFieldsTooLarge,
              "chunked trailer larger than " + std::to_string(limits_.header_bytes) + " octets");
        }
        if (c == '\r') {
          chunk_ = chunk_ == Chunk::Trailer ? Chunk::LastLf : Chunk::TrailerLf;
        } else if (c == '\n') {
          return bad(Status::kBadRequest, "malformed chunked trailer (bare LF)");
        } else {
          chunk_ = Chunk::TrailerLine;
        }
        ++scan_;
        break;
      case Chunk::TrailerLf:
      case Chunk::LastLf:
        if (c != '\n') {
          return bad(Status::kBadRequest, "malformed chunked trailer (CR without LF)");
        }
        chunk_ = chunk_ == Chunk::LastLf ? Chunk::End : Chunk::Trailer;
        ++scan_;
        break;
      case Chunk::End:
        break;
    }
  }
  if (scan_ - body_start_ > limits_.body) {
    return too_large();
  }
  return true;
}

}  // namespace keydir::server
