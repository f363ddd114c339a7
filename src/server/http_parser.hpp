// keydird's HTTP/1.1 request parser (RFC 9112): octets in, whole requests
// out, every part bounded as it arrives. No server library in it: the
// adapter (http_server.cpp) feeds it what the connection read and answers
// each request it yields, in order, pipelined ones included.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace keydir::server {

struct HttpLimits {
  std::size_t request_line = 8 * 1024;   // beyond: 414
  std::size_t header_bytes = 16 * 1024;  // the field lines together; beyond: 431
  std::size_t header_fields = 100;       // beyond: 431
  std::size_t body = 1024 * 1024;        // announced, chunk sizes and wire octets; beyond: 413
};

// One request as it came, with the fields keydird reads.
struct WireRequest {
  std::string method;  // a token as sent ("GET")
  std::string path;    // the request target up to '?', as sent ("*" for OPTIONS *)
  std::string query;   // after '?', as sent, without it
  bool http10 = false;
  bool close = false;  // the connection ends after the answer (RFC 9112 §9.3)
  std::string host;    // lower case, without a default port (":80", ":443")
  std::string content_type;
  std::string authorization;
  std::string forwarded_for;  // the X-Forwarded-For value, when there is one field
  int forwarded_for_fields = 0;
  bool log_proof = false;  // Keydir-Log-Proof: 1
  std::string body;        // de-chunked
  void clear();
};

struct HttpRefusal {
  int status = 0;
  std::string reason;  // one line
  // What the request line said, when it could be read ("" otherwise).
  std::string method;
  std::string path;
};

class HttpParser {
 public:
  explicit HttpParser(HttpLimits limits = {}) : limits_(limits) {}

  enum class Step {
    More,     // nothing whole yet: feed more
    Request,  // `out` holds the next request
    Refused   // refusal() says why; the connection serves nothing more
  };
  // Appends octets read from the connection. After a refusal they are
  // dropped.
  void feed(std::string_view octets);
  // The next whole request of what was fed.
  Step next(WireRequest& out);
  [[nodiscard]] const HttpRefusal& refusal() const { return refusal_; }
  // Octets of a request not yet whole are in (for timeouts and the idle
  // sweep): none between requests.
  [[nodiscard]] bool partial() const { return buf_.size() > pos_; }
  // The head is in and the body is being read.
  [[nodiscard]] bool in_body() const { return state_ == State::Body; }
  // True once for a request whose head asked "Expect: 100-continue" and
  // whose body is not in yet: the client waits for an interim 100.
  bool take_continue() {
    const bool c = continue_ && state_ == State::Body;
    continue_ = false;
    return c;
  }
  // Octets held (what came and was not yet yielded).
  [[nodiscard]] std::size_t buffered() const { return buf_.size() - pos_; }

 private:
  enum class State { Head, Body, Refused };
  enum class Chunk {
    Size,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    Trailer,
    TrailerLine,
    TrailerLf,
    LastLf,
    End
  };

  Step refuse(int status, std::string reason);
  Step parse_head(std::size_t end);
  bool parse_field(std::string_view line, WireRequest& out);
  // Checks chunk framing from scan_ on and appends chunk data to out.body.
  bool scan_chunks(WireRequest& out);
  void compact();

  HttpLimits limits_;
  std::string buf_;
  std::size_t pos_ = 0;  // the current request's first octet
  std::size_t scan_ =
      0;  // head: where the search for its end goes on; body: framing checked so far
  State state_ = State::Head;
  HttpRefusal refusal_;

  // The request being read (its head parsed, its body coming).
  WireRequest current_;
  std::size_t body_start_ = 0;
  std::size_t content_length_ = 0;
  bool chunked_ = false;
  Chunk chunk_ = Chunk::Size;
  int chunk_digits_ = 0;
  std::size_t chunk_left_ = 0;
  std::size_t trailer_bytes_ = 0;
  // Head fields seen, for repeats.
  int seen_content_length_ = 0;
  int seen_transfer_encoding_ = 0;
  int seen_host_ = 0;
  int seen_content_type_ = 0;
  int seen_authorization_ = 0;
  bool keep_alive_ = false;
  bool expect_continue_ = false;
  bool continue_ = false;
  std::size_t line_end_ = std::string::npos;  // the request line's CRLF, once found
  bool close_ = false;
};

}  // namespace keydir::server
