// The web pages: a search box and an upload form (/), results (/search),
// a page per key (/key/<FPR>), upload results (POST /upload), /about, /api
// (docs/api.md, made HTML at build time), /policy (the operator's text or one
// that says what the mode in force stores and publishes), and an HTML page for
// every error of a web route, generated from the server's own settings. No external assets: one
// stylesheet and one small script served from /static/, so a strict Content-Security-Policy holds.
// Every page works without JavaScript; the script only adds conveniences (reading a chosen file
// into the text box, copying a fingerprint). Every piece of key data is escaped: a user ID is
// attacker-controlled text. The markup is in api/web/page_templates.hpp, rendered by web::render()
// (api/web/templates.hpp), which escapes every value and refuses unescaped tags.
#pragma once

#include <string>
#include <vector>

#include "api/hkp/hkp.hpp"
#include "api/http/message.hpp"
#include "api/http/upload_token.hpp"
#include "service/key_directory.hpp"
#include "service/verification.hpp"

namespace keydir::api {

namespace web {
class View;
}

struct PagesOptions {
  std::string site_name = "keydir";
  bool tls = false;                      // keydird serves HTTPS itself
  std::vector<std::string> wkd_domains;  // for /about
  std::size_t max_results = 100;
  // Who runs the directory and how to reach them (--contact): on /about,
  // /policy, the footer and the managed-mode pages. Empty: not shown.
  std::string contact;
  // The operator's privacy and usage policy (--policy-file): Markdown or
  // plain text, shown as escaped headings, paragraphs and lists (never as
  // HTML). nullopt: a text that says what the mode in force stores.
  std::optional<std::string> policy_text;
  // Managed mode takes uploads from operators only (with their token): the
  // pages then show who to ask instead of an upload form. Set by Api from
  // ApiOptions::managed_uploads_need_token.
  bool managed_uploads_need_token = true;
  // The software's version, in the footer (set by Api from ApiOptions).
  std::string version;
  // The transparency log's verifier key and its witnesses' cosignature keys,
  // on /about (set by Api from ApiOptions::log); empty: no log.
  std::string log_vkey;
  std::vector<std::string> log_witnesses;
};

class Pages {
 public:
  // `verification`: null in open mode.
  Pages(service::KeyDirectory& directory, PagesOptions options, const UploadTokens& tokens,
        service::Verification* verification);
  // Handles /, /search, /key/<FPR or key ID>, /upload, /upload/verify,
  // /verify/<token>, /manage, /manage/<token>, /about, /api, /policy and
  // /static/*; nullopt for other paths. Errors are HTML pages.
  [[nodiscard]] std::optional<Reply> handle(const HttpRequest& request) const;

  // Whether `path` is one of the web pages' (not an API, a static file or a
  // health or metrics path): its errors are HTML pages.
  [[nodiscard]] static bool is_web_path(std::string_view path);
  // An error as an HTML page with the same status and headers (Allow,
  // Retry-After, WWW-Authenticate): `plain` is a text reply.
  [[nodiscard]] Reply html_error(const Reply& plain) const;
  // The 401 of an upload without an operator token in managed mode.
  [[nodiscard]] Reply uploads_need_token() const;

 private:
  [[nodiscard]] Reply home(std::string_view notice) const;
  [[nodiscard]] Reply search(const HttpRequest& request) const;
  [[nodiscard]] Reply upload(const HttpRequest& request) const;
  [[nodiscard]] Reply about(const HttpRequest& request) const;
  [[nodiscard]] Reply send_confirmations(const HttpRequest& request) const;
  [[nodiscard]] Reply verify(const HttpRequest& request, std::string_view token) const;
  [[nodiscard]] Reply manage(const HttpRequest& request) const;
  [[nodiscard]] Reply manage_key(const HttpRequest& request, std::string_view token) const;
  // A used confirmation link opened again: the page that says what it did
  // (already published since when, or no longer published); nullopt when
  // the token is not a used link (unknown, expired, mistyped).
  [[nodiscard]] std::optional<Reply> used_link(std::string_view token) const;
  [[nodiscard]] Reply key_page(const HttpRequest& request, std::string_view id) const;
  [[nodiscard]] Reply policy() const;
  [[nodiscard]] Reply api_page() const;
  [[nodiscard]] Reply error(int status, std::string_view title, std::string_view text) const;
  [[nodiscard]] Reply not_allowed(std::string_view allow) const;
  // A whole page: `body` (a template of api/web/page_templates.hpp) in the
  // layout, with `data` and the names every page has.
  [[nodiscard]] std::string page(std::string_view title, std::string_view body,
                                 web::View data) const;
  [[nodiscard]] std::string page(std::string_view title, std::string_view body) const;
  // Whether the upload form is shown (not in managed mode by token).
  [[nodiscard]] bool takes_uploads() const;
  // The mode in force in plain words, and the note on withheld user IDs.
  [[nodiscard]] std::string mode_text() const;
  [[nodiscard]] std::string withheld_note() const;
  // The data of one card of templates::kCard.
  // `published`: in Verified and Managed mode, the addresses whose user IDs
  // are shown (the others are withheld); ignored in Open mode.
  [[nodiscard]] web::View certificate_card(const openpgp::CertificateStates& vc,
                                           const std::vector<std::string>& published) const;
  // The addresses an upload held and their states on the stored key, with a
  // form that mails confirmation links (templates::kAddressStates; only with
  // a verifier()). Never the stored key's other addresses.
  [[nodiscard]] web::View address_states(const service::Stored& stored) const;
  [[nodiscard]] Reply message_page(int status, std::string_view title, std::string_view text,
                                   bool error) const;

  service::KeyDirectory& directory_;
  PagesOptions options_;
  const UploadTokens& tokens_;
  // Verification is live only while the directory's mode confirms
  // addresses by mail (the mode can change while serving: keydird admin
  // set-mode; managed mode by operator token mails nothing).
  [[nodiscard]] service::Verification* verifier() const {
    return directory_.confirms_by_mail() ? verification_ : nullptr;
  }
  service::Verification* verification_;
};

// "0123ABCD…" → "0123 ABCD …" (groups of four).
std::string grouped_hex(std::string_view hex);

}  // namespace keydir::api
