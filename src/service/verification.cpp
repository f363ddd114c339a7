#include "service/verification.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>

#include "common/time_format.hpp"
#include "net/smtp.hpp"
#include "openpgp/crypto/hash.hpp"
#include "openpgp/crypto/primitives.hpp"
#include "service/store_access.hpp"

namespace keydir::service {

using storage::VerifyToken;

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Bytes token_hash(std::string_view token) {
  return *openpgp::crypto::digest(openpgp::HashAlgorithm::Sha256, as_bytes(token));
}

// Header-safe: no line breaks from configuration text.
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\r', ' ');
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

std::string grouped(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    out += (i ? " " : "") + hex.substr(i, 4);
  }
  return out;
}

}  // namespace

std::string_view state_name(AddressState s) {
  switch (s) {
    case AddressState::Published:
      return "published";
    case AddressState::Pending:
      return "pending";
    case AddressState::Unpublished:
      return "unpublished";
    case AddressState::Revoked:
      return "revoked";
  }
  return "unpublished";
}

Verification::Verification(KeyDirectory& directory, Mailer& mailer, VerificationOptions options)
    : directory_(directory),
      mailer_(mailer),
      options_(std::move(options)),
      per_address_(options_.per_address_per_hour / 60.0, options_.per_address_burst),
      per_client_(options_.per_client_per_hour / 60.0, options_.per_client_burst) {}

Result<std::map<std::string, AddressState>> Verification::states(
    const Fingerprint& fpr, const std::vector<std::string>& addresses) const {
  KEYDIR_TRY(auto vc, directory_.stored_summary(fpr));
  std::vector<std::string> published;
  if (directory_.verifies_addresses()) {
    KEYDIR_TRY(published, directory_.store_ref(StoreAccess{}).published(fpr));
  }
  const bool open = !directory_.verifies_addresses();
  std::map<std::string, AddressState> out;
  for (const auto& st : vc.user_id_states()) {
    if (!st.email) {
      continue;
    }
    const std::string& a = st.email->address();
    if (std::find(addresses.begin(), addresses.end(), a) == addresses.end()) {
      continue;
    }
    AddressState s = AddressState::Unpublished;
    if (st.revocation || vc.revoked()) {
      s = AddressState::Revoked;
    } else if (open || std::find(published.begin(), published.end(), a) != published.end()) {
      s = AddressState::Published;
    }
    // A revoked user ID never hides the same address on a current one.
    auto it = out.find(a);
    if (it == out.end() || it->second == AddressState::Revoked) {
      out[a] = s;
    }
  }
  return out;
}

std::string describe(const UsedLink& link) {
  if (link.published_since) {
    return link.email + " is already published with the key " + link.fingerprint.to_hex() +
           " since " + utc_timestamp(*link.published_since) + ".";
  }
  // Neither the address nor the key: its owner took the address off, and
  // whoever holds the link (a mail scanner's log, a forwarded mail) learns
  // no more than that the link was used.
  return "The address this link published on " + utc_timestamp(link.used_at) +
         " is no longer published.";
}

namespace {
// Managed mode by operator token mails nothing (it may have no relay): the
// owner of an address asks the operators instead.
auto not_by_mail() {
  return fail(ErrorCode::Unauthorized,
              "this directory publishes addresses by its operators only; ask them");
}
}  // namespace

Result<std::string> Verification::issue(VerifyToken::Kind kind, const Fingerprint& fpr,
                                        const std::string& email) {
  // Expired links go now and then (one walk over the tokens an hour).
  if (const std::uint64_t now = directory_.now(); now >= next_purge_.load()) {
    next_purge_.store(now + 3600);
    if (auto purged = purge_expired(); !purged) {
      spdlog::warn("deleting expired confirmation links: {}", purged.error().detail);
    }
  }
  KEYDIR_TRY(Bytes raw, openpgp::crypto::random_bytes(16));
  std::string token = zbase32_encode(raw);
  VerifyToken t;
  t.kind = kind;
  t.fingerprint = fpr;
  t.email = email;
  t.created = directory_.now();
  t.expires = t.created + options_.token_lifetime;
  KEYDIR_CHECK(directory_.store_ref(StoreAccess{}).put_token(token_hash(token), t));
  return token;
}

Result<void> Verification::request(const Fingerprint& fpr, const std::vector<std::string>& emails,
                                   const std::string& client) {
  if (!emails.empty() && !directory_.confirms_by_mail()) {
    return not_by_mail();
  }
  KEYDIR_TRY(auto summary, directory_.stored_summary(fpr));
  const auto* vc = &summary;
  const auto allowed = directory_.publishable_addresses(*vc);
  for (const auto& e : emails) {
    if (std::find(allowed.begin(), allowed.end(), e) == allowed.end()) {
      return fail(ErrorCode::BadQuery, "the key has no current user ID with the address " + e +
                                           " that this directory publishes");
    }
  }
  for (const auto& e : emails) {
    const double now = now_seconds();
    if (per_client_.take(client, now) || per_address_.take(e, now)) {
      return fail(ErrorCode::RateLimited,
                  "too many confirmation mails for " + e + " or from your address; try later");
    }
    KEYDIR_TRY(auto token, issue(VerifyToken::Kind::Verify, fpr, e));
    MailMessage m;
    m.to = e;
    m.subject = "Confirm " + e + " for your OpenPGP key on " + one_line(options_.site_name);
    m.body = "Hello,\n\nsomeone, hopefully you, asked " + one_line(options_.site_name) +
             " to publish your address\n\n  " + e + "\n\nwith the OpenPGP key\n\n  " +
             grouped(fpr.to_hex()) +
             "\n\nOnce it is published, anyone can find this key by your address, and\n"
             "mail programs will use it to encrypt mail to you.\n\n"
             "To publish it, open this link and confirm:\n\n  " +
             options_.public_url + "/verify/" + token + "\n\nThe link works once and expires on " +
             utc_timestamp(directory_.now() + options_.token_lifetime) +
             ".\nIf you did not ask for this, ignore this mail: nothing is published.\n";
    KEYDIR_CHECK(mailer_.send(m));
  }
  return {};
}

Result<VerifyToken> Verification::find(std::string_view token, VerifyToken::Kind kind,
                                       Bytes& hash) const {
  auto invalid = [] {
    return fail(ErrorCode::TokenInvalid,
                "this link is not valid: it was used already, it expired, or it is mistyped");
  };
  if (token.empty() || token.size() > 64) {
    return invalid();
  }
  hash = token_hash(token);
  KEYDIR_TRY(auto t, directory_.store_ref(StoreAccess{}).token(hash));
  if (!t || t->kind != kind || t->expires <= directory_.now() || t->used_at != 0) {
    return invalid();
  }
  return *t;
}

Result<UsedLink> Verification::used_link(std::string_view token) const {
  auto invalid = [] {
    return fail(ErrorCode::TokenInvalid, "this link is not valid: it expired, or it is mistyped");
  };
  if (token.empty() || token.size() > 64) {
    return invalid();
  }
  KEYDIR_TRY(auto t, directory_.store_ref(StoreAccess{}).token(token_hash(token)));
  if (!t || t->kind != VerifyToken::Kind::Verify || t->expires <= directory_.now() ||
      t->used_at == 0) {
    return invalid();
  }
  UsedLink out;
  out.fingerprint = t->fingerprint;
  out.email = t->email;
  out.used_at = t->used_at;
  // Still published: findable now (a current user ID, published in this
  // mode), and since when its mark says.
  auto st = states(t->fingerprint, {t->email});
  if (!st) {
    if (st.error().code == ErrorCode::NotFound) {
      return invalid();  // the key was deleted (its tokens go with it)
    }
    return tl::unexpected(st.error());
  }
  auto it = st->find(t->email);
  if (it != st->end() && it->second == AddressState::Published) {
    std::uint64_t since = t->used_at;
    KEYDIR_TRY(auto times, directory_.store_ref(StoreAccess{}).published_times(t->fingerprint));
    for (const auto& [address, at] : times) {
      if (address == t->email && at != 0) {
        since = at;
      }
    }
    out.published_since = since;
  }
  return out;
}

Result<VerifyToken> Verification::peek(std::string_view token, VerifyToken::Kind kind) const {
  Bytes hash;
  return find(token, kind, hash);
}

Result<VerifyToken> Verification::confirm(std::string_view token) {
  Bytes hash;
  KEYDIR_TRY(auto t, find(token, VerifyToken::Kind::Verify, hash));
  // Publish and use up the token in one write: a crash leaves either both
  // or neither.
  KEYDIR_CHECK(directory_.set_published(t.fingerprint, {t.email}, {}, hash));
  return t;
}

Result<void> Verification::request_manage(const std::string& email, const std::string& client) {
  if (!directory_.confirms_by_mail()) {
    return not_by_mail();
  }
  auto parsed = openpgp::Email::parse(email);
  if (!parsed) {
    return fail(ErrorCode::BadQuery, "not an e-mail address");
  }
  const std::string& a = parsed->address();
  const double now = now_seconds();
  if (per_client_.take(client, now) || per_address_.take(a, now)) {
    return fail(ErrorCode::RateLimited, "too many mails for this address or from yours; try later");
  }
  // The certificates that publish this address (the index holds only
  // published ones in this mode).
  KEYDIR_TRY(
      auto records,
      directory_.store_ref(StoreAccess{}).lookup(storage::Query{storage::Query::ByEmail{a}}, 10));
  for (const auto& rec : records) {
    KEYDIR_TRY(auto published, directory_.store_ref(StoreAccess{}).published(rec.fingerprint));
    if (std::find(published.begin(), published.end(), a) == published.end()) {
      continue;
    }
    KEYDIR_TRY(auto token, issue(VerifyToken::Kind::Manage, rec.fingerprint, a));
    MailMessage m;
    m.to = a;
    m.subject = "Manage your OpenPGP key on " + one_line(options_.site_name);
    m.body = "Hello,\n\nsomeone, hopefully you, asked to manage the OpenPGP key\n\n  " +
             grouped(rec.fingerprint.to_hex()) + "\n\npublished on " +
             one_line(options_.site_name) + " for " + a +
             ".\n\nFrom this link you can unpublish its addresses:\n\n  " + options_.public_url +
             "/manage/" + token + "\n\nThe link expires on " +
             utc_timestamp(directory_.now() + options_.token_lifetime) +
             ".\nIf you did not ask for this, ignore this mail: nothing changes.\n";
    KEYDIR_CHECK(mailer_.send(m));
  }
  return {};
}

Result<void> Verification::unpublish(std::string_view manage_token, const std::string& email) {
  Bytes hash;
  KEYDIR_TRY(auto t, find(manage_token, VerifyToken::Kind::Manage, hash));
  KEYDIR_TRY(auto published, directory_.store_ref(StoreAccess{}).published(t.fingerprint));
  if (std::find(published.begin(), published.end(), email) == published.end()) {
    return fail(ErrorCode::BadQuery, email + " is not published on this key");
  }
  return directory_.set_published(t.fingerprint, {}, {email});
}

Result<std::vector<VerifyToken>> Verification::pending() const {
  std::vector<VerifyToken> out;
  const std::uint64_t now = directory_.now();
  KEYDIR_CHECK(
      directory_.store_ref(StoreAccess{}).for_each_token([&](ByteView, const VerifyToken& t) {
        if (t.kind == VerifyToken::Kind::Verify && t.expires > now && t.used_at == 0) {
          out.push_back(t);
        }
        return true;
      }));
  return out;
}

Result<std::size_t> Verification::purge_expired() {
  std::vector<Bytes> expired;
  const std::uint64_t now = directory_.now();
  auto& store = directory_.store_ref(StoreAccess{});
  KEYDIR_CHECK(store.for_each_token([&](ByteView hash, const VerifyToken& t) {
    if (t.expires <= now) {
      expired.emplace_back(hash.begin(), hash.end());
    }
    return true;
  }));
  for (const auto& h : expired) {
    KEYDIR_CHECK(store.delete_token(h));
  }
  return expired.size();
}

// --- SMTP ------------------------------------------------------------------

namespace {

std::string rfc5322_date() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string lower_ascii(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return s;
}

}  // namespace

Result<void> check_smtp_options(const SmtpOptions& options) {
  auto bad = [](std::string why) { return fail(ErrorCode::BadQuery, std::move(why)); };
  const std::string url = lower_ascii(options.url);
  const bool smtps = url.starts_with("smtps://");
  if (!smtps && !url.starts_with("smtp://")) {
    return bad("--smtp-url must start with smtp:// (STARTTLS) or smtps:// (TLS): " + options.url);
  }
  std::string_view rest = std::string_view(url).substr(smtps ? 8 : 7);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return bad(
        "--smtp-url must not hold a login (it is logged): give it with --smtp-user and "
        "--smtp-password-file or KEYDIRD_SMTP_PASSWORD");
  }
  if (!options.password.empty() && options.user.empty()) {
    return bad("an SMTP password without --smtp-user");
  }
  if (options.insecure_loopback) {
    std::string_view host = authority;
    if (host.starts_with('[')) {
      host = host.substr(
          1, host.find(']') == std::string_view::npos ? host.size() : host.find(']') - 1);
    } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
      host = host.substr(0, colon);
    }
    if (host != "127.0.0.1" && host != "::1" && host != "localhost") {
      return bad(
          "smtp-insecure-loopback sends the SMTP login without TLS, so it is allowed "
          "only for a relay on 127.0.0.1, ::1 or localhost, not " +
          std::string(host));
    }
  }
  return {};
}

Result<void> SmtpMailer::send(const MailMessage& message) {
  if (options_.url.empty()) {
    return fail(ErrorCode::MailFailed, "no SMTP relay is configured (--smtp-url)");
  }
  Bytes id = openpgp::crypto::random_bytes(12).value_or(Bytes(12, 0));
  std::string domain = options_.from.substr(options_.from.rfind('@') + 1);
  std::string u = "Date: " + rfc5322_date() + "\r\nFrom: " + one_line(options_.from) +
                  "\r\nTo: " + one_line(message.to) + "\r\nSubject: " + one_line(message.subject) +
                  "\r\nMessage-ID: <" + to_hex(id) + "@" + one_line(domain) +
                  ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n\r\n";
  // CRLF line ends; a line that is a lone "." is stuffed by libcurl.
  for (char c : message.body) {
    if (c == '\n') {
      u += "\r\n";
    } else {
      u.push_back(c);
    }
  }
  net::SmtpDelivery d;
  d.url = options_.url;
  d.user = options_.user;
  d.password = options_.password;
  // STARTTLS is required with a login (never credentials in clear text after
  // a stripped STARTTLS), taken when offered otherwise.
  d.require_tls =
      (!options_.user.empty() || !options_.password.empty()) && !options_.insecure_loopback;
  d.timeout = options_.timeout_seconds;
  d.from = options_.from;
  d.to = message.to;
  d.data = std::move(u);
  if (auto sent = net::send_mail(d); !sent) {
    const std::string& why = sent.error().detail;
    spdlog::error("mail to {}: the mail relay {} did not take the mail: {}", message.to,
                  options_.url, why);
    return fail(ErrorCode::MailFailed,
                "the mail relay " + options_.url + " did not take the mail: " + why);
  }
  spdlog::info("mail to {} sent through {}", message.to, options_.url);
  return {};
}

}  // namespace keydir::service
