#include "server/http_server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <spdlog/spdlog.h>

#include "api/http/secret_routes.hpp"
#include "common/limits.hpp"

namespace keydir::server {

namespace {

using namespace Pistache;

// Pistache 0.0.5 keeps raw response headers but never writes them: any header
// of ours goes out as a typed header with a name chosen at run time.
class AnyHeader final : public Http::Header::Header {
 public:
  AnyHeader(std::string name, std::string value)
      : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
  void parse(const std::string& data) override { value_ = data; }
  void write(std::ostream& os) const override { os << value_; }
#ifdef SAFE_HEADER_CAST
  std::uint64_t hash() const override { return std::hash<std::string>{}(name_); }
#endif

 private:
  std::string name_;
  std::string value_;
};

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
    std::chrono::steady_clock::time_point last;
  };
  std::mutex mu_;
  std::unordered_map<const Tcp::Peer*, Entry> peers_;
};

constexpr std::size_t kMaxHeaderFields = 100;
constexpr std::size_t kMaxHeaderBytes = 16 * 1024;

class Handler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(Handler)

  Handler(const api::Api* api, bool log_queries, AccessLog* access_log,
          std::vector<std::string> trusted, IdleTracker* idle)
      : api_(api),
        log_queries_(log_queries),
        access_log_(access_log),
        trusted_(std::move(trusted)),
        idle_(idle) {}

  void onRequest(const Http::Request& req, Http::ResponseWriter response) override {
    auto t0 = std::chrono::steady_clock::now();
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
    if (auto ct = req.headers().tryGetRaw("Content-Type")) {
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
    r.body = req.body();
    r.client = req.address().host();
    if (std::find(trusted_.begin(), trusted_.end(), r.client) != trusted_.end()) {
      // The client is the last address the proxy appended.
      if (auto xff = req.headers().tryGetRaw("X-Forwarded-For")) {
        const std::string header = xff->value();  // value() returns a temporary
        std::string_view v = header;
        auto comma = v.rfind(',');
        std::string_view last = comma == std::string_view::npos ? v : v.substr(comma + 1);
        while (!last.empty() && last.front() == ' ') {
          last.remove_prefix(1);
        }
        if (!last.empty() && last.size() <= 64) {
          r.client = std::string(last);
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
                                   r.authorization.size() > kMaxHeaderBytes ||
                                   r.host.size() > 1024;
    api::Reply reply = headers_too_large
                           ? api::text_reply(431, "request header fields too large")
                       : bad_query ? api::text_reply(400, "malformed query string")
                                   : api_->dispatch(r);

    // Persistent connections (RFC 9112 §9.3): HTTP/1.1 stays open unless
    // the client says "close"; HTTP/1.0 (GnuPG's dirmngr) closes unless it
    // says "keep-alive". Pistache 0.0.5 closes every request without a
    // Connection header, so the decision is made here.
    bool close = req.version() == Http::Version::Http10;
    if (auto c = req.headers().tryGet<Http::Header::Connection>()) {
      close = c->control() == Http::ConnectionControl::Close;
    }
    response.headers().remove<Http::Header::Connection>();
    response.headers().add<Http::Header::Connection>(close ? Http::ConnectionControl::Close
                                                           : Http::ConnectionControl::KeepAlive);
    for (const auto& [name, value] : reply.headers) {
      if (name != "Content-Length") {
        response.headers().add(std::make_shared<AnyHeader>(name, value));
      }
    }
    // Content-Type is a typed header in Pistache: a raw one is dropped.
    response.setMime(mime(reply.content_type));
    std::size_t bytes = reply.body.size();
    if (!close && idle_) {
      idle_->touch(response.peer());
    }
    if (close) {
      // Pistache 0.0.5 writes "Connection: Close" but never closes; clients
      // that read to the end of the stream (HTTP/1.0, dirmngr) would wait
      // for ever. Shut the socket down once the answer is written; the
      // reactor then sees the end of the connection and releases it.
      std::weak_ptr<Tcp::Peer> peer = response.peer();
      response.send(static_cast<Http::Code>(reply.status), reply.body)
          .then(
              [peer](ssize_t) {
                if (auto p = peer.lock()) {
                  ::shutdown(p->fd(), SHUT_RDWR);
                }
              },
              Async::NoExcept);
    } else {
      response.send(static_cast<Http::Code>(reply.status), reply.body);
    }
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - t0)
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
      put(reply.status, "");
      put(static_cast<std::int64_t>(bytes), "");
      put(us, "us");
      access_log_->write(line);
    }
  }

 private:
  const api::Api* api_;
  bool log_queries_;
  AccessLog* access_log_;
  std::vector<std::string> trusted_;
  IdleTracker* idle_;
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

HttpServer::~HttpServer() { stop(); }

Result<std::uint16_t> HttpServer::start() {
  try {
    Address addr(impl_->options.host, Port(impl_->options.port));
    impl_->endpoint = std::make_unique<Http::Endpoint>(addr);
    auto opts = Http::Endpoint::options()
                    .threads(impl_->options.threads)
                    .flags(Tcp::Options::ReuseAddr)
                    // The largest upload (armored, form-encoded) plus headers.
                    .maxRequestSize(limits::kMaxArmoredUploadBytes * 3 + 16 * 1024)
                    .maxResponseSize(64u << 20)
                    .headerTimeout(std::chrono::seconds(impl_->options.header_timeout_seconds))
                    .bodyTimeout(std::chrono::seconds(impl_->options.body_timeout_seconds));
    impl_->endpoint->init(opts);
    impl_->endpoint->setHandler(
        Http::make_handler<Handler>(&impl_->api, impl_->options.log_queries,
                                    impl_->options.access_log, impl_->options.trusted_proxies, &impl_->idle));
    if (impl_->options.tls_cert && impl_->options.tls_key) {
      impl_->endpoint->useSSL(*impl_->options.tls_cert, *impl_->options.tls_key);
    }
    impl_->endpoint->serveThreaded();
    if (impl_->options.idle_timeout_seconds > 0) {
      impl_->sweeper = std::thread([impl = impl_.get()] {
        auto limit = std::chrono::seconds(impl->options.idle_timeout_seconds);
        auto period = std::max(std::chrono::seconds(1), limit / 4);
        std::unique_lock lock(impl->stop_mu);
        while (!impl->stop_cv.wait_for(lock, period, [impl] { return impl->stopping; })) {
          impl->idle.sweep(limit);
        }
      });
    }
    return static_cast<std::uint16_t>(impl_->endpoint->getPort());
  } catch (const std::exception& e) {
    impl_->endpoint.reset();
    return fail(ErrorCode::Internal, std::string("cannot listen on ") + impl_->options.host + ":" +
                                         std::to_string(impl_->options.port) + ": " + e.what());
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
