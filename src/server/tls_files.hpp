// The TLS certificate and key files, checked when the configuration is read
// (server/config.cpp), before anything listens: the listener
// (server/http_server.cpp) would otherwise report a bad file as a stack of
// OpenSSL errors once the store is open; and two hooks on the listener's TLS
// sessions (http_server.cpp). Part of the HTTP adapter: the server side of
// TLS, not OpenPGP cryptography (src/openpgp/crypto).
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

// A TLS session of the listener (Pistache's SSL*) that sends or receives a
// fatal alert (a record that does not decrypt, say) is dead: every later read
// and write fails without a system call, so errno still says whatever the
// last one said. Pistache reads EAGAIN there as "nothing more to read" and,
// for a write, as "try again at once": this sets errno to ECONNRESET when such
// an alert passes, so that Pistache ends the connection.
void end_on_fatal_alert(void* ssl);

// Whether the session finished its handshake and is not in its error state.
bool tls_session_usable(void* ssl);

}  // namespace keydir::server
