// The transparency log over HTTP (docs/transparency.md): C2SP tlog-tiles and
// tlog-checkpoint under /log/, proofs for light clients, and the proofs that
// go with a lookup's answer when the client asks (Keydir-Log-Proof: 1).
#pragma once

#include <string_view>

#include "api/http/message.hpp"
#include "service/transparency.hpp"

namespace keydir::api {

class LogApi {
 public:
  // `log` null: the directory keeps no log (every /log/ path is 404).
  explicit LogApi(service::TransparencyLog* log) : log_(log) {}

  // `rest`: the path after "/log/".
  [[nodiscard]] Reply handle(const HttpRequest& request, std::string_view rest) const;
  // Adds the checkpoint and each certificate's inclusion proof to a lookup's
  // answer (200, certificates in the body, armored or binary).
  void attach_proofs(Reply& reply) const;

 private:
  service::TransparencyLog* log_;
};

}  // namespace keydir::api
