// The HTTP adapter: Pistache in, api::Api out. The only file that knows
// Pistache. It sets every limit on purpose (Pistache's 4 KiB request cap and
// 60 s timeouts are not ours), keeps HTTP/1.1 connections alive unless the
// client says "close", and writes one access-log line per request.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/router.hpp"
#include "server/access_log.hpp"

namespace keydir::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 11371;
  // Pistache reactor threads; 0 = two per core (measured: docs/performance.md).
  int threads = 0;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  bool log_queries = true;          // false: access log without query strings
  AccessLog* access_log = nullptr;  // none: no access log
  // Peers whose X-Forwarded-For is believed (a reverse proxy in front, e.g.
  // nginx for TLS); from anyone else the header is ignored.
  std::vector<std::string> trusted_proxies;
  // Keep-alive connections idle this long are closed, by a sweeper thread
  // (Pistache's own keep-alive timeout is set past it). 0: never.
  int idle_timeout_seconds = 60;
  // Pistache's timeouts, both counted from the connection's start or the
  // end of its previous request: the request line and headers must be in
  // within the first, the whole request (body included) within the second,
  // or the answer is 408.
  int header_timeout_seconds = 10;
  int body_timeout_seconds = 30;
  // Rate limits key an IPv6 client by its network of this many bits (an
  // IPv4-mapped address as IPv4).
  int ipv6_prefix = 64;
};

class HttpServer {
 public:
  HttpServer(const api::Api& api, HttpOptions options);
  ~HttpServer();
  // Binds and starts serving on background threads; returns the bound port
  // (useful with port 0). Errors: StorageIo-free Internal with a reason.
  Result<std::uint16_t> start();
  // Stops accepting and closes connections.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keydir::server
