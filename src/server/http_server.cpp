#include "server/http_server.hpp"

#include <linux/sockios.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
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
#include "server/http_parser.hpp"
#include "server/tls_files.hpp"

namespace keydir::server {

namespace {

using namespace Pistache;

// The answer as it goes on the wire (RFC 9112 §4 and §6): the status line,
// Content-Type, the reply's own fields, Connection and Content-Length, then
// the body. An answer to HEAD (`head`) has no body but the length of the one
// GET would have had (RFC 9110 §9.3.2): the router leaves it in a
// Content-Length field, and an answer made here (a refused header block, a
// malformed query) still holds its body. A 204 has neither. A field whose
// name or value holds a CR or LF would split the header block: it is
// dropped.
std::string wire_answer(bool http10, const api::Reply& reply, bool close, bool head) {
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
  out += http10 ? "HTTP/1.0 " : "HTTP/1.1 ";
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
  // The connection is ending (Pistache calls onDisconnection before it
  // closes the descriptor): the sweeps, which shut descriptors down from
  // their own thread while holding mu_, must not touch its number once it is
  // closed and may be another connection's. (Pistache's own timeouts close
  // without onDisconnection; their peers stay alive, and so in the sweeps'
  // reach, only until the end of that idle check.)
  void forget(const Tcp::Peer* peer) {
    std::lock_guard lock(mu_);
    peers_.erase(peer);
    lingering_.erase(peer);
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

// Each part of a request is bounded as it arrives (RFC 6585 §5, RFC 9110
// §15.5.14). The largest body: an armored upload, form-encoded (each octet
// may become three).
constexpr HttpLimits kLimits{.request_line = 8 * 1024,
                             .header_bytes = 16 * 1024,
                             .header_fields = 100,
                             .body = limits::kMaxArmoredUploadBytes * 3};
// After a last answer (a refusal, Connection: close) what the client still
// sends is read and dropped (so that it sees the whole answer rather than a
// reset) for at most this long, and past this much only until the client
// has acknowledged the whole answer; then the connection is cut.
constexpr std::size_t kLingerBytes = 1024 * 1024;
// Pistache reads a connection until it would block before it writes: a client
// streaming faster than that can delay the answer; past this much the
// connection is cut unanswered.
constexpr std::size_t kMaxDiscardBytes = 64u << 20;
constexpr auto kLinger = std::chrono::seconds(2);
// A connection that asks again while this much of its earlier answers still
// waits to be written (its client does not read) is cut.
constexpr std::size_t kMaxPendingAnswerBytes = 1024 * 1024;
// Pistache 0.0.5 writes a connection's queue in a loop that, once the socket
// has taken part of an entry and then takes no more (EAGAIN), tries again at
// once, and again, until the client reads: a client that read a little of
// a long queue and stopped kept its worker, and every connection on it,
// spinning (tests/adversarial/write_spin.sh). On plain connections keydird
// writes every octet itself (Handler::hand_over). Over TLS Pistache writes
// one piece of this size at a time, when epoll says the socket is writable
// (a third of its send buffer free): whole, unless the client shrank what a
// segment carries to a few dozen octets (TCP_MAXSEG), which only a TLS
// terminator in front (docs/operating.md) rules out.
constexpr std::size_t kPieceBytes = 4096;
// Pistache reads a connection until its socket is empty before it serves
// the next: a client that pipelines faster than its answers are written
// would keep a worker, and every connection on it, to itself. After this
// many requests a connection is closed (nginx's keepalive_requests): its
// last answer says so and the client reconnects.
constexpr std::size_t kMaxRequestsPerConnection = 1000;
// The same read loop lets a client that asks again the moment it has its
// answer (written at once, below) be served again before the worker's other
// connections: on pages that take a fraction of a millisecond, wrk's
// connections waited up to 0.6 s for their turn. After this many answers in a
// row on one connection, or once making them took kTurnTime (from each
// request's first parse to its answer: not the time between requests, which
// a client that preempts the worker would add), its turn ends: when the
// client has sent no further whole request, its last answer is held until
// Pistache's loop has served the other connections (a write of no octets,
// queued behind them, wakes it). A client that pipelines is answered at once
// as before (it keeps Pistache's read loop going, so nothing queued could be
// written) and is bounded by kMaxRequestsPerConnection.
constexpr std::size_t kAnswersPerTurn = 16;
constexpr auto kTurnTime = std::chrono::milliseconds(1);

// The connection this reactor thread answered last (its serial number; 0:
// none), how many answers in a row it had and how long they took to make
// (kAnswersPerTurn, kTurnTime).
thread_local std::uint64_t tl_turn = 0;
thread_local std::size_t tl_turn_answers = 0;
thread_local std::chrono::steady_clock::duration tl_turn_busy{};
// Counts this reactor thread's onInput calls.
thread_local std::uint64_t tl_input = 0;
std::atomic<std::uint64_t> g_connection_serial{0};

// Pistache's write queue names a connection by its descriptor number, and a
// worker moves what was queued to the connection's own queue only on its
// next round. A client that sends its requests and its end together has its
// connection closed in the round that read them, its answers still in that
// queue (every answer over TLS; over plain HTTP, what the socket did not take
// at once); the next connection accepted may get the same number, and when
// the worker takes it on before its write queue, those answers went to it,
// ahead of its own (tests/adversarial/fd_reuse.sh). A connection closed
// with answers queued leaves its number here until a mark queued behind
// them (a write of no octets) has left the queue: a new connection that gets
// a number listed here is cut before it can read anything. Shared by the
// workers (numbers are the process's).
class StaleWrites {
 public:
  void add(int fd) {
    std::lock_guard lock(mu_);
    ++fds_[fd];
  }
  void remove(int fd) {
    std::lock_guard lock(mu_);
    auto it = fds_.find(fd);
    if (it != fds_.end() && --it->second == 0) {
      fds_.erase(it);
    }
  }
  bool has(int fd) {
    std::lock_guard lock(mu_);
    return fds_.count(fd) != 0;
  }

 private:
  std::mutex mu_;
  std::unordered_map<int, int> fds_;
};

// Lists a number in StaleWrites for as long as it lives: it is held only by
// the callbacks of the mark, which Pistache destroys when the mark leaves its
// queue, written (to whichever connection has the number then) or dropped
// (no connection has it).
class StaleMark {
 public:
  StaleMark(std::shared_ptr<StaleWrites> stale, int fd) : stale_(std::move(stale)), fd_(fd) {
    stale_->add(fd_);
  }
  StaleMark(const StaleMark&) = delete;
  StaleMark& operator=(const StaleMark&) = delete;
  ~StaleMark() { stale_->remove(fd_); }

 private:
  std::shared_ptr<StaleWrites> stale_;
  int fd_;
};

// What happens to a connection once an answer is written.
enum class After {
  Interim,  // a 100 Continue: the request is still being read
  KeepOpen,
  // Connection: close, or a refusal: our side is shut once the answer is
  // written, and what the client still sends is read and dropped until it
  // closes (a lingering close, as nginx's): closing a socket with unread
  // input resets it, and the reset drops what of the answer the kernel has
  // not sent yet (a pipelining client lost its last answers that way).
  Close
};

// Pistache reads and writes the connections; keydird parses the requests
// itself (server/http_parser.hpp). Pistache 0.0.5's own parser bounded a
// request only by its whole size, answered 413 when its buffer overflowed
// and then parsed the rest of the body as new requests, looped ~2^64 times
// on a chunk whose CR and LF came in two reads, threw on media types it did
// not know (SKS's "sks/hashquery"), kept one field of each name, and parsed
// one request per read, dropping pipelined ones; it was also a sixth of
// the work of answering a miss.
//
// Each connection's state lives where Pistache keeps its parser
// (Handler::ParserData): Pistache's idle check reads the parser's step and
// the time of its last reset, to apply its header and body timeouts.
class Connection final : public Http::RequestParser {
 public:
  explicit Connection(HttpLimits limits)
      : Http::RequestParser(0), http(limits), serial(++g_connection_serial) {}
  // The step Pistache's idle check sees: the body timeout applies once the
  // head is in, the header timeout before.
  void set_step(bool in_body) { currentStep = in_body ? 2 : 0; }
  [[nodiscard]] bool in_body_step() const { return currentStep == 2; }

  HttpParser http;
  // Names the connection in tl_turn (an address could be reused by the next).
  const std::uint64_t serial;
  WireRequest request;  // reused: its strings keep their capacity
  // Refused, or answered with Connection: close: what else comes is dropped.
  bool discarding = false;
  std::size_t discarded = 0;
  // The last answer is on the wire; the connection is cut at linger_until or
  // after kLingerBytes more (unless the client closes first).
  bool answered = false;
  std::chrono::steady_clock::time_point linger_until{};
  // Requests answered on this connection (kMaxRequestsPerConnection).
  std::size_t served = 0;
  // A request is partly in and Pistache's timeouts count from its first
  // octets.
  bool timing = false;
  // Octets of this connection's answers handed to Pistache's write queue
  // and not yet written to the socket. While any are, every answer goes
  // behind them (none may overtake); once they are out, answers are written
  // at once again.
  std::size_t pending = 0;
  // What of them is not yet in Pistache's queue: keydird hands it over one
  // piece at a time (kPieceBytes), each once the one before is written.
  struct Outgoing {
    std::string data;
    std::size_t sent = 0;  // handed to Pistache
    After after = After::KeepOpen;
  };
  std::deque<Outgoing> outbox;
  bool piece_queued = false;
  bool closed = false;  // Pistache is done with it (onDisconnection)
  // Its turn is over (kAnswersPerTurn): its last answer, held until the
  // other connections of the worker are served or it sends a whole request;
  // and whether the write of no octets that ends the wait is queued.
  bool waiting_turn = false;
  std::string held;
  bool turn_posted = false;
  // The onInput call (tl_input) that made the hold.
  std::uint64_t hold_input = 0;
  // When the request being answered was parsed.
  std::chrono::steady_clock::time_point request_began{};
  // The peer's address as text, its rate-limit key and whether it is a
  // trusted proxy: the same for every request of the connection, worked out
  // on its first (inet_ntop and the lookups were a tenth of a miss's work).
  bool peer_known = false;
  std::string peer_host;
  std::string peer_client;
  bool peer_trusted = false;
};

// Splits and decodes a query string (application/x-www-form-urlencoded);
// false when a part does not decode.
bool decode_query(std::string_view q, std::vector<std::pair<std::string, std::string>>& out) {
  while (!q.empty()) {
    const auto amp = q.find('&');
    const std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) {
      continue;
    }
    const auto eq = part.find('=');
    auto k = api::form_decode(part.substr(0, eq));
    auto v =
        api::form_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!k || !v) {
      return false;
    }
    out.emplace_back(std::move(*k), std::move(*v));
  }
  return true;
}

class Handler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(Handler)

  Handler(const api::Api* api, bool log_queries, AccessLog* access_log,
          std::vector<std::string> trusted, IdleTracker* idle, int ipv6_prefix,
          std::chrono::seconds header_timeout, std::chrono::seconds body_timeout)
      : api_(api),
        log_queries_(log_queries),
        access_log_(access_log),
        trusted_(std::move(trusted)),
        idle_(idle),
        ipv6_prefix_(ipv6_prefix),
        header_timeout_(header_timeout),
        body_timeout_(body_timeout) {}

  // Never called: onInput parses and answers.
  void onRequest(const Http::Request& /*req*/, Http::ResponseWriter /*response*/) override {}

 private:
  // What a connection read: parsed, and each whole request answered in
  // order, pipelined ones included.
  void onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) override {
    auto conn = std::static_pointer_cast<Connection>(getParser(peer));
    ++tl_input;
    if (!conn->discarding && late(*peer, *conn)) {
      // Pistache's idle check has queued a 408 for it, or will: an answer
      // written now would go out before that one.
      conn->discarding = true;
    }
    if (conn->discarding) {
      // What follows a last answer (a refusal, Connection: close): dropped.
      // Once the answer is out and past the linger bounds, the connection
      // is cut. A cut resets it, and a reset drops what the kernel has not
      // sent: past kLingerBytes it waits for the client to have acknowledged
      // the whole answer (RFC 9112, 9.6), within kLinger.
      conn->discarded += len;
      if ((conn->answered && ((conn->discarded > kLingerBytes && unacknowledged(peer->fd()) == 0) ||
                              std::chrono::steady_clock::now() > conn->linger_until)) ||
          conn->discarded > kMaxDiscardBytes) {
        cut(*peer);
      }
      return;
    }
    try {
      conn->http.feed(std::string_view(buffer, len));
      if (conn->waiting_turn && conn->hold_input != tl_input) {
        // It sends more after its turn ended (a request in pieces): it is
        // pipelining, which keeps Pistache's read loop going, so the hold
        // would only make it wait.
        release_held(peer, conn);
      }
      serve(peer, conn);
    } catch (const std::exception& e) {
      fail(peer, conn, e);
    }
  }

  void fail(const std::shared_ptr<Tcp::Peer>& peer, const std::shared_ptr<Connection>& conn,
            const std::exception& e) {
    spdlog::error("http: a request from {} failed: {}", peer->address().host(), e.what());
    conn->discarding = true;
    cut(*peer);
  }

  // Answers the whole requests the connection has sent, in order.
  void serve(const std::shared_ptr<Tcp::Peer>& peer, const std::shared_ptr<Connection>& conn) {
    for (;;) {
      const auto step = conn->http.next(conn->request);
      if (step == HttpParser::Step::More) {
        break;
      }
      // It pipelines: holding its answer would hold the others behind
      // Pistache's read loop, and every answer goes out in order.
      release_held(peer, conn);
      const auto t0 = std::chrono::steady_clock::now();
      if (step == HttpParser::Step::Refused) {
        refuse(peer, conn, t0);
        return;
      }
      if (conn->pending > kMaxPendingAnswerBytes) {
        // Asks and does not read: its answers would pile up in memory.
        spdlog::info(
            "http: cut a connection from {} that does not read its answers ({} octets "
            "waiting)",
            peer->address().host(), conn->pending);
        cut(*peer);
        conn->discarding = true;
        return;
      }
      // As Pistache does: a request is being served (its idle check
      // applies the header timeout, not the keep-alive one).
      peer->setIdle(false);
      conn->request_began = t0;
      const bool close = answer(peer, conn, conn->request, t0);
      // Pistache's timeouts count from the end of the last request.
      conn->Http::RequestParser::reset();
      conn->timing = false;
      if (close) {
        conn->discarding = true;
        return;
      }
    }
    if (conn->http.partial() && !conn->timing) {
      // A new request has begun: its header and body timeouts count from
      // now, not from the end of the last answer (after which Pistache
      // counts only the keep-alive timeout).
      conn->timing = true;
      conn->Http::RequestParser::reset();
      peer->setIdle(false);
    }
    conn->set_step(conn->http.in_body());
    if (conn->http.take_continue()) {
      // The client waits for this before it sends the body (curl does,
      // for bodies over 1 MiB); the answer before it goes first.
      release_held(peer, conn);
      send_answer(peer, conn, "HTTP/1.1 100 Continue\r\n\r\n", After::Interim);
    }
    if (conn->waiting_turn && !conn->turn_posted) {
      // Queued behind what the other connections of this worker asked.
      conn->turn_posted = true;
      std::weak_ptr<Tcp::Peer> weak_peer = peer;
      std::weak_ptr<Connection> weak_conn = conn;
      peer->send(RawBuffer(std::string(), 0))
          .then(
              [this, weak_peer, weak_conn](ssize_t) {
                auto c = weak_conn.lock();
                auto p = weak_peer.lock();
                if (c && p) {
                  // Pistache does not catch what a callback throws.
                  try {
                    turn_resumes(p, c);
                  } catch (const std::exception&) {
                    cut(*p);
                  }
                }
              },
              [weak_peer](std::exception_ptr&) {
                if (auto p = weak_peer.lock()) {
                  cut(*p);
                }
              });
    }
  }

  // The write of no octets queued at the end of a connection's turn is
  // done: Pistache has been round its other connections.
  void turn_resumes(const std::shared_ptr<Tcp::Peer>& peer,
                    const std::shared_ptr<Connection>& conn) {
    conn->turn_posted = false;
    if (tl_turn == conn->serial) {
      tl_turn = 0;
    }
    release_held(peer, conn);
  }

  // Writes the answer held at the end of a turn, if any.
  void release_held(const std::shared_ptr<Tcp::Peer>& peer,
                    const std::shared_ptr<Connection>& conn) {
    if (!conn->waiting_turn) {
      return;
    }
    conn->waiting_turn = false;
    if (tl_turn == conn->serial) {
      tl_turn = 0;  // its next answers begin a new turn
    }
    std::string out = std::move(conn->held);
    conn->held = std::string();
    write_answer(peer, conn, std::move(out), After::KeepOpen);
  }

  // Whether Pistache's idle check (at the start of a round of this worker)
  // finds the connection's request late, as it counts: not idle, and longer
  // than the header timeout (or the body timeout, if shorter) since the
  // request began, or than the body timeout once the body is coming. It then
  // queues a 408 and closes the connection once that is written.
  [[nodiscard]] bool late(const Tcp::Peer& peer, const Connection& conn) const {
    if (peer.isIdle()) {
      return false;
    }
    const auto limit =
        conn.in_body_step() ? body_timeout_ : std::min(header_timeout_, body_timeout_);
    return std::chrono::steady_clock::now() - conn.time() > limit;
  }

  // Pistache is about to close the connection (its client closed or reset
  // it, or keydird shut it down): the sweeps forget it, an answer held at
  // the end of its turn is written if the socket takes it (a client that
  // shut only its sending side still reads), and a mark follows whatever of
  // it may still be queued (StaleWrites).
  void onDisconnection(const std::shared_ptr<Tcp::Peer>& peer) override {
    if (idle_) {
      idle_->forget(peer.get());
    }
    if (auto conn = std::static_pointer_cast<Connection>(getParser(peer))) {
      if (conn->waiting_turn) {
        conn->waiting_turn = false;
        (void)::send(peer->fd(), conn->held.data(), conn->held.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        conn->held = std::string();
      }
      if (tl_turn == conn->serial) {
        tl_turn = 0;
      }
      conn->closed = true;
      conn->outbox.clear();
      if (conn->piece_queued || late(*peer, *conn)) {
        // Some of its answers may still be in Pistache's write queue
        // (StaleWrites), or a 408 that Pistache's idle check queued for a
        // request that came too slowly: the mark goes behind them.
        try {
          auto mark = std::make_shared<StaleMark>(stale_, peer->fd());
          peer->send(RawBuffer(std::string(), 0))
              .then([mark](ssize_t) {}, [mark](std::exception_ptr&) {});
        } catch (const std::exception& e) {
          spdlog::error("http: marking a closed connection's descriptor failed: {}", e.what());
        }
      }
    }
    Http::Handler::onDisconnection(peer);
  }

  // Answers one request; true when the connection closes after it.
  bool answer(const std::shared_ptr<Tcp::Peer>& peer, const std::shared_ptr<Connection>& conn,
              WireRequest& w, std::chrono::steady_clock::time_point t0) {
    api::HttpRequest r;
    r.method = std::move(w.method);
    r.path = std::move(w.path);
    const bool bad_query = !decode_query(w.query, r.query);
    r.content_type = std::move(w.content_type);
    r.host = std::move(w.host);
    r.authorization = std::move(w.authorization);
    r.log_proof = w.log_proof;
    r.body = std::move(w.body);
    // Rate limits count clients: an IPv6 client by its network (one site
    // holds a /64), an IPv4-mapped one as IPv4.
    if (!conn->peer_known) {
      conn->peer_host = peer->address().host();
      conn->peer_client = client_key(conn->peer_host, ipv6_prefix_);
      conn->peer_trusted = is_trusted(conn->peer_host, conn->peer_client);
      conn->peer_known = true;
    }
    r.client = conn->peer_client;
    r.address = conn->peer_host;
    if (w.forwarded_for_fields > 0 && !conn->peer_trusted) {
      // Through a proxy keydird was not told to trust (no --trusted-proxy
      // for the nginx in front): the client is unknown, never the proxy.
      r.address.clear();
    }
    if (conn->peer_trusted && w.forwarded_for_fields > 1) {
      // Several X-Forwarded-For fields: which one the proxy wrote cannot be
      // told; the client is unknown, and rate limits count the proxy.
      r.address.clear();
    } else if (conn->peer_trusted && w.forwarded_for_fields == 1) {
      // The client is the last address the proxy appended.
      std::string_view v = w.forwarded_for;
      const auto comma = v.rfind(',');
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
    const api::Reply reply =
        bad_query ? api::text_reply(api::Status::kBadRequest, "malformed query string")
                  : api_->dispatch(r);
    const bool close = w.close || ++conn->served >= kMaxRequestsPerConnection;
    // A last answer too: a client that does not read it is cut at the idle
    // timeout like any (its linger begins only once it is written).
    if (idle_) {
      idle_->touch(peer);
    }
    send_answer(peer, conn, wire_answer(w.http10, reply, close, r.method == "HEAD"),
                close ? After::Close : After::KeepOpen);
    log_request(r, w.query, reply.status, reply.body.size(), t0);
    return close;
  }

  // Writes an answer on the socket at once, from the reactor thread that
  // read the request, when nothing of the connection is queued: Pistache
  // would queue it and wake its own loop to write it, an eventfd write and
  // read and epoll re-arms per answer, more system calls than the answer
  // itself. What the socket does not take at once, and any answer on a TLS
  // connection or behind a queued one, goes to Pistache's queue
  // (Connection::pending).
  void send_answer(const std::shared_ptr<Tcp::Peer>& peer, const std::shared_ptr<Connection>& conn,
                   std::string out, After after) {
    // The request is answered: Pistache's idle check (every 500 ms) then
    // applies the keep-alive timeout to the connection rather than the
    // header timeout, which would write an unasked 408 and close it after
    // 10 s.
    if (after != After::Interim) {
      peer->setIdle(true);
    }
    // Answers in a row on this connection (kAnswersPerTurn, kTurnTime):
    // the last of a turn is held; serve() writes it at once if a whole
    // request follows, else once the worker's other connections are served.
    if (after == After::KeepOpen && peer->ssl() == nullptr && conn->pending == 0) {
      if (tl_turn != conn->serial) {
        tl_turn = conn->serial;
        tl_turn_answers = 0;
        tl_turn_busy = {};
      }
      tl_turn_busy += std::chrono::steady_clock::now() - conn->request_began;
      if (++tl_turn_answers >= kAnswersPerTurn || tl_turn_busy >= kTurnTime) {
        conn->waiting_turn = true;
        conn->hold_input = tl_input;
        conn->held = std::move(out);
        return;
      }
    }
    write_answer(peer, conn, std::move(out), after);
  }

  void write_answer(const std::shared_ptr<Tcp::Peer>& peer, const std::shared_ptr<Connection>& conn,
                    std::string out, After after) {
    std::size_t written = 0;
    if (peer->ssl() == nullptr && conn->pending == 0) {
      const ssize_t n = ::send(peer->fd(), out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n == static_cast<ssize_t>(out.size())) {
        written_all(peer, *conn, after);
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
    conn->pending += rest.size();
    conn->outbox.push_back(Connection::Outgoing{std::move(rest), 0, after});
    hand_over(peer, conn);
  }

  // Writes the connection's queued answers as the socket takes them. Pistache
  // 0.0.5 retries a write at once, and again, while the socket takes no more
  // (kPieceBytes), so on a plain connection it never gets an octet to write:
  // keydird writes what the socket takes itself, and hands Pistache a write
  // of no octets, which it makes once epoll says the socket is writable and
  // which cannot fail that way; its callback writes on. Over TLS only
  // Pistache can write (it owns the TLS session): it gets one piece at a
  // time. Every callback runs on the connection's reactor thread, the one
  // that reads its requests.
  void hand_over(const std::shared_ptr<Tcp::Peer>& peer, const std::shared_ptr<Connection>& conn) {
    if (conn->piece_queued || conn->closed || conn->outbox.empty()) {
      return;
    }
    std::size_t size = 0;
    std::string piece;
    if (peer->ssl() == nullptr) {
      while (!conn->outbox.empty()) {
        Connection::Outgoing& front = conn->outbox.front();
        const ssize_t n = ::send(peer->fd(), front.data.data() + front.sent,
                                 front.data.size() - front.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            break;
          }
          // The client is gone: the reactor sees the end of the connection.
          ::shutdown(peer->fd(), SHUT_RDWR);
          return;
        }
        front.sent += static_cast<std::size_t>(n);
        conn->pending -= std::min(conn->pending, static_cast<std::size_t>(n));
        if (front.sent < front.data.size()) {
          continue;  // the next send says whether the socket is full
        }
        const After after = front.after;
        conn->outbox.pop_front();
        written_all(peer, *conn, after);
      }
      if (conn->outbox.empty()) {
        return;
      }
    } else {
      // A TLS session in its error state (a record that did not decrypt)
      // fails every write without a system call, and Pistache retries it for
      // ever: such a connection is cut instead.
      if (!tls_session_usable(peer->ssl())) {
        cut(*peer);
        return;
      }
      Connection::Outgoing& next = conn->outbox.front();
      size = std::min(kPieceBytes, next.data.size() - next.sent);
      piece = next.sent == 0 && size == next.data.size() ? std::move(next.data)
                                                         : next.data.substr(next.sent, size);
      next.sent += size;
    }
    conn->piece_queued = true;
    std::weak_ptr<Tcp::Peer> weak_peer = peer;
    std::weak_ptr<Connection> weak_conn = conn;
    peer->send(RawBuffer(std::move(piece), size))
        .then(
            [this, weak_peer, weak_conn, size](ssize_t) {
              auto c = weak_conn.lock();
              auto p = weak_peer.lock();
              if (!c) {
                return;
              }
              c->pending -= std::min(c->pending, size);
              c->piece_queued = false;
              // Pistache's idle check may have queued a 408 and closed the
              // connection: nothing more goes after it.
              if (!p || c->closed || c->outbox.empty() || late(*p, *c)) {
                return;
              }
              // Pistache does not catch what a callback throws.
              try {
                Connection::Outgoing& front = c->outbox.front();
                if (p->ssl() != nullptr && front.sent >= front.data.size()) {
                  const After after = front.after;
                  c->outbox.pop_front();
                  written_all(p, *c, after);
                }
                hand_over(p, c);
              } catch (const std::exception&) {
                cut(*p);
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

  // An answer is out: the connection goes on, or lingers and ends.
  void written_all(const std::shared_ptr<Tcp::Peer>& peer, Connection& conn, After after) {
    if (after == After::Close) {
      ::shutdown(peer->fd(), SHUT_WR);
      conn.answered = true;
      conn.linger_until = std::chrono::steady_clock::now() + kLinger;
      // A client that stays silent never wakes the discard path: the
      // sweeper cuts the connection at the deadline.
      if (idle_) {
        idle_->linger(peer, conn.linger_until);
      }
    }
  }

  void log_request(const api::HttpRequest& r, std::string_view query, int status, std::size_t bytes,
                   std::chrono::steady_clock::time_point t0) {
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
      if (log_queries_ && !query.empty()) {
        line += '?';
        line += query;
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

  // Every connection gets its own state and parser (see Connection). One
  // that got the number of a connection whose answers may still be queued
  // is cut (StaleWrites): its client sees a reset, never another's answers.
  void onConnection(const std::shared_ptr<Tcp::Peer>& peer) override {
    auto conn = std::make_shared<Connection>(kLimits);
    peer->putData(ParserData, conn);
    if (peer->ssl() != nullptr) {
      end_on_fatal_alert(peer->ssl());
    }
    if (stale_->has(peer->fd())) {
      spdlog::info(
          "http: cut a new connection from {}: its descriptor's last connection may "
          "still have answers queued",
          peer->address().host());
      conn->discarding = true;
      cut(*peer);
    }
  }

  // Octets written on the socket that its client has not acknowledged yet
  // (sent or not); 0 if the kernel does not say.
  static int unacknowledged(int fd) {
    int n = 0;
    return ::ioctl(fd, SIOCOUTQ, &n) == 0 ? n : 0;
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

  // Answers a request the parser refused and closes: our side of the
  // connection once the answer is out, the reading side once the rest of
  // the request has been dropped (the linger bounds). Written at once when
  // nothing is queued: Pistache's queue runs behind its read loop, which
  // drains the socket first, so a client streaming a large body would get
  // the answer only after sending it all.
  void refuse(const std::shared_ptr<Tcp::Peer>& peer, const std::shared_ptr<Connection>& conn,
              std::chrono::steady_clock::time_point t0) {
    const HttpRefusal& why = conn->http.refusal();
    conn->discarding = true;
    peer->setIdle(false);
    send_answer(
        peer, conn,
        wire_answer(false, api::text_reply(why.status, why.reason), true, why.method == "HEAD"),
        After::Close);
    spdlog::debug("http: refused a request from {}: {} {}", peer->address().host(), why.status,
                  why.reason);
    if (access_log_) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - t0)
                    .count();
      // The tokens of /verify/ and /manage/ links stay out of the log here
      // too (a refused POST /verify/<token> names its token).
      access_log_->write((why.method.empty() ? "-" : why.method) + " " +
                         (why.path.empty() ? "-" : api::redact_path(why.path)) + " " +
                         std::to_string(why.status) + " " + std::to_string(why.reason.size() + 1) +
                         " " + std::to_string(us) + "us");
    }
  }

  const api::Api* api_;
  bool log_queries_;
  AccessLog* access_log_;
  std::vector<std::string> trusted_;
  IdleTracker* idle_;
  int ipv6_prefix_;
  std::chrono::seconds header_timeout_;
  std::chrono::seconds body_timeout_;
  std::shared_ptr<StaleWrites> stale_ = std::make_shared<StaleWrites>();
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
            .maxResponseSize(64u << 20)
            .headerTimeout(std::chrono::seconds(impl_->options.header_timeout_seconds))
            .bodyTimeout(std::chrono::seconds(impl_->options.body_timeout_seconds))
            // Pistache's own keep-alive timeout (300 s unless set)
            // would close idle connections without onDisconnection
            // (IdleTracker::forget, StaleWrites): set past the sweeper's
            // limit, or out of reach when there is none.
            .keepaliveTimeout(impl_->options.idle_timeout_seconds > 0
                                  ? std::chrono::seconds(impl_->options.idle_timeout_seconds + 60)
                                  : std::chrono::seconds(std::chrono::hours(24 * 365)));
    impl_->endpoint->init(opts);
    impl_->endpoint->setHandler(Http::make_handler<Handler>(
        &impl_->api, impl_->options.log_queries, impl_->options.access_log,
        impl_->options.trusted_proxies, &impl_->idle, impl_->options.ipv6_prefix,
        std::chrono::seconds(impl_->options.header_timeout_seconds),
        std::chrono::seconds(impl_->options.body_timeout_seconds)));
    if (impl_->options.tls_cert && impl_->options.tls_key) {
      impl_->endpoint->useSSL(*impl_->options.tls_cert, *impl_->options.tls_key);
    }
    impl_->endpoint->serveThreaded();
    // Every 250 ms: cuts refused connections past their linger; with an
    // idle timeout, sweeps idle ones every quarter of it (1 s to 15 s: a
    // connection is cut before Pistache's keep-alive timeout, 60 s later).
    impl_->sweeper = std::thread([impl = impl_.get()] {
      const int idle_seconds = impl->options.idle_timeout_seconds;
      const auto limit = std::chrono::seconds(std::max(idle_seconds, 1));
      const auto period = std::clamp(limit / 4, std::chrono::seconds(1), std::chrono::seconds(15));
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
