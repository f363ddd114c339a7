// The TLS certificate and key files, checked when the configuration is read
// (server/config.cpp), before anything listens: the listener
// (server/http_server.cpp) would otherwise report a bad file as a stack of
// OpenSSL errors once the store is open. Part of the HTTP adapter: the
// server side of TLS, not OpenPGP cryptography (src/openpgp/crypto).
#pragma once

#include <ostream>
#include <string>

#include "common/result.hpp"

namespace keydir::server {

// The files as the listener will load them: the first certificate of the
// chain file, a private key without a passphrase, and the key belongs to
// that certificate. An error names the file by its label ("--tls-key PATH"
// or "FILE:LINE:COL: tls-key = PATH") and says what to do, in one line. An
// expired certificate is a warning line on `warnings` (clients will refuse
// it; serving goes on).
Result<void> check_tls_files(const std::string& cert_label, const std::string& cert_path,
                             const std::string& key_label, const std::string& key_path,
                             std::ostream& warnings);

}  // namespace keydir::server
