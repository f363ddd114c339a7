// Requests and answers of the api layer as its unit tests make and read them.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/http/message.hpp"

namespace keydir::api::testing {

using Query = std::vector<std::pair<std::string, std::string>>;

inline HttpRequest get_request(std::string path, std::string host, Query query, std::string client,
                               std::string method = "GET") {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.host = std::move(host);
  r.query = std::move(query);
  r.address = client;  // the server sets both (HttpServer)
  r.client = std::move(client);
  return r;
}

inline HttpRequest post_request(std::string path, std::string content_type, std::string body,
                                std::string client) {
  HttpRequest r;
  r.method = "POST";
  r.path = std::move(path);
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  r.address = client;  // the server sets both (HttpServer)
  r.client = std::move(client);
  return r;
}

// The first value of header `name`, or "".
inline std::string header(const Reply& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) {
      return v;
    }
  }
  return "";
}

}  // namespace keydir::api::testing
