#include "openpgp/identifiers.hpp"

#include <algorithm>
#include <cctype>

#include "openpgp/crypto/hash.hpp"

namespace keydir::openpgp {

namespace {
std::string_view strip_hex_prefix(std::string_view hex) {
  if (hex.size() >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
    hex.remove_prefix(2);
  }
  return hex;
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
}  // namespace

KeyId::KeyId(ByteView bytes) { std::copy_n(bytes.begin(), kSize, bytes_.begin()); }

Result<KeyId> KeyId::from_hex(std::string_view hex) {
  hex = strip_hex_prefix(hex);
  auto bytes = keydir::from_hex(hex);
  if (!bytes || bytes->size() != kSize) {
    return fail(ErrorCode::BadQuery, "a key ID is 16 hex digits");
  }
  return KeyId(*bytes);
}

std::uint32_t KeyId::short_id() const {
  return std::uint32_t{bytes_[4]} << 24 | std::uint32_t{bytes_[5]} << 16 |
         std::uint32_t{bytes_[6]} << 8 | bytes_[7];
}

Fingerprint::Fingerprint(Version version, ByteView bytes) : version_(version) {
  std::copy_n(bytes.begin(), size(), bytes_.begin());
}

Result<Fingerprint> Fingerprint::from_hex(std::string_view hex) {
  hex = strip_hex_prefix(hex);
  std::string compact;
  for (char c : hex) {
    if (c != ' ') {
      compact.push_back(c);
    }
  }
  auto bytes = keydir::from_hex(compact);
  if (!bytes || (bytes->size() != 20 && bytes->size() != 32)) {
    return fail(ErrorCode::BadQuery, "a fingerprint is 40 (v4) or 64 (v6) hex digits");
  }
  return Fingerprint(bytes->size() == 20 ? Version::V4 : Version::V6, *bytes);
}

KeyId Fingerprint::key_id() const {
  if (version_ == Version::V4) {
    return KeyId(ByteView(bytes_.data() + 12, 8));
  }
  return KeyId(ByteView(bytes_.data(), 8));
}

Result<Email> Email::parse(std::string_view text) {
  std::string_view addr = text;
  auto open = text.rfind('<');
  if (open != std::string_view::npos) {
    auto close = text.find('>', open);
    if (close == std::string_view::npos) {
      return fail(ErrorCode::BadQuery, "unbalanced '<' in address");
    }
    addr = text.substr(open + 1, close - open - 1);
  }
  auto at = addr.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == addr.size()) {
    return fail(ErrorCode::BadQuery, "not an e-mail address");
  }
  if (addr.size() > 254) {
    return fail(ErrorCode::BadQuery, "e-mail address longer than 254 octets");
  }
  for (char c : addr) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
        c == ';' || c == '"' || c == '\\' || c == '[' || c == ']') {
      return fail(ErrorCode::BadQuery, "e-mail address has a character not allowed there");
    }
  }
  std::string_view domain = addr.substr(at + 1);
  if (domain.find('@') != std::string_view::npos || domain.front() == '.' ||
      domain.back() == '.' || domain.find("..") != std::string_view::npos) {
    return fail(ErrorCode::BadQuery, "e-mail address has a malformed domain");
  }
  std::string normalised(addr);
  std::transform(normalised.begin(), normalised.end(), normalised.begin(), ascii_lower);
  return Email(std::move(normalised));
}

std::optional<Email> Email::from_user_id(std::string_view user_id) {
  auto email = parse(user_id);
  if (!email) {
    return std::nullopt;
  }
  return *email;
}

std::string_view Email::local_part() const {
  return std::string_view(address_).substr(0, address_.rfind('@'));
}

std::string_view Email::domain() const {
  return std::string_view(address_).substr(address_.rfind('@') + 1);
}

WkdHash WkdHash::of(const Email& email) {
  auto digest = crypto::digest(HashAlgorithm::Sha1, as_bytes(email.local_part()));
  return WkdHash(std::string(email.domain()), zbase32_encode(*digest));
}

Result<WkdHash> WkdHash::from_parts(std::string_view domain, std::string_view hash) {
  if (hash.size() != 32 || !is_zbase32(hash)) {
    return fail(ErrorCode::BadQuery, "a WKD hash is 32 z-base-32 characters");
  }
  if (domain.empty() || domain.size() > 253) {
    return fail(ErrorCode::BadQuery, "bad WKD domain");
  }
  std::string d(domain);
  std::transform(d.begin(), d.end(), d.begin(), ascii_lower);
  return WkdHash(std::move(d), std::string(hash));
}

}  // namespace keydir::openpgp
