// HKP (draft-ietf-openpgp-hkp-00; what GnuPG's dirmngr sends): /pks/lookup
// (op=get, index, vindex, hget, stats; options=mr) and /pks/add.
//
// Security considerations: every parameter is bounded (limits::kMaxQueryBytes)
// and parsed into a storage::Query once, here; results are capped.
#pragma once

#include <chrono>

#include "api/http/message.hpp"
#include "api/http/metrics.hpp"
#include "service/key_directory.hpp"

namespace keydir::api {

struct HkpOptions {
  std::size_t max_results = 100;  // per lookup; truncation is shown
  // The reconciliation partners, listed by op=stats as Hockeypuck lists
  // them (the network's status crawlers follow them).
  struct Peer {
    std::string http_addr;   // host:hkpport
    std::string recon_addr;  // host:reconport
  };
  std::vector<Peer> peers;
};

// What `search=` names. `v6_fingerprint`: the client asked for a v6 key by
// its fingerprint (only then do legacy clients get v6 certificates).
struct Search {
  storage::Query query;
  bool v6_fingerprint = false;
  // Each certificate in its whole published form (an answer with proofs).
  bool whole = false;
};
// Whether a request asks for the transparency log's proofs.
bool wants_log_proof(const HttpRequest& request);

// 0x + 8/16/40/64 hex digits, an address (<addr> or bare), or words.
Result<Search> parse_search(std::string_view search, bool exact);

// The machine-readable index line for a user ID: %XX for '%', ':' and every
// octet outside 0x20–0x7E (GnuPG doc/KEYSERVER).
std::string mr_escape(std::string_view s);

class Hkp {
 public:
  Hkp(service::KeyDirectory& directory, HkpOptions options, Metrics* metrics = nullptr);
  Reply lookup(const HttpRequest& request) const;
  Reply add(const HttpRequest& request) const;
  // POST /pks/hashquery (SKS recon): the certificates with the given SKS
  // key hashes. Body: a count, then each hash as a length and its octets
  // (4-octet big-endian integers). Answer: a count, then each certificate
  // as a length and its binary packets, then CRLF (what SKS expects).
  Reply hashquery(const HttpRequest& request) const;
  // op=get: the certificates found, armored in one block; 404 when none.
  Reply get(const Search& s) const;

 private:
  Reply index(const Search& s, bool mr, bool verbose) const;
  Reply stats(bool mr) const;

  service::KeyDirectory& directory_;
  HkpOptions options_;
  Metrics* metrics_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace keydir::api
