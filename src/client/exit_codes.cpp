#include "client/exit_codes.hpp"

#include <exception>
#include <new>
#include <ostream>
#include <string>

#include "client/remote.hpp"

namespace keydir::client {

int exit_code(ErrorCode code) {
  switch (code) {
    // The request: a query or an input keydir will not send.
    case ErrorCode::BadQuery:
    case ErrorCode::ShortKeyIdRefused:
    case ErrorCode::UnsupportedMediaType:
    case ErrorCode::PayloadTooLarge:
    case ErrorCode::UnsupportedOperation:
      return kExitUsage;
    // The user's keys (upload, verify): refused here, before anything is sent.
    case ErrorCode::BadArmor:
    case ErrorCode::MalformedPacket:
    case ErrorCode::PacketTooLarge:
    case ErrorCode::NoCertificate:
    case ErrorCode::UnsupportedVersion:
    case ErrorCode::SecretKeyRefused:
    case ErrorCode::NoValidComponents:
    case ErrorCode::WeakAlgorithm:
    case ErrorCode::UnsupportedAlgorithm:
    case ErrorCode::TooManyComponents:
    case ErrorCode::CertificateTooLarge:
    case ErrorCode::BadSignature:
      return kExitUsage;
    case ErrorCode::NotFound:
      return kExitNotFound;
    // What only a server decides: a deleted key, too many mails, a link or
    // a token it does not accept.
    case ErrorCode::Tombstoned:
    case ErrorCode::RateLimited:
    case ErrorCode::TokenInvalid:
    case ErrorCode::Unauthorized:
      return kExitServerRefused;
    // A failing server (its mail relay, its store) or a broken exchange.
    case ErrorCode::MailFailed:
    case ErrorCode::StorageIo:
    case ErrorCode::StorageCorruption:
    case ErrorCode::ProtocolError:
      return kExitNetwork;
    case ErrorCode::Internal:
      return kExitInternal;
    case ErrorCode::AnswerDidNotVerify:
      return kExitBadAnswer;
  }
  return kExitInternal;  // not an enumerator (a cast): keydir's own bug
}

int exit_code(net::NetError error) {
  switch (error) {
    case net::NetError::Usage:
      return kExitUsage;
    case net::NetError::None:  // no answer to read as one: network_error() is not called then
    case net::NetError::Dns:
    case net::NetError::Connect:
    case net::NetError::Timeout:
    case net::NetError::Tls:
    case net::NetError::Protocol:
    case net::NetError::TooLarge:
      return kExitNetwork;
  }
  return kExitNetwork;
}

int run_guarded(const std::function<int()>& command, std::ostream& err) {
  try {
    return command();
  } catch (const std::bad_alloc&) {
    err << "keydir: internal error: out of memory\n";
  } catch (const std::exception& e) {
    // printable() allocates: if that fails too, the line still comes out.
    std::string what;
    const char* fallback = "out of memory";
    try {
      what = printable(e.what(), 300);
      fallback = nullptr;
    } catch (...) {
    }
    err << "keydir: internal error: " << (fallback ? fallback : what.c_str()) << "\n";
  } catch (...) {
    err << "keydir: internal error: an unknown exception\n";
  }
  return kExitInternal;
}

}  // namespace keydir::client
