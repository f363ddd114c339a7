// Who may publish an address: e-mail verification (issue #6).
//
// In Verified and Managed mode a user ID with an address is published only
// after the owner of that address followed a link mailed to it. Links carry a
// random token (128 bits); the store keeps only its SHA-256, bound to one
// certificate and one address, with an expiry. Confirming publishes exactly
// that address on exactly that certificate, re-indexing it and using up the
// token in one atomic write. A manage link lets the owner of a published
// address unpublish addresses of that certificate.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/rate_limit.hpp"
#include "service/key_directory.hpp"

namespace keydir::service {

struct MailMessage {
  std::string to;
  std::string subject;
  std::string body;  // plain text, UTF-8
};

class Mailer {
 public:
  virtual ~Mailer() = default;
  // Errors: MailFailed (relay unreachable, refused the mail).
  virtual Result<void> send(const MailMessage& message) = 0;
};

struct VerificationOptions {
  std::string public_url = "http://127.0.0.1:11371";  // base of the links in mails
  std::string site_name = "keydir";
  std::uint64_t token_lifetime = 24 * 3600;  // seconds
  // Mails per address and per client: per hour, and the burst allowed.
  double per_address_per_hour = 3;
  double per_address_burst = 2;
  double per_client_per_hour = 30;
  double per_client_burst = 10;
};

enum class AddressState { Published, Pending, Unpublished, Revoked };
std::string_view state_name(AddressState s);

// A confirmation link opened again after it was used (issue #20): what it
// published, when, and whether that still holds. A used link is kept as a
// marker until it expires; it never publishes again.
struct UsedLink {
  Fingerprint fingerprint;
  std::string email;          // normalised
  std::uint64_t used_at = 0;  // when the link was used (seconds since the epoch)
  // Set while `email` is published (and findable) on `fingerprint`: since
  // when. Unset: unpublished since (by its owner or the operator), or the
  // user ID was revoked.
  std::optional<std::uint64_t> published_since;
  [[nodiscard]] bool still_published() const { return published_since.has_value(); }
};
// One plain sentence for a page or a log (no markup; escape it for HTML):
// "alice@example.org is already published with the key FPR since DATE." or
// "alice@example.org was published with the key FPR on DATE and is no longer
// published."
std::string describe(const UsedLink& link);

class Verification {
 public:
  Verification(KeyDirectory& directory, Mailer& mailer, VerificationOptions options);

  // The states of `addresses` (lower case) on the stored certificate: the
  // addresses an upload held, never more, for an answer may speak only of
  // what its upload contained (issue #16). An address on none of the
  // certificate's user IDs is left out. Never Pending: whether a
  // confirmation mail is out for an address is nobody's business but its
  // owner's (request-verify says Pending of the addresses it has just
  // mailed). Errors: NotFound.
  Result<std::map<std::string, AddressState>> states(
      const Fingerprint& fpr, const std::vector<std::string>& addresses) const;

  // Mails a confirmation link to each address. Each must be an address of a
  // current user ID of the certificate that this mode can publish.
  // Errors: NotFound, BadQuery (not an address of this key), RateLimited,
  // MailFailed.
  Result<void> request(const Fingerprint& fpr, const std::vector<std::string>& emails,
                       const std::string& client);

  // What a link names, without using it (the confirmation page).
  // Errors: TokenInvalid (unknown, used or expired).
  Result<storage::VerifyToken> peek(std::string_view token, storage::VerifyToken::Kind kind) const;
  // Publishes the address the token names, and marks the token used, in one
  // write: a token publishes once, even when two requests race (the store
  // refuses the second write). Errors: TokenInvalid, NotFound.
  Result<storage::VerifyToken> confirm(std::string_view token);
  // What a used confirmation link did (the page shown when peek() says
  // TokenInvalid). Errors: TokenInvalid (unknown, expired, mistyped, a
  // manage link, or not used yet).
  Result<UsedLink> used_link(std::string_view token) const;

  // Mails a manage link to `email` if it is published on a certificate; says
  // nothing either way (no address enumeration). Errors: RateLimited,
  // MailFailed, BadQuery.
  Result<void> request_manage(const std::string& email, const std::string& client);
  // Unpublishes `email` on the certificate the manage token names (any of its
  // published addresses). Errors: TokenInvalid, BadQuery.
  Result<void> unpublish(std::string_view manage_token, const std::string& email);

  // Pending confirmations (for `keydird admin list-pending`): not used, not
  // expired.
  Result<std::vector<storage::VerifyToken>> pending() const;

  // Deletes expired tokens: links never used, and used links whose marker
  // outlived the link. Returns how many. Run by issue() at most once an
  // hour, so the store holds no more than a day or so of links.
  Result<std::size_t> purge_expired();

 private:
  Result<std::string> issue(storage::VerifyToken::Kind kind, const Fingerprint& fpr,
                            const std::string& email);
  Result<storage::VerifyToken> find(std::string_view token, storage::VerifyToken::Kind kind,
                                    Bytes& hash) const;

  KeyDirectory& directory_;
  Mailer& mailer_;
  VerificationOptions options_;
  RateLimiter per_address_;
  RateLimiter per_client_;
  std::atomic<std::uint64_t> next_purge_{0};
};

// Sends mail through an SMTP relay with libcurl: smtp://HOST:PORT (STARTTLS
// when the relay offers it) or smtps://HOST:PORT (implicit TLS), optional
// login.
//
// With a login, smtp:// requires STARTTLS (CURLUSESSL_ALL): a relay that
// does not offer it (or a man in the middle who strips it) gets no
// credentials. `insecure_loopback` allows a login without TLS, for a relay on
// 127.0.0.1, ::1 or localhost only (check_smtp_options refuses it otherwise).
struct SmtpOptions {
  std::string url;
  std::string from;
  std::string user;
  std::string password;
  bool insecure_loopback = false;
  long timeout_seconds = 20;
};

// The startup check of the mail settings: an smtp:// or smtps:// URL without
// a login in it (URLs are logged), a password only with a user, and
// insecure_loopback only for a loopback host. Errors: BadQuery, with the
// reason.
Result<void> check_smtp_options(const SmtpOptions& options);

class SmtpMailer final : public Mailer {
 public:
  explicit SmtpMailer(SmtpOptions options) : options_(std::move(options)) {}
  Result<void> send(const MailMessage& message) override;

 private:
  SmtpOptions options_;
};

}  // namespace keydir::service
