// The transparency log's entries (docs/transparency.md, "Entries"): one per
// change of what the directory publishes, and the commitments that stand for
// addresses in them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace keydir::tlog {

inline constexpr std::uint8_t kEntryFormat = 0x01;
inline constexpr std::size_t kCommitmentBytes = 32;
inline constexpr std::size_t kSaltBytes = 32;
// An entry bundle prefixes each entry with a 16-bit length.
inline constexpr std::size_t kMaxEntryBytes = 65535;
inline constexpr std::size_t kMaxCommitments = (kMaxEntryBytes - 64) / kCommitmentBytes;

// How addresses become commitments; fixed by the log's first entry.
struct CommitmentScheme {
  enum class Kind : std::uint8_t { HmacSha256 = 1, Scrypt = 2 };
  Kind kind = Kind::HmacSha256;
  std::uint8_t log2n = 0;  // scrypt: N = 2^log2n
  std::uint8_t r = 0;
  std::uint8_t p = 0;
  Bytes salt;  // kSaltBytes, random per log

  // The commitment of a normalised address (openpgp::Email::address()).
  [[nodiscard]] Result<Bytes> commit(std::string_view address) const;
  // What an entry's fingerprint field holds for the certificate of
  // `key_version` (4 or 6) with `fingerprint`. Scrypt (verified and managed
  // mode): the blinded fingerprint, HMAC-SHA-256(salt, "keydir fingerprint
  // v1\n" || key_version || fingerprint) truncated to the fingerprint's
  // length, so that walking the log yields no fingerprint to look up.
  // HmacSha256 (open mode, where every certificate is public): the
  // fingerprint itself.
  [[nodiscard]] Bytes entry_fingerprint(std::uint8_t key_version, ByteView fingerprint) const;
  bool operator==(const CommitmentScheme&) const = default;
};

struct Entry {
  enum class Kind : std::uint8_t { Header = 0, Certificate = 1, Deleted = 2 };
  Kind kind = Kind::Certificate;
  std::uint64_t seq = 0;   // the store's change number (0: the header)
  std::uint64_t time = 0;  // seconds since the epoch
  // Certificate and Deleted: key version (4 or 6) and the certificate's
  // CommitmentScheme::entry_fingerprint (blinded in Scrypt logs).
  std::uint8_t key_version = 0;
  Bytes fingerprint;
  // Certificate: SHA-256 of the published form, and the commitments of the
  // addresses the certificate is found by (sorted, distinct).
  Bytes digest;
  std::vector<Bytes> commitments;
  // Header.
  CommitmentScheme scheme;

  [[nodiscard]] Bytes encode() const;
  // Strict: a malformed entry (unknown format or kind, lengths, unsorted
  // commitments, trailing octets) is AnswerDidNotVerify.
  static Result<Entry> decode(ByteView bytes);
  bool operator==(const Entry&) const = default;
};

// "04" / "06" followed by the fingerprint in lower-case hex.
std::string vfpr_hex(std::uint8_t key_version, ByteView fingerprint);

}  // namespace keydir::tlog
