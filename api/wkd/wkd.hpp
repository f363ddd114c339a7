// The Web Key Directory (draft-koch-openpgp-webkey-service):
//   direct method    GET https://<domain>/.well-known/openpgpkey/hu/<hash>?l=<local part>
//   advanced method  GET https://openpgpkey.<domain>/.well-known/openpgpkey/<domain>/hu/<hash>
// plus the policy and submission-address files of both layouts. Only the
// operator's domains are served; the direct method takes the domain from the
// Host header (port and an "openpgpkey." prefix left out), the advanced
// method from the path.
#pragma once

#include <string>
#include <vector>

#include "api/http/message.hpp"
#include "service/key_directory.hpp"

namespace keydir::api {

struct WkdOptions {
  std::vector<std::string> domains;  // served domains (compared in lower case)
  std::string policy;                // policy file content; empty: a default comment
  std::string submission_address;    // empty: no submission-address file
  std::size_t max_results = 100;     // certificates per address
};

class Wkd {
 public:
  Wkd(service::KeyDirectory& directory, WkdOptions options);
  // `request.path` starts with "/.well-known/openpgpkey/".
  [[nodiscard]] Reply handle(const HttpRequest& request) const;
  [[nodiscard]] const WkdOptions& options() const { return options_; }

 private:
  [[nodiscard]] bool serves(std::string_view domain) const;
  // `whole`: each certificate in its whole published form (an answer with
  // the transparency log's proofs).
  [[nodiscard]] Reply file(std::string_view domain, std::string_view rest,
                           bool whole = false) const;

  service::KeyDirectory& directory_;
  WkdOptions options_;
};

// "Example.ORG:443" → "example.org".
std::string host_domain(std::string_view host);

}  // namespace keydir::api
