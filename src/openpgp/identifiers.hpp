// Value types that name keys and addresses: Fingerprint, KeyId, Email, WkdHash.
//
// They are the vocabulary shared by the core, the store, the HTTP layer and the
// client: each is built only by a parser that validates it, so a value of one of
// these types is always well formed.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace keydir::openpgp {

class KeyId {
 public:
  static constexpr std::size_t kSize = 8;
  KeyId() = default;
  explicit KeyId(ByteView bytes);  // precondition: bytes.size() == 8
  // 16 hex digits, optional "0x" prefix.
  static Result<KeyId> from_hex(std::string_view hex);

  [[nodiscard]] ByteView bytes() const { return bytes_; }
  [[nodiscard]] std::string to_hex() const { return keydir::to_hex(bytes_); }
  // The 32-bit "short key ID": the low 32 bits of the 64-bit key ID.
  [[nodiscard]] std::uint32_t short_id() const;
  auto operator<=>(const KeyId&) const = default;

 private:
  std::array<std::uint8_t, kSize> bytes_{};
};

class Fingerprint {
 public:
  enum class Version : std::uint8_t { V4 = 4, V6 = 6 };

  Fingerprint() = default;
  Fingerprint(Version version, ByteView bytes);  // precondition: size fits version
  // 40 hex digits (v4) or 64 hex digits (v6), optional "0x" prefix, spaces allowed.
  static Result<Fingerprint> from_hex(std::string_view hex);

  [[nodiscard]] Version version() const { return version_; }
  [[nodiscard]] ByteView bytes() const { return ByteView(bytes_.data(), size()); }
  [[nodiscard]] std::size_t size() const { return version_ == Version::V4 ? 20 : 32; }
  [[nodiscard]] std::string to_hex() const { return keydir::to_hex(bytes()); }
  // RFC 9580 §5.5.4.2: v4 key ID = low-order 64 bits of the fingerprint.
  // RFC 9580 §5.5.4.3: v6 key ID = high-order 64 bits of the fingerprint.
  [[nodiscard]] KeyId key_id() const;
  auto operator<=>(const Fingerprint&) const = default;

 private:
  Version version_ = Version::V4;
  std::array<std::uint8_t, 32> bytes_{};
};

// The one form keydir compares domain names in: lower-case A-labels
// ("xn--bcher-kva.example"), IDNA2008 with the UTS #46 non-transitional mapping
// (what libcurl, browsers and resolvers send to DNS). Accepts ASCII in any case
// and U-labels; refuses what is not a host name: fewer than two labels, a label
// empty, longer than 63 octets or with a character other than a letter, digit or
// hyphen (after IDNA), a hyphen at either end of a label, an all-numeric last
// label (an address literal), more than 253 octets.
Result<std::string> normalize_domain(std::string_view domain);

// A normalised e-mail address: one addr-spec, the ASCII letters of its local
// part lower-cased (as GnuPG and WKD compare them) and its domain in
// normalize_domain's form.
class Email {
 public:
  // The address of a user ID, or why it has none. The address is the one GnuPG
  // sees (common/mbox-util.c, mailbox_from_userid): the text between the first
  // '<' and the next '>', or, without any '<', the whole user ID when it is a
  // plain mailbox. Then keydir's stricter rules, each refusing the address, never
  // picking another one:
  //  - the user ID holds no control character (a NUL ends the user ID for
  //    GnuPG's C strings) and exactly one '@', and one '<' and one '>' when it
  //    has any: a second address, or anything a reader or another program could
  //    take for one, makes the user ID ambiguous, so it has no address at all;
  //  - the local part is a dot-atom (RFC 5322, RFC 6531) of at most 64 octets,
  //    without '%' or '!' (routes through another host) and unquoted; beyond
  //    ASCII, valid UTF-8 in NFC without control, format, separator,
  //    private-use or unassigned code points;
  //  - the domain is a host name (normalize_domain); U-labels must be written in
  //    their normal form (NFC, lower case), so the address GnuPG extracts and
  //    keydir's differ only by the A-label encoding of the domain;
  //  - the whole address is at most 254 octets.
  static Result<Email> of_user_id(std::string_view user_id);
  // of_user_id, without the reason.
  static std::optional<Email> from_user_id(std::string_view user_id);
  // A query or a configured address: the same rules as of_user_id ("alice@example.org",
  // "<alice@example.org>" or "Name <alice@example.org>").
  static Result<Email> parse(std::string_view text);

  [[nodiscard]] const std::string& address() const { return address_; }
  [[nodiscard]] std::string_view local_part() const;
  [[nodiscard]] std::string_view domain() const;
  auto operator<=>(const Email&) const = default;

 private:
  explicit Email(std::string address) : address_(std::move(address)) {}
  std::string address_;
};

// draft-koch-openpgp-webkey-service §3.1: the local part, mapped to lower case,
// hashed with SHA-1 and encoded with z-base-32 (32 characters).
class WkdHash {
 public:
  static WkdHash of(const Email& email);
  // `hash` must be 32 z-base-32 characters; the domain is lower-cased.
  static Result<WkdHash> from_parts(std::string_view domain, std::string_view hash);

  [[nodiscard]] const std::string& domain() const { return domain_; }
  [[nodiscard]] const std::string& hash() const { return hash_; }
  auto operator<=>(const WkdHash&) const = default;

 private:
  WkdHash(std::string domain, std::string hash)
      : domain_(std::move(domain)), hash_(std::move(hash)) {}
  std::string domain_;
  std::string hash_;
};

}  // namespace keydir::openpgp
