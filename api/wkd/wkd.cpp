#include "api/wkd/wkd.hpp"

#include <algorithm>

#include "service/wkd.hpp"

namespace keydir::api {

namespace {

constexpr std::string_view kPrefix = "/.well-known/openpgpkey/";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return out;
}

// WKD answers are public and meant for any origin (web mail clients).
Reply with_wkd_headers(Reply r) {
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  r.headers.emplace_back("Cache-Control",
                         r.status == Status::kOk ? "public, max-age=600" : "no-cache");
  return r;
}

}  // namespace

std::string host_domain(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    return lower(host);  // an IPv6 literal: never a served domain
  }
  auto colon = host.rfind(':');
  if (colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  while (!host.empty() && host.back() == '.') {
    host.remove_suffix(1);
  }
  return lower(host);
}

Wkd::Wkd(service::KeyDirectory& directory, WkdOptions options)
    : directory_(directory), options_(std::move(options)) {
  for (auto& d : options_.domains) {
    d = lower(d);
  }
}

bool Wkd::serves(std::string_view domain) const {
  return std::find(options_.domains.begin(), options_.domains.end(), domain) !=
         options_.domains.end();
}

Reply Wkd::handle(const HttpRequest& request) const {
  if (request.method != "GET" && request.method != "HEAD") {
    return method_not_allowed("GET, HEAD");
  }
  std::string_view rest = std::string_view(request.path).substr(kPrefix.size());
  // Direct method: the first segment is a file name of the direct layout.
  auto slash = rest.find('/');
  std::string_view first = rest.substr(0, slash);
  if (first == "hu" || first == "policy" || first == "submission-address") {
    std::string domain = host_domain(request.host);
    if (domain.starts_with("openpgpkey.") && serves(domain.substr(11))) {
      domain = domain.substr(11);  // the advanced host asked with a direct path
    }
    if (!serves(domain)) {
      return with_wkd_headers(
          text_reply(Status::kNotFound, "this server does not publish a Web Key Directory for " +
                                            (domain.empty() ? std::string("this host") : domain)));
    }
    return with_wkd_headers(file(domain, rest, request.log_proof));
  }
  // Advanced method: /.well-known/openpgpkey/<domain>/...
  if (slash == std::string_view::npos) {
    return with_wkd_headers(text_reply(Status::kNotFound, "not found"));
  }
  std::string domain = lower(first);
  if (!serves(domain)) {
    return with_wkd_headers(text_reply(
        Status::kNotFound, "this server does not publish a Web Key Directory for " + domain));
  }
  return with_wkd_headers(file(domain, rest.substr(slash + 1), request.log_proof));
}

Reply Wkd::file(std::string_view domain, std::string_view rest, bool whole) const {
  if (rest == "policy") {
    Reply r = text_reply(Status::kOk, options_.policy.empty() ? service::default_wkd_policy(domain)
                                                              : options_.policy);
    return r;
  }
  if (rest == "submission-address") {
    if (options_.submission_address.empty()) {
      return text_reply(Status::kNotFound, "this directory takes no submissions by mail");
    }
    return text_reply(Status::kOk, options_.submission_address + "\n");
  }
  if (!rest.starts_with("hu/")) {
    return text_reply(Status::kNotFound, "not found");
  }
  auto hash = openpgp::WkdHash::from_parts(domain, rest.substr(3));
  if (!hash) {
    return error_reply(hash.error());
  }
  auto certs = service::wkd_lookup(directory_, *hash, options_.max_results, whole);
  if (!certs) {
    return error_reply(certs.error());
  }
  if (certs->empty()) {
    return text_reply(Status::kNotFound, "no key for this address");
  }
  Reply r;
  r.content_type = "application/octet-stream";
  r.body.assign(reinterpret_cast<const char*>(certs->data()), certs->size());
  return r;
}

}  // namespace keydir::api
