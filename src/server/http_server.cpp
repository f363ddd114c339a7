#include "server/http_server.hpp"

#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <spdlog/spdlog.h>

#include "api/http/secret_routes.hpp"
#include "common/limits.hpp"
#include "common/rate_limit.hpp"

namespace keydir::server {

namespace {

using namespace Pistache;

// Parsing a media type costs more than answering a miss: the handful of
// types keydird sends are parsed once per thread.
const Http::Mime::MediaType& mime(const std::string& type) {
  thread_local std::vector<std::pair<std::string, Http::Mime::MediaType>> cache;
  for (const auto& [t, m] : cache) {
    if (t == type) {
      return m;
    }
  }
  cache.emplace_back(type, Http::Mime::MediaType::fromString(type));
  return cache.back().second;
}

// The answer as it goes on the wire (RFC 9112 §4 and §6): the status line,
// Content-Type, the reply's own fields, Connection and Content-Length, then
// the body. An answer to HEAD (`head`) has no body but the length of the one
// GET would have had (RFC 9110 §9.3.2): the router leaves it in a
// Content-Length field, and an answer made here (a refused header block, a
// malformed query) still holds its body. A 204 has neither. A field whose
// name or value holds a CR or LF would split the header block: it is
// dropped.
std::string wire_answer(Http::Version version, const api::Reply& reply, bool close, bool head) {
  auto clean = [](std::string_view v) { return v.find_first_of("\r\n") == std::string_view::npos; };
  std::string_view length;
  std::size_t fields = 0;
  for (const auto& [name, value] : reply.headers) {
    fields += name.size() + value.size() + 4;
    if (strcasecmp(name.c_str(), "Content-Length") == 0) {
      length = value;
    }
  }
  char num[24];
  if (length.empty() || !clean(length)) {
    length = std::string_view(
        num, static_cast<std::size_t>(std::to_chars(num, num + sizeof num, reply.body.size()).ptr -
                                      num));
  }
  const auto code = static_cast<Http::Code>(reply.status);
  std::string out;
  out.reserve(128 + reply.content_type.size() + fields + reply.body.size());
  out += version == Http::Version::Http10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(reply.status);
  out += ' ';
  out += Http::codeString(code);
  out += "\r\n";
  if (!reply.content_type.empty() && clean(reply.content_type)) {
    out += "Content-Type: ";
    out += reply.content_type;
    out += "\r\n";
  }
  for (const auto& [name, value] : reply.headers) {
    if (strcasecmp(name.c_str(), "Content-Length") == 0 || !clean(name) || !clean(value) ||
        name.empty()) {
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += close ? "Connection: Close\r\n" : "Connection: Keep-Alive\r\n";
  if (reply.status == api::Status::kNoContent) {
    out += "\r\n";
    return out;
  }
  out += "Content-Length: ";
  out += length;
  out += "\r\n\r\n";
  if (!head) {
    out += reply.body;
  }
  return out;
}

// Last activity of every connection that made a request, for the idle sweep.
class IdleTracker {
 public:
  void touch(const std::shared_ptr<Tcp::Peer>& peer) {
    if (!peer) {
      return;
    }
    std::lock_guard lock(mu_);
    auto& e = peers_[peer.get()];
    e.peer = peer;
    e.last = std::chrono::steady_clock::now();
  }
  // A refused connection (answer written, our side shut): cut at `until`
  // whether or not its client ever sends again (cut_lingering).
  void linger(const std::shared_ptr<Tcp::Peer>& peer, std::chrono::steady_clock::time_point until) {
    if (!peer) {
      return;
    }
    std::lock_guard lock(mu_);
    lingering_[peer.get()] = Entry{peer, until};
  }
  // Shuts down the refused connections past their linger deadline: the
  // reactor then reads the end of the stream and closes the descriptor.
  void cut_lingering() {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    for (auto it = lingering_.begin(); it != lingering_.end();) {
      auto p = it->second.peer.lock();
      if (!p) {
        it = lingering_.erase(it);
        continue;
      }
      if (now >= it->second.last) {
        ::shutdown(p->fd(), SHUT_RDWR);
        it = lingering_.erase(it);
        continue;
      }
      ++it;
    }
  }
  // Shuts down connections idle longer than `limit`; forgets closed ones.
  void sweep(std::chrono::seconds limit) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    for (auto it = peers_.begin(); it != peers_.end();) {
      auto p = it->second.peer.lock();
      if (!p) {
        it = peers_.erase(it);
        continue;
      }
      if (now - it->second.last > limit) {
        ::shutdown(p->fd(), SHUT_RDWR);
        it = peers_.erase(it);
        continue;
      }
      ++it;
    }
  }

 private:
  struct Entry {
    std::weak_ptr<Tcp::Peer> peer;
    std::chrono::steady_clock::time_point last;  // a deadline in lingering_
  };
  std::mutex mu_;
  std::unordered_map<const Tcp::Peer*, Entry> peers_;
  std::unordered_map<const Tcp::Peer*, Entry> lingering_;
};

constexpr std::size_t kMaxHeaderFields = 100;
constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::size_t kMaxRequestLineBytes = 8 * 1024;
// The largest body: an armored upload, form-encoded (each octet may become
// three).
constexpr std::size_t kMaxBodyBytes = limits::kMaxArmoredUploadBytes * 3;
// After a refusal the rest of the request is read and dropped (so that the
// client sees the answer rather than a reset) for at most this long and this
// much; then the connection is cut.
constexpr std::size_t kLingerBytes = 1024 * 1024;
// Pistache reads a connection until it would block before it writes: a client
// streaming faster than that can delay the answer; past this much the
// connection is cut unanswered.
constexpr std::size_t kMaxDiscardBytes = 64u << 20;
constexpr auto kLinger = std::chrono::seconds(2);
// A connection that asks again while this much of its earlier answers still
// waits to be written (its client does not read) is cut.
constexpr std::size_t kMaxPendingAnswerBytes = 1024 * 1024;

// Pistache 0.0.5 bounds a request only by its whole size, answers 413 when
// its buffer overflows, then keeps the connection and parses the rest of the
// body as new requests, rescanning its buffer for each chunk read: a 30 MB
// body kept a core busy for minutes. Its parser has no hook either, but
// each of its three steps is a virtual class: keydird's parser (installed per
// connection in Handler::onConnection) wraps them and checks, as bytes
// arrive: the request line and the header block against their bounds, the
// announced Content-Length and every chunk size against kMaxBodyBytes before
// any body is read, and the framing of chunked bodies. A chunked body never
// reaches Pistache's chunk parser (0.0.5 loops ~2^64 times when a chunk's
// CR and LF arrive in two reads): it is read whole, its wire octets (framing
// included) bounded by kMaxBodyBytes, and de-chunked here. A refusal ends the
// parse at once ("Done" with `refusal` set); Handler::onRequest answers it
// with Connection: close, and the connection drops whatever follows.
struct Refusal {
  int status;
  std::string reason;
};

class GuardedParser;

class GuardedRequestLine final : public Http::Private::RequestLineStep {
 public:
  GuardedRequestLine(Http::Request* r, GuardedParser* p) : RequestLineStep(r), p_(p) {}
  Http::Private::State apply(StreamCursor& cursor) override;

 private:
  GuardedParser* p_;
};

class GuardedHeaders final : public Http::Private::HeadersStep {
 public:
  GuardedHeaders(Http::Message* m, GuardedParser* p) : HeadersStep(m), p_(p) {}
  Http::Private::State apply(StreamCursor& cursor) override;

 private:
  GuardedParser* p_;
};

class GuardedBody final : public Http::Private::BodyStep {
 public:
  GuardedBody(Http::Message* m, GuardedParser* p) : BodyStep(m), p_(p) {}
  Http::Private::State apply(StreamCursor& cursor) override;

 private:
  GuardedParser* p_;
};

class GuardedParser final : public Http::RequestParser {
 public:
  explicit GuardedParser(std::size_t max_buffer) : Http::RequestParser(max_buffer) {
    allSteps[0] = std::make_unique<GuardedRequestLine>(&request, this);
    allSteps[1] = std::make_unique<GuardedHeaders>(&request, this);
    allSteps[2] = std::make_unique<GuardedBody>(&request, this);
  }
  void reset() override {
    Http::RequestParser::reset();
    if (refusal) {
      discarding = true;  // for good: this connection serves nothing more
      refusal.reset();
    }
    chunked = false;
    chunk_state = ChunkState::Size;
    chunk_digits = 0;
    chunk_left = 0;
    body_total = 0;
    body_start = 0;
    trailer_bytes = 0;
    scan_pos = 0;
    content_type.reset();
    forwarded_for_lines = 0;
    pipelined = false;
    dechunked.clear();
    dechunked.shrink_to_fit();
  }
  Http::Private::State refuse(int status, std::string reason) {
    if (!refusal) {
      refusal = Refusal{status, std::move(reason)};
    }
    return Http::Private::State::Done;
  }
  // Checks the chunk framing of the bytes not yet looked at (from scan_pos
  // to the end of what arrived): hex size, CRLF, data, CRLF, ..., then the
  // last chunk and the trailer fields up to their empty line (chunk_state
  // End). Sizes add up against kMaxBodyBytes before anything is copied; the
  // wire octets of the body (framing included) are bounded by kMaxBodyBytes
  // too, so that Pistache's buffer (maxRequestSize) never overflows first.
  // The chunk data is appended to `dechunked`.
  bool scan_chunks(StreamCursor& at);

  std::optional<Refusal> refusal;
  bool discarding = false;
  std::size_t discarded = 0;
  // Set once the refusal is on the wire (Pistache queues every write; its
  // read loop may drop a lot more before the queue runs).
  bool answered = false;
  std::chrono::steady_clock::time_point linger_until{};
  // Octets of this connection's answers handed to Pistache's write queue
  // and not yet written to the socket. While any are, every answer goes
  // behind them (none may overtake); once they are out, answers are written
  // at once again. A client that reads its answers never has any pending
  // when it asks again (it does not pipeline: see `pipelined`).
  std::size_t pending = 0;
  // The peer's address as text, its rate-limit key and whether it is a
  // trusted proxy: the same for every request of the connection, worked out
  // on its first (inet_ntop and the lookups were a tenth of a miss's work).
  bool peer_known = false;
  std::string peer_host;
  std::string peer_client;
  bool peer_trusted = false;
  // The Content-Type as sent, when Pistache could not parse it (see
  // GuardedHeaders::apply).
  std::optional<std::string> content_type;
  // X-Forwarded-For fields in the header block. Pistache keeps the first of
  // each name only; a trusted proxy that adds its own field after the
  // client's (HAProxy's forwardfor) would have keydird believe the client's.
  // More than one: the client address is unknown.
  int forwarded_for_lines = 0;
  // More octets followed the request in the same read: a pipelined request.
  // Pistache 0.0.5 parses one request per read and drops the rest, so the
  // answer closes the connection (RFC 9112 §9.3.2: the client retries what
  // was not answered) rather than leave the client waiting.
  bool pipelined = false;

  enum class ChunkState {
    Size,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    Trailer,      // at the start of a trailer line (or of the final CRLF)
    TrailerLine,  // inside a trailer field
    TrailerLf,    // after a trailer field's CR
    LastLf,       // after the final CR
    End
  };
  bool chunked = false;
  ChunkState chunk_state = ChunkState::Size;
  int chunk_digits = 0;
  std::size_t chunk_left = 0;
  std::size_t body_total = 0;
  std::size_t body_start = 0;  // buffer position of the body's first octet
  std::size_t trailer_bytes = 0;
  std::size_t scan_pos = 0;  // buffer position up to which chunks were checked
  std::string dechunked;
};

Http::Private::State GuardedRequestLine::apply(StreamCursor& cursor) {
  if (p_->discarding) {
    const std::size_t n = cursor.remaining();
    p_->discarded += n;
    cursor.advance(n);
    return Http::Private::State::Done;
  }
  Http::Private::State s;
  try {
    s = RequestLineStep::apply(cursor);
  } catch (const std::exception&) {
    return p_->refuse(api::Status::kBadRequest, "malformed request line");
  }
  if (s == Http::Private::State::Again && cursor.remaining() > kMaxRequestLineBytes) {
    return p_->refuse(
        api::Status::kUriTooLong,
        "request line longer than " + std::to_string(kMaxRequestLineBytes) + " octets");
  }
  return s;
}

// Calls visit(line, start, end) for each field line of a header block (see
// below) until it returns true; start and end are the line's offsets.
template <class Visit>
void for_each_field(std::string_view block, Visit&& visit) {
  std::size_t pos = 0;
  while (pos < block.size()) {
    auto eol = block.find("\r\n", pos);
    if (eol == std::string_view::npos || eol == pos) {
      return;
    }
    if (visit(block.substr(pos, eol - pos), pos, eol)) {
      return;
    }
    pos = eol + 2;
  }
}

// How many X-Forwarded-For fields the header block holds.
int forwarded_for_fields(std::string_view block) {
  int n = 0;
  for_each_field(block, [&n](std::string_view line, std::size_t, std::size_t) {
    if (line.size() > 15 && line[15] == ':' &&
        strncasecmp(line.data(), "X-Forwarded-For", 15) == 0) {
      ++n;
    }
    return false;
  });
  return n;
}

// A Content-Type value Pistache's media-type parser refuses (it throws on
// a type it does not know, such as the "sks/hashquery" that SKS and
// Hockeypuck send with their key fetches): the header block is parsed from
// a copy in which that one field reads application/octet-stream, and the
// value as sent is kept in the parser for the handler. `block` is the whole
// header block, its final empty line included.
std::optional<std::string> unparsed_content_type(std::string_view block, std::string& copy) {
  std::optional<std::string> sent;
  for_each_field(block, [&](std::string_view line, std::size_t pos, std::size_t eol) {
    auto colon = line.find(':');
    if (colon != 12 || strncasecmp(line.data(), "Content-Type", 12) != 0) {
      return false;
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    try {
      (void)Http::Mime::MediaType::fromString(std::string(value));
    } catch (const std::exception&) {
      copy = std::string(block.substr(0, pos)) + "Content-Type: application/octet-stream" +
             std::string(block.substr(eol));
      sent = std::string(value);
    }
    return true;
  });
  return sent;
}

Http::Private::State GuardedHeaders::apply(StreamCursor& cursor) {
  Http::Private::State s;
  try {
    const std::string_view rest(cursor.offset(), cursor.remaining());
    const auto end = rest.starts_with("\r\n") ? 0 : rest.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      // Parsed only whole: a field Pistache cannot parse is recognised
      // before it throws on it.
      if (rest.size() > kMaxHeaderBytes) {
        return p_->refuse(api::Status::kHeaderFieldsTooLarge, "request header fields too large");
      }
      return Http::Private::State::Again;
    }
    std::string copy;
    std::optional<std::string> sent;
    if (end <= kMaxHeaderBytes) {
      sent = unparsed_content_type(rest.substr(0, end + (end == 0 ? 2 : 4)), copy);
      p_->forwarded_for_lines = forwarded_for_fields(rest.substr(0, end + (end == 0 ? 2 : 4)));
    }
    if (sent) {
      if (sent->size() > 256) {
        return p_->refuse(api::Status::kBadRequest, "malformed header field (Content-Type)");
      }
      ArrayStreamBuf<char> buf(copy.size());
      buf.feed(copy.data(), copy.size());
      StreamCursor lenient(&buf);
      s = HeadersStep::apply(lenient);
      if (s != Http::Private::State::Next) {
        return p_->refuse(api::Status::kBadRequest, "malformed header field");
      }
      cursor.advance(end + 4);
      p_->content_type = std::move(*sent);
    } else {
      s = HeadersStep::apply(cursor);
    }
  } catch (const std::exception&) {
    return p_->refuse(api::Status::kBadRequest, "malformed header field");
  }
  if (s == Http::Private::State::Again) {
    if (cursor.remaining() > kMaxHeaderBytes) {
      return p_->refuse(api::Status::kHeaderFieldsTooLarge, "request header fields too large");
    }
    return s;
  }
  // Pistache keeps one raw header of each name, so a repeated
  // Content-Length cannot be seen here (nginx in front refuses those).
  const auto raw_length = message->headers().tryGetRaw("Content-Length");
  if (raw_length) {
    std::string v = raw_length->value();
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
      v.pop_back();
    }
    if (v.empty() || v.size() > 19 ||
        !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return p_->refuse(api::Status::kBadRequest, "malformed Content-Length");
    }
  }
  if (raw_length && message->headers().tryGetRaw("Transfer-Encoding")) {
    return p_->refuse(api::Status::kBadRequest,
                      "ambiguous body length (Content-Length and Transfer-Encoding)");
  }
  if (auto cl = message->headers().tryGet<Http::Header::ContentLength>()) {
    if (cl->value() > kMaxBodyBytes) {
      return p_->refuse(api::Status::kPayloadTooLarge,
                        "request body larger than " + std::to_string(kMaxBodyBytes) + " octets");
    }
  }
  if (auto te = message->headers().tryGet<Http::Header::TransferEncoding>()) {
    if (te->encoding() != Http::Header::Encoding::Chunked) {
      return p_->refuse(api::Status::kNotImplemented,
                        "unsupported Transfer-Encoding (only chunked)");
    }
    p_->chunked = true;
    p_->body_start = static_cast<std::size_t>(cursor);
    p_->scan_pos = p_->body_start;
  }
  return s;
}

bool GuardedParser::scan_chunks(StreamCursor& at) {
  const std::size_t here = static_cast<std::size_t>(at);
  const std::size_t end = here + at.remaining();
  if (scan_pos < here) {
    scan_pos = here;
  }
  const char* base = at.offset() - here;  // the buffer's first octet
  auto bad = [this](int status, std::string reason) {
    refuse(status, std::move(reason));
    return false;
  };
  const auto too_large = [&] {
    return bad(api::Status::kPayloadTooLarge, "request body larger than " +
                                                  std::to_string(kMaxBodyBytes) +
                                                  " octets (chunk framing included)");
  };
  while (scan_pos < end && chunk_state != ChunkState::End) {
    if (scan_pos - body_start >= kMaxBodyBytes) {
      return too_large();
    }
    const char c = base[scan_pos];
    switch (chunk_state) {
      case ChunkState::Size: {
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
        if (digit >= 0) {
          if (++chunk_digits > 8) {
            return bad(api::Status::kPayloadTooLarge,
                       "chunk larger than " + std::to_string(kMaxBodyBytes) + " octets");
          }
          chunk_left = chunk_left * 16 + static_cast<std::size_t>(digit);
          if (body_total + chunk_left > kMaxBodyBytes) {
            return bad(api::Status::kPayloadTooLarge,
                       "request body larger than " + std::to_string(kMaxBodyBytes) + " octets");
          }
        } else if (c == '\r' && chunk_digits > 0) {
          chunk_state = ChunkState::SizeLf;
        } else {
          return bad(api::Status::kBadRequest, "malformed chunk size");
        }
        ++scan_pos;
        break;
      }
      case ChunkState::SizeLf:
        if (c != '\n') {
          return bad(api::Status::kBadRequest, "malformed chunk size");
        }
        ++scan_pos;
        body_total += chunk_left;
        chunk_digits = 0;
        chunk_state = chunk_left == 0 ? ChunkState::Trailer : ChunkState::Data;
        break;
      case ChunkState::Data: {
        const std::size_t n = std::min(chunk_left, end - scan_pos);
        dechunked.append(base + scan_pos, n);
        scan_pos += n;
        chunk_left -= n;
        if (chunk_left == 0) {
          chunk_state = ChunkState::DataCr;
        }
        break;
      }
      case ChunkState::DataCr:
      case ChunkState::DataLf:
        if (c != (chunk_state == ChunkState::DataCr ? '\r' : '\n')) {
          return bad(api::Status::kBadRequest, "malformed chunk (no CRLF after its data)");
        }
        ++scan_pos;
        chunk_state = chunk_state == ChunkState::DataCr ? ChunkState::DataLf : ChunkState::Size;
        break;
      case ChunkState::Trailer:
      case ChunkState::TrailerLine:
        if (++trailer_bytes > kMaxHeaderBytes) {
          return bad(api::Status::kHeaderFieldsTooLarge,
                     "chunked trailer larger than " + std::to_string(kMaxHeaderBytes) + " octets");
        }
        if (c == '\r') {
          chunk_state =
              chunk_state == ChunkState::Trailer ? ChunkState::LastLf : ChunkState::TrailerLf;
        } else if (c == '\n') {
          return bad(api::Status::kBadRequest, "malformed chunked trailer (bare LF)");
        } else {
          chunk_state = ChunkState::TrailerLine;
        }
        ++scan_pos;
        break;
      case ChunkState::TrailerLf:
      case ChunkState::LastLf:
        if (c != '\n') {
          return bad(api::Status::kBadRequest, "malformed chunked trailer (CR without LF)");
        }
        chunk_state = chunk_state == ChunkState::LastLf ? ChunkState::End : ChunkState::Trailer;
        ++scan_pos;
        break;
      case ChunkState::End:
        break;
    }
  }
  if (scan_pos - body_start > kMaxBodyBytes) {
    return too_large();
  }
  return true;
}

// Pistache's Message keeps its body protected and befriends only its own
// BodyStep: a pointer to the member, named through a derived class.
struct MessageBody : Http::Message {
  static constexpr std::string Http::Message::*kBody = &MessageBody::body_;
};

Http::Private::State GuardedBody::apply(StreamCursor& cursor) {
  if (p_->chunked) {
    // Nothing is consumed until the whole body (last chunk and trailer) is
    // in; Pistache's own chunk parser never runs.
    if (!p_->scan_chunks(cursor)) {
      return Http::Private::State::Done;
    }
    if (p_->chunk_state != GuardedParser::ChunkState::End) {
      return Http::Private::State::Again;
    }
    cursor.advance(p_->scan_pos - static_cast<std::size_t>(cursor));
    message->*MessageBody::kBody = std::move(p_->dechunked);
    p_->dechunked.clear();
    p_->pipelined = cursor.remaining() > 0;
    return Http::Private::State::Done;
  }
  try {
    auto s = BodyStep::apply(cursor);
    if (s == Http::Private::State::Done) {
      p_->pipelined = cursor.remaining() > 0;
    }
    return s;
  } catch (const std::exception&) {
    return p_->refuse(api::Status::kBadRequest, "malformed request body");
  }
}

class Handler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(Handler)

  Handler(const api::Api* api, bool log_queries, AccessLog* access_log,
          std::vector<std::string> trusted, IdleTracker* idle, int ipv6_prefix)
      : api_(api),
        log_queries_(log_queries),
        access_log_(access_log),
        trusted_(std::move(trusted)),
        idle_(idle),
        ipv6_prefix_(ipv6_prefix) {}

  void onRequest(const Http::Request& req, Http::ResponseWriter response) override {
    auto t0 = std::chrono::steady_clock::now();
    std::optional<std::string> sent_content_type;
    bool pipelined = false;
    int forwarded_for_lines = 0;
    std::shared_ptr<GuardedParser> parser;
    if (auto peer = response.peer()) {
      parser = std::static_pointer_cast<GuardedParser>(getParser(peer));
      sent_content_type = parser->content_type;
      forwarded_for_lines = parser->forwarded_for_lines;
      pipelined = parser->pipelined;
      if (parser->discarding) {
        // The rest of a refused request: dropped; once the answer is out
        // and past the linger bounds, the connection is cut.
        if ((parser->answered && (parser->discarded > kLingerBytes || t0 > parser->linger_until)) ||
            parser->discarded > kMaxDiscardBytes) {
          cut(*peer);
        }
        return;
      }
      if (parser->refusal) {
        refuse(req, std::move(response), *parser, t0);
        return;
      }
      if (parser->pending > kMaxPendingAnswerBytes) {
        // Asks and does not read: its answers would pile up in memory.
        spdlog::info(
            "http: cut a connection from {} that does not read its answers ({} octets "
            "waiting)",
            req.address().host(), parser->pending);
        cut(*peer);
        return;
      }
    }
    api::HttpRequest r;
    r.method = Http::methodString(req.method());
    r.path = req.resource();
    bool bad_query = false;
    for (auto it = req.query().parameters_begin(); it != req.query().parameters_end(); ++it) {
      auto k = api::form_decode(it->first);
      auto v = api::form_decode(it->second);
      if (!k || !v) {
        bad_query = true;
        break;
      }
      r.query.emplace_back(std::move(*k), std::move(*v));
    }
    if (sent_content_type) {
      r.content_type = *sent_content_type;
    } else if (auto ct = req.headers().tryGetRaw("Content-Type")) {
      r.content_type = ct->value();
    }
    if (auto host = req.headers().tryGet<Http::Header::Host>()) {
      r.host = host->host();
      if (host->port() != 0 && host->port() != 80 && host->port() != 443) {
        r.host += ":" + host->port().toString();
      }
    }
    if (auto auth = req.headers().tryGet<Http::Header::Authorization>()) {
      r.authorization = auth->value();
    }
    if (auto proof = req.headers().tryGetRaw("Keydir-Log-Proof")) {
      r.log_proof = proof->value() == "1";
    }
    r.body = req.body();
    // Rate limits count clients: an IPv6 client by its network (one site
    // holds a /64), an IPv4-mapped one as IPv4.
    if (parser && !parser->peer_known) {
      parser->peer_host = req.address().host();
      parser->peer_client = client_key(parser->peer_host, ipv6_prefix_);
      parser->peer_trusted = is_trusted(parser->peer_host, parser->peer_client);
      parser->peer_known = true;
    }
    const std::string peer_host = parser ? parser->peer_host : req.address().host();
    r.client = parser ? parser->peer_client : client_key(peer_host, ipv6_prefix_);
    r.address = peer_host;
    const auto forwarded = req.headers().tryGetRaw("X-Forwarded-For");
    const bool trusted = parser ? parser->peer_trusted : is_trusted(peer_host, r.client);
    if (forwarded && !trusted) {
      // Through a proxy keydird was not told to trust (no --trusted-proxy
      // for the nginx in front): the client is unknown, never the proxy.
      r.address.clear();
    }
    if (trusted) {
      // The client is the last address the proxy appended.
      if (forwarded_for_lines > 1) {
        // Several X-Forwarded-For fields: which one the proxy wrote cannot
        // be told; the client is unknown, and rate limits count the proxy.
        r.address.clear();
      } else if (auto xff = forwarded) {
        const std::string header = xff->value();  // value() returns a temporary
        std::string_view v = header;
        auto comma = v.rfind(',');
        std::string_view last = comma == std::string_view::npos ? v : v.substr(comma + 1);
        while (!last.empty() && last.front() == ' ') {
          last.remove_prefix(1);
        }
        r.address.clear();
        if (!last.empty() && last.size() <= 64) {
          r.client = client_key(last, ipv6_prefix_);
          r.address = std::string(last);
        }
      }
    }
    // Pistache 0.0.5 bounds only the whole request: header fields are
    // bounded here (count and size; RFC 6585 §5).
    std::size_t header_bytes = 0;
    const auto& raw = req.headers().rawList();
    for (const auto& [name, value] : raw) {
      header_bytes += name.size() + value.value().size() + 4;
    }
    const auto typed = req.headers().list();
    for (const auto& h : typed) {
      header_bytes += std::string_view(h->name()).size() + 64;
    }
    const bool headers_too_large = raw.size() + typed.size() > kMaxHeaderFields ||
                                   header_bytes > kMaxHeaderBytes ||
                                   r.authorization.size() > kMaxHeaderBytes || r.host.size() > 1024;
    api::Reply reply =
        headers_too_large
            ? api::text_reply(api::Status::kHeaderFieldsTooLarge, "request header fields too large")
        : bad_query ? api::text_reply(api::Status::kBadRequest, "malformed query string")
                    : api_->dispatch(r);

    // Persistent connections (RFC 9112 §9.3): HTTP/1.1 stays open unless
    // the client says "close"; HTTP/1.0 (GnuPG's dirmngr) closes unless it
    // says "keep-alive". Pistache 0.0.5 closes every request without a
    // Connection header, so the decision is made here.
    bool close = req.version() == Http::Version::Http10;
    if (auto c = req.headers().tryGet<Http::Header::Connection>()) {
      close = c->control() == Http::ConnectionControl::Close;
    }
    close = close || pipelined;
    const std::size_t bytes = reply.body.size();
    auto peer_now = response.peer();
    if (!close && idle_) {
      idle_->touch(peer_now);
    }
    if (peer_now) {
      send_answer(peer_now, parser,
                  wire_answer(req.version(), reply, close, req.method() == Http::Method::Head),
                  close);
    }
    log_request(req, r, reply.status, bytes, t0);
  }

 private:
  // Writes an answer on the socket at once, from the reactor thread that
  // read the request, when nothing of the connection is queued: Pistache
  // would queue it and wake its own loop to write it, an eventfd write and
  // read and epoll re-arms per answer, more system calls than the answer
  // itself. What the socket does not take at once, and any answer on a TLS
  // connection or behind a queued one, goes to Pistache's queue
  // (GuardedParser::pending).
  static void send_answer(const std::shared_ptr<Tcp::Peer>& peer,
                          const std::shared_ptr<GuardedParser>& parser, std::string out,
                          bool close) {
    // The request is answered: Pistache's idle check (every 500 ms) then
    // applies the keep-alive timeout to the connection rather than the
    // header timeout, which would write an unasked 408 and close it after
    // 10 s. ResponseWriter::send would have said so; nothing else does.
    peer->setIdle(true);
    std::size_t written = 0;
    if (peer->ssl() == nullptr && (!parser || parser->pending == 0)) {
      const ssize_t n = ::send(peer->fd(), out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n == static_cast<ssize_t>(out.size())) {
        if (close) {
          ::shutdown(peer->fd(), SHUT_RDWR);
        }
        return;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        // The client is gone (EPIPE, ECONNRESET): the reactor sees the
        // end of the connection and releases it.
        ::shutdown(peer->fd(), SHUT_RDWR);
        return;
      }
      written = n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    std::string rest = written == 0 ? std::move(out) : out.substr(written);
    const std::size_t size = rest.size();
    if (parser) {
      parser->pending += size;
    }
    std::weak_ptr<Tcp::Peer> weak_peer = peer;
    std::weak_ptr<GuardedParser> weak_parser = parser;
    // Pistache runs this on the connection's reactor thread, the one that
    // reads its requests, once the whole buffer is written.
    peer->send(RawBuffer(std::move(rest), size))
        .then(
            [weak_peer, weak_parser, size, close](ssize_t) {
              if (auto g = weak_parser.lock()) {
                g->pending -= std::min(g->pending, size);
              }
              if (auto p = weak_peer.lock(); p && close) {
                ::shutdown(p->fd(), SHUT_RDWR);
              }
            },
            // A write Pistache could not finish (the client is gone, a TLS
            // error): end the connection, never the server.
            [weak_peer](std::exception_ptr&) {
              if (auto p = weak_peer.lock()) {
                cut(*p);
              }
            });
  }

  void log_request(const Http::Request& req, const api::HttpRequest& r, int status,
                   std::size_t bytes, std::chrono::steady_clock::time_point t0) {
    auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    if (access_log_) {
      std::string line;
      line.reserve(r.method.size() + r.path.size() + 64);
      line += r.method;
      line += ' ';
      // Always: the tokens of /verify/ and /manage/ links never reach a log
      // (api/http/secret_routes.hpp), whatever --no-query-log says.
      line += api::redact_path(r.path);
      if (log_queries_) {
        line += req.query().as_str();
      }
      char num[64];
      auto put = [&](std::int64_t v, const char* suffix) {
        auto end = std::to_chars(num, num + sizeof num, v).ptr;
        line += ' ';
        line.append(num, end);
        line += suffix;
      };
      put(status, "");
      put(static_cast<std::int64_t>(bytes), "");
      put(us, "us");
      access_log_->write(line);
    }
  }

  // Every connection gets keydird's bounded parser (see GuardedParser).
  void onConnection(const std::shared_ptr<Tcp::Peer>& peer) override {
    peer->putData(ParserData, std::make_shared<GuardedParser>(getMaxRequestSize()));
  }

  // Ends a connection now: a reset rather than a FIN, so that a client
  // still sending does not wait on a closed window.
  static void cut(Tcp::Peer& peer) {
    linger l{1, 0};
    ::setsockopt(peer.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::shutdown(peer.fd(), SHUT_RDWR);
  }

  bool is_trusted(const std::string& host, const std::string& key) const {
    auto listed = [this](const std::string& a) {
      return std::find(trusted_.begin(), trusted_.end(), a) != trusted_.end();
    };
    return listed(host) || (key.find('/') == std::string::npos && listed(key));
  }

  // Answers a request the parser refused (GuardedParser) and closes: our
  // side of the connection at once, the reading side once the rest of the
  // request has been dropped (the linger bounds).
  void refuse(const Http::Request& req, Http::ResponseWriter response, GuardedParser& parser,
              std::chrono::steady_clock::time_point t0) {
    const Refusal refusal = *parser.refusal;
    auto peer_now = response.peer();
    if (parser.pending == 0 && peer_now->ssl() == nullptr) {
      // Pistache queues its writes behind its read loop, which drains the
      // socket first: a client streaming a large body would get the answer
      // only after sending it all. Nothing of the connection is queued
      // (GuardedParser::pending), so the answer is written here, at once.
      const std::string body = refusal.reason + "\n";
      const std::string out =
          "HTTP/1.1 " + std::to_string(refusal.status) + " " +
          Http::codeString(static_cast<Http::Code>(refusal.status)) +
          "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
      if (::send(peer_now->fd(), out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
          static_cast<ssize_t>(out.size())) {
        ::shutdown(peer_now->fd(), SHUT_WR);
        parser.answered = true;
        parser.linger_until = t0 + kLinger;
        // A client that stays silent never wakes the discard path: the
        // sweeper cuts the connection at the deadline.
        if (idle_) {
          idle_->linger(peer_now, parser.linger_until);
        }
      } else {
        cut(*peer_now);
      }
      log_refusal(req, refusal, t0);
      return;
    }
    response.headers().remove<Http::Header::Connection>();
    response.headers().add<Http::Header::Connection>(Http::ConnectionControl::Close);
    response.setMime(mime("text/plain; charset=utf-8"));
    std::weak_ptr<Tcp::Peer> peer = response.peer();
    response.send(static_cast<Http::Code>(refusal.status), refusal.reason + "\n")
        .then(
            [peer, idle = idle_](ssize_t) {
              if (auto p = peer.lock()) {
                ::shutdown(p->fd(), SHUT_WR);
                auto g = std::static_pointer_cast<GuardedParser>(getParser(p));
                g->answered = true;
                g->linger_until = std::chrono::steady_clock::now() + kLinger;
                if (idle) {
                  idle->linger(p, g->linger_until);
                }
              }
            },
            [peer](std::exception_ptr&) {
              if (auto p = peer.lock()) {
                cut(*p);
              }
            });
    log_refusal(req, refusal, t0);
  }

  void log_refusal(const Http::Request& req, const Refusal& refusal,
                   std::chrono::steady_clock::time_point t0) {
    spdlog::debug("http: refused a request from {}: {} {}", req.address().host(), refusal.status,
                  refusal.reason);
    if (access_log_) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - t0)
                    .count();
      std::string method = req.resource().empty() ? "-" : Http::methodString(req.method());
      // The tokens of /verify/ and /manage/ links stay out of the log here
      // too (a refused POST /verify/<token> names its token).
      std::string path = req.resource().empty() ? "-" : api::redact_path(req.resource());
      access_log_->write(method + " " + path + " " + std::to_string(refusal.status) + " " +
                         std::to_string(refusal.reason.size() + 1) + " " + std::to_string(us) +
                         "us");
    }
  }

  const api::Api* api_;
  bool log_queries_;
  AccessLog* access_log_;
  std::vector<std::string> trusted_;
  IdleTracker* idle_;
  int ipv6_prefix_;
};

}  // namespace

struct HttpServer::Impl {
  const api::Api& api;
  HttpOptions options;
  std::unique_ptr<Http::Endpoint> endpoint;
  IdleTracker idle;
  std::thread sweeper;
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
};

HttpServer::HttpServer(const api::Api& api, HttpOptions options)
    : impl_(new Impl{api, std::move(options), nullptr, {}, {}, {}, {}, false}) {}

HttpServer::~HttpServer() {
  stop();
}

Result<std::uint16_t> HttpServer::start() {
  try {
    Address addr(impl_->options.host, Port(impl_->options.port));
    impl_->endpoint = std::make_unique<Http::Endpoint>(addr);
    auto opts =
        Http::Endpoint::options()
            .threads(impl_->options.threads)
            .flags(Tcp::Options::ReuseAddr)
            // The largest body plus the request line and headers
            // (GuardedParser checks each part against its own bound).
            .maxRequestSize(kMaxBodyBytes + kMaxRequestLineBytes + kMaxHeaderBytes + 64 * 1024)
            .maxResponseSize(64u << 20)
            .headerTimeout(std::chrono::seconds(impl_->options.header_timeout_seconds))
            .bodyTimeout(std::chrono::seconds(impl_->options.body_timeout_seconds));
    impl_->endpoint->init(opts);
    impl_->endpoint->setHandler(Http::make_handler<Handler>(
        &impl_->api, impl_->options.log_queries, impl_->options.access_log,
        impl_->options.trusted_proxies, &impl_->idle, impl_->options.ipv6_prefix));
    if (impl_->options.tls_cert && impl_->options.tls_key) {
      impl_->endpoint->useSSL(*impl_->options.tls_cert, *impl_->options.tls_key);
    }
    impl_->endpoint->serveThreaded();
    // Every 250 ms: cuts refused connections past their linger; with an
    // idle timeout, sweeps idle ones every quarter of it (at least 1 s).
    impl_->sweeper = std::thread([impl = impl_.get()] {
      const int idle_seconds = impl->options.idle_timeout_seconds;
      const auto limit = std::chrono::seconds(std::max(idle_seconds, 1));
      const auto period = std::max(std::chrono::seconds(1), limit / 4);
      auto next_sweep = std::chrono::steady_clock::now() + period;
      std::unique_lock lock(impl->stop_mu);
      while (!impl->stop_cv.wait_for(lock, std::chrono::milliseconds(250),
                                     [impl] { return impl->stopping; })) {
        impl->idle.cut_lingering();
        if (idle_seconds > 0 && std::chrono::steady_clock::now() >= next_sweep) {
          impl->idle.sweep(limit);
          next_sweep = std::chrono::steady_clock::now() + period;
        }
      }
    });
    return static_cast<std::uint16_t>(impl_->endpoint->getPort());
  } catch (const std::exception& e) {
    impl_->endpoint.reset();
    // One line: Pistache passes on OpenSSL's error stack (several lines of
    // codes and source files); the configuration checked the files already
    // (server/config.cpp), so this is a file changed since, or a port taken.
    const std::string where = impl_->options.host + ":" + std::to_string(impl_->options.port);
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    if (what.find("already in use") != std::string::npos) {
      return fail(ErrorCode::Internal,
                  where +
                      " is in use (another keydird or another server: `ss -ltnp` shows "
                      "which); stop it or set listen to another port");
    }
    if (what.find("cannot load SSL certificate") != std::string::npos) {
      return fail(ErrorCode::Internal, "cannot listen on " + where + ": tls-cert " +
                                           impl_->options.tls_cert.value_or("") +
                                           " does not load as a PEM certificate");
    }
    if (what.find("cannot load SSL private key") != std::string::npos) {
      return fail(ErrorCode::Internal, "cannot listen on " + where + ": tls-key " +
                                           impl_->options.tls_key.value_or("") +
                                           " does not load as the PEM private key of tls-cert");
    }
    return fail(ErrorCode::Internal, "cannot listen on " + where + ": " + what);
  }
}

void HttpServer::stop() {
  if (impl_ && impl_->sweeper.joinable()) {
    {
      std::lock_guard lock(impl_->stop_mu);
      impl_->stopping = true;
    }
    impl_->stop_cv.notify_all();
    impl_->sweeper.join();
  }
  if (impl_ && impl_->endpoint) {
    impl_->endpoint->shutdown();
    impl_->endpoint.reset();
  }
}

}  // namespace keydir::server
