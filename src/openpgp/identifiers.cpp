#include "openpgp/identifiers.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <idn2.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "openpgp/crypto/hash.hpp"

namespace keydir::openpgp {

namespace {
std::string_view strip_hex_prefix(std::string_view hex) {
  if (hex.size() >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
    hex.remove_prefix(2);
  }
  return hex;
}

char ascii_lower_char(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
}  // namespace

KeyId::KeyId(ByteView bytes) {
  std::copy_n(bytes.begin(), kSize, bytes_.begin());
}

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

namespace {

bool is_ascii_control(unsigned char u) {
  return u < 0x20 || u == 0x7f;
}

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower_char);
  return out;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::vector<std::string_view> split_labels(std::string_view d) {
  std::vector<std::string_view> out;
  std::size_t from = 0;
  for (;;) {
    auto dot = d.find('.', from);
    out.push_back(d.substr(from, dot == std::string_view::npos ? dot : dot - from));
    if (dot == std::string_view::npos) {
      return out;
    }
    from = dot + 1;
  }
}

// GnuPG's test for a user ID that is nothing but a mailbox (is_valid_mailbox):
// ASCII letters, digits, "_-." and the RFC 5322 specials before the '@', only
// letters, digits and "_-." after it; octets above 0x7f pass unchecked.
bool gnupg_plain_mailbox(std::string_view s) {
  constexpr std::string_view kWord = "_-.";
  constexpr std::string_view kSpecials = "!#$%&'*+/=?^`{|}~";
  bool at_seen = false;
  std::size_t ats = 0;
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      continue;
    }
    if (c == '@') {
      at_seen = true;
      ++ats;
      continue;
    }
    bool word = is_ascii_alnum(c) || kWord.find(c) != std::string_view::npos;
    if (!word && (at_seen || kSpecials.find(c) == std::string_view::npos)) {
      return false;
    }
  }
  return !s.empty() && ats == 1 && s.front() != '@' && s.back() != '@' && s.back() != '.' &&
         s.find("..") == std::string_view::npos;
}

// The mailbox GnuPG takes from a user ID (mailbox_from_userid), before its
// ASCII lower-casing, or why it takes none.
Result<std::string_view> gnupg_mailbox(std::string_view uid) {
  auto open = uid.find('<');
  if (open == std::string_view::npos) {
    if (!gnupg_plain_mailbox(uid)) {
      return fail(ErrorCode::BadQuery, "no <address>, and the whole text is not a plain address");
    }
    return uid;
  }
  auto close = uid.find('>', open + 1);
  if (close == std::string_view::npos) {
    return fail(ErrorCode::BadQuery, "'<' without a closing '>'");
  }
  std::string_view m = uid.substr(open + 1, close - open - 1);
  if (m.empty()) {
    return fail(ErrorCode::BadQuery, "empty <>");
  }
  if (std::count(m.begin(), m.end(), '@') != 1) {
    return fail(ErrorCode::BadQuery, "the address does not hold exactly one '@'");
  }
  if (m.front() == '@' || m.back() == '@') {
    return fail(ErrorCode::BadQuery, "the address has no local part or no domain");
  }
  if (m.back() == '.') {
    return fail(ErrorCode::BadQuery, "the address ends with a dot");
  }
  for (char c : m) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20) {
      return fail(ErrorCode::BadQuery, "the address holds a space or a control character");
    }
  }
  if (m.substr(m.find('@')).find("..") != std::string_view::npos) {
    return fail(ErrorCode::BadQuery, "the domain has an empty label");
  }
  return m;
}

// RFC 5322 atext, less '!' and '%': "a!b@host" and "a%b@host" route the mail
// to another host (UUCP bang paths, the percent hack).
bool is_local_char(char c) {
  return is_ascii_alnum(c) ||
         std::string_view("#$&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// A non-ASCII local part (RFC 6531): valid UTF-8, in NFC, and without
// controls, format characters (bidirectional overrides, zero-width ones),
// separators, private-use or unassigned code points, so the bytes GnuPG hashes
// for WKD are the one form of what a reader sees.
Result<void> check_unicode_local_part(std::string_view local) {
  const auto* s = reinterpret_cast<const std::uint8_t*>(local.data());
  if (u8_check(s, local.size()) != nullptr) {
    return fail(ErrorCode::BadQuery, "the local part is not valid UTF-8");
  }
  for (std::size_t i = 0; i < local.size();) {
    ucs4_t cp = 0;
    int n = u8_mbtouc(&cp, s + i, local.size() - i);
    if (cp >= 0x80 &&
        (uc_is_general_category(cp, UC_CATEGORY_C) || uc_is_general_category(cp, UC_CATEGORY_Z))) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(cp));
      return fail(ErrorCode::BadQuery, std::string("the local part holds ") + hex +
                                           ", an invisible, control or unassigned character");
    }
    i += static_cast<std::size_t>(n > 0 ? n : 1);
  }
  std::size_t nfc_size = 0;
  std::uint8_t* nfc = u8_normalize(UNINORM_NFC, s, local.size(), nullptr, &nfc_size);
  bool same = nfc && nfc_size == local.size() && std::memcmp(nfc, s, nfc_size) == 0;
  std::free(nfc);
  if (!same) {
    return fail(ErrorCode::BadQuery, "the local part is not in Unicode normal form NFC");
  }
  return {};
}

Result<void> check_local_part(std::string_view local) {
  if (local.size() > 64) {
    return fail(ErrorCode::BadQuery, "the local part is longer than 64 octets");
  }
  if (local.find('"') != std::string_view::npos) {
    return fail(ErrorCode::BadQuery, "quoted local parts are not accepted");
  }
  if (local.find_first_of("%!") != std::string_view::npos) {
    return fail(ErrorCode::BadQuery, "'%' and '!' route mail through another host: not accepted");
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return fail(ErrorCode::BadQuery, "the local part has an empty dot-separated word");
  }
  for (char c : local) {
    if (c != '.' && static_cast<unsigned char>(c) < 0x80 && !is_local_char(c)) {
      return fail(ErrorCode::BadQuery,
                  std::string("the local part holds '") + c + "', not allowed in a dot-atom");
    }
  }
  if (!is_ascii(local)) {
    KEYDIR_CHECK(check_unicode_local_part(local));
  }
  return {};
}

// The normalised address of a user ID (see Email::of_user_id), or why none.
Result<std::string> address_of(std::string_view uid) {
  for (char c : uid) {
    if (is_ascii_control(static_cast<unsigned char>(c))) {
      return fail(ErrorCode::BadQuery, "the text holds a control character");
    }
  }
  KEYDIR_TRY(auto m, gnupg_mailbox(uid));
  if (std::count(uid.begin(), uid.end(), '@') != 1 || std::count(uid.begin(), uid.end(), '<') > 1 ||
      std::count(uid.begin(), uid.end(), '>') > 1) {
    return fail(ErrorCode::BadQuery,
                "more than one address (a second '@', '<' or '>'): ambiguous, none is taken");
  }
  auto at = m.find('@');
  std::string_view local = m.substr(0, at);
  std::string_view domain = m.substr(at + 1);
  KEYDIR_CHECK(check_local_part(local));
  KEYDIR_TRY(auto ascii_domain, normalize_domain(domain));
  if (!is_ascii(domain)) {
    // The U-labels as written must be the normal form of their A-labels, so
    // GnuPG (which keeps them as written) names the same domain.
    auto written = split_labels(domain);
    auto normal = split_labels(ascii_domain);
    bool same = written.size() == normal.size();
    for (std::size_t i = 0; same && i < written.size(); ++i) {
      if (is_ascii(written[i])) {
        same = ascii_lower(written[i]) == normal[i];
        continue;
      }
      char* unicode = nullptr;
      std::string label(normal[i]);
      same = idn2_to_unicode_8z8z(label.c_str(), &unicode, 0) == IDN2_OK && unicode &&
             ascii_lower(written[i]) == unicode;
      idn2_free(unicode);
    }
    if (!same) {
      return fail(ErrorCode::BadQuery,
                  "the domain's Unicode labels are not in their normal form (NFC, lower case): "
                  "write " +
                      ascii_domain);
    }
  }
  std::string address = ascii_lower(local) + "@" + ascii_domain;
  if (address.size() > 254) {
    return fail(ErrorCode::BadQuery, "e-mail address longer than 254 octets");
  }
  return address;
}

}  // namespace

Result<std::string> normalize_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 1024) {
    return fail(ErrorCode::BadQuery, "not a domain name");
  }
  std::string ascii;
  bool idn = !is_ascii(domain);
  for (auto label : split_labels(domain)) {
    idn = idn || ascii_lower(label.substr(0, 4)) == "xn--";
  }
  if (idn) {
    std::string in(domain);
    char* out = nullptr;
    int rc = idn2_lookup_u8(reinterpret_cast<const std::uint8_t*>(in.c_str()),
                            reinterpret_cast<std::uint8_t**>(&out),
                            IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK || !out) {
      idn2_free(out);
      return fail(ErrorCode::BadQuery, std::string("not a valid internationalised domain name (") +
                                           idn2_strerror(rc) + ")");
    }
    ascii = ascii_lower(out);
    idn2_free(out);
  } else {
    ascii = ascii_lower(domain);
  }
  if (ascii.size() > 253) {
    return fail(ErrorCode::BadQuery, "domain name longer than 253 octets");
  }
  auto labels = split_labels(ascii);
  if (labels.size() < 2) {
    return fail(ErrorCode::BadQuery, "a domain name needs at least two labels");
  }
  for (auto label : labels) {
    if (label.empty() || label.size() > 63) {
      return fail(ErrorCode::BadQuery, "a domain label is empty or longer than 63 octets");
    }
    if (label.front() == '-' || label.back() == '-') {
      return fail(ErrorCode::BadQuery, "a domain label starts or ends with '-'");
    }
    for (char c : label) {
      if (!is_ascii_alnum(c) && c != '-') {
        return fail(ErrorCode::BadQuery,
                    std::string("a domain name holds '") + c + "' (letters, digits and '-' only)");
      }
    }
  }
  const auto tld = labels.back();
  if (std::all_of(tld.begin(), tld.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return fail(ErrorCode::BadQuery, "address literals are not accepted");
  }
  return ascii;
}

Result<Email> Email::of_user_id(std::string_view user_id) {
  auto address = address_of(user_id);
  if (!address) {
    return fail(ErrorCode::BadQuery, "no e-mail address: " + address.error().detail);
  }
  return Email(std::move(*address));
}

Result<Email> Email::parse(std::string_view text) {
  return of_user_id(text);
}

std::optional<Email> Email::from_user_id(std::string_view user_id) {
  auto email = of_user_id(user_id);
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
  std::transform(d.begin(), d.end(), d.begin(), ascii_lower_char);
  return WkdHash(std::move(d), std::string(hash));
}

}  // namespace keydir::openpgp
