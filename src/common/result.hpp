// Errors as values: every fallible function in keydir returns Result<T>.
//
// An Error carries a code (grouped by area, so that the HTTP layer and the CLI
// can each map it through one table) and a one-line, client-safe detail. No
// exception crosses a layer boundary; third-party exceptions are caught in the
// adapter that calls the library (crypto/, storage/rocksdb, api/http).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace keydir {

enum class ErrorCode {
  // request
  BadQuery,
  ShortKeyIdRefused,
  UnsupportedMediaType,
  PayloadTooLarge,
  UnsupportedOperation,
  // openpgp parse
  BadArmor,
  MalformedPacket,
  PacketTooLarge,
  NoCertificate,
  UnsupportedVersion,
  // openpgp policy
  SecretKeyRefused,
  NoValidComponents,
  WeakAlgorithm,
  UnsupportedAlgorithm,
  TooManyComponents,
  CertificateTooLarge,
  BadSignature,
  Tombstoned,
  // lookup
  NotFound,
  // publishing (e-mail verification)
  RateLimited,   // too many mails for an address or from a client
  MailFailed,    // the SMTP relay is unreachable or refused the mail
  TokenInvalid,  // a link that is unknown, used or expired
  Unauthorized,  // an operator token is needed
  // storage
  StorageIo,
  StorageCorruption,
  // reconciliation with a peer
  ProtocolError,  // the peer broke the recon protocol or its limits
  // internal
  Internal,
  // client only
  AnswerDidNotVerify,
};

// Stable, lower-case name of a code, used in JSON output and logs.
std::string_view error_code_name(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string detail;  // one line, safe to show to a client

  Error(ErrorCode c, std::string d) : code(c), detail(std::move(d)) {}
};

// Result<T> is tl::expected<T, Error> that must not be dropped: a discarded
// Result is a compile error (-Werror), so an error cannot vanish unnoticed.
// Where dropping it is right, say why and cast to void.
template <typename T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
  using Base = tl::expected<T, Error>;

 public:
  using Base::Base;
  Result() = default;
  Result(const Base& b) : Base(b) {}        // NOLINT(google-explicit-constructor)
  Result(Base&& b) : Base(std::move(b)) {}  // NOLINT(google-explicit-constructor)
};

inline tl::unexpected<Error> fail(ErrorCode code, std::string detail) {
  return tl::unexpected<Error>(Error{code, std::move(detail)});
}

}  // namespace keydir

#define KEYDIR_CONCAT_INNER(a, b) a##b
#define KEYDIR_CONCAT(a, b) KEYDIR_CONCAT_INNER(a, b)
// KEYDIR_TRY(auto x, expr): evaluates a Result, returns its error from the
// enclosing function, or binds the value.
#define KEYDIR_TRY(lhs, expr)                                                       \
  auto KEYDIR_CONCAT(keydir_try_, __LINE__) = (expr);                               \
  if (!KEYDIR_CONCAT(keydir_try_, __LINE__)) {                                      \
    return tl::unexpected(std::move(KEYDIR_CONCAT(keydir_try_, __LINE__).error())); \
  }                                                                                 \
  lhs = std::move(*KEYDIR_CONCAT(keydir_try_, __LINE__))
// KEYDIR_CHECK(expr): evaluates a Result<void> and returns its error.
#define KEYDIR_CHECK(expr)                                     \
  do {                                                         \
    auto keydir_check_ = (expr);                               \
    if (!keydir_check_) {                                      \
      return tl::unexpected(std::move(keydir_check_.error())); \
    }                                                          \
  } while (false)
