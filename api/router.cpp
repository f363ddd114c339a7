#include "api/router.hpp"

namespace keydir::api {

Api::Api(service::KeyDirectory& directory, HkpOptions hkp) : hkp_(directory, hkp) {}

Reply Api::dispatch(const HttpRequest& request) const noexcept {
  try {
    Reply r = route(request);
    if (request.method == "HEAD") {
      r.headers.emplace_back("Content-Length", std::to_string(r.body.size()));
      r.body.clear();
    }
    return r;
  } catch (...) {
    // The exception barrier: never e.what() to a client (STYLE §6.8).
    return text_reply(500, "internal error");
  }
}

Reply Api::route(const HttpRequest& request) const {
  const bool get = request.method == "GET" || request.method == "HEAD";
  auto method_not_allowed = [](const char* allow) {
    Reply r = text_reply(405, "method not allowed");
    r.headers.emplace_back("Allow", allow);
    return r;
  };
  if (request.path == "/pks/lookup") {
    return get ? hkp_.lookup(request) : method_not_allowed("GET, HEAD");
  }
  if (request.path == "/pks/add") {
    return request.method == "POST" ? hkp_.add(request) : method_not_allowed("POST");
  }
  if (request.path == "/healthz") {
    return get ? text_reply(200, "ok") : method_not_allowed("GET, HEAD");
  }
  return text_reply(404, "not found");
}

}  // namespace keydir::api
