#include "common/result.hpp"

namespace keydir {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::BadQuery:
      return "bad_query";
    case ErrorCode::ShortKeyIdRefused:
      return "short_key_id_refused";
    case ErrorCode::UnsupportedMediaType:
      return "unsupported_media_type";
    case ErrorCode::PayloadTooLarge:
      return "payload_too_large";
    case ErrorCode::UnsupportedOperation:
      return "unsupported_operation";
    case ErrorCode::BadArmor:
      return "bad_armor";
    case ErrorCode::MalformedPacket:
      return "malformed_packet";
    case ErrorCode::PacketTooLarge:
      return "packet_too_large";
    case ErrorCode::NoCertificate:
      return "no_certificate";
    case ErrorCode::UnsupportedVersion:
      return "unsupported_version";
    case ErrorCode::SecretKeyRefused:
      return "secret_key_refused";
    case ErrorCode::NoValidComponents:
      return "no_valid_components";
    case ErrorCode::WeakAlgorithm:
      return "weak_algorithm";
    case ErrorCode::UnsupportedAlgorithm:
      return "unsupported_algorithm";
    case ErrorCode::TooManyComponents:
      return "too_many_components";
    case ErrorCode::CertificateTooLarge:
      return "certificate_too_large";
    case ErrorCode::BadSignature:
      return "bad_signature";
    case ErrorCode::Tombstoned:
      return "tombstoned";
    case ErrorCode::NotFound:
      return "not_found";
    case ErrorCode::RateLimited:
      return "rate_limited";
    case ErrorCode::MailFailed:
      return "mail_failed";
    case ErrorCode::TokenInvalid:
      return "token_invalid";
    case ErrorCode::Unauthorized:
      return "unauthorized";
    case ErrorCode::StorageIo:
      return "storage_io";
    case ErrorCode::StorageCorruption:
      return "storage_corruption";
    case ErrorCode::ProtocolError:
      return "protocol_error";
    case ErrorCode::Internal:
      return "internal";
    case ErrorCode::AnswerDidNotVerify:
      return "answer_did_not_verify";
  }
  return "internal";
}

}  // namespace keydir
