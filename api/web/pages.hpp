// The web pages: a search box and an upload form (/), results (/search),
// upload results (POST /upload) and /about, generated from the server's own
// settings. No external assets: one stylesheet and one small script served
// from /static/, so a strict Content-Security-Policy holds. Every page works
// without JavaScript; the script only adds conveniences (reading a chosen
// file into the text box, copying a fingerprint). Every piece of key data is
// escaped: a user ID is attacker-controlled text. The markup is in
// api/web/page_templates.hpp, rendered by web::render() (api/web/templates.hpp),
// which escapes every value and refuses unescaped tags.
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
};

class Pages {
 public:
  // `verification`: null in open mode.
  Pages(service::KeyDirectory& directory, PagesOptions options, const UploadTokens& tokens,
        service::Verification* verification);
  // Handles /, /search, /upload, /upload/verify, /verify/<token>, /manage,
  // /manage/<token>, /about and /static/*; nullopt for other paths.
  [[nodiscard]] std::optional<Reply> handle(const HttpRequest& request) const;

 private:
  [[nodiscard]] Reply home(std::string_view notice) const;
  [[nodiscard]] Reply search(const HttpRequest& request) const;
  [[nodiscard]] Reply upload(const HttpRequest& request) const;
  [[nodiscard]] Reply about(const HttpRequest& request) const;
  [[nodiscard]] Reply send_confirmations(const HttpRequest& request) const;
  [[nodiscard]] Reply verify(const HttpRequest& request, std::string_view token) const;
  [[nodiscard]] Reply manage(const HttpRequest& request) const;
  [[nodiscard]] Reply manage_key(const HttpRequest& request, std::string_view token) const;
  // The data of one card of templates::kCard.
  [[nodiscard]] web::View certificate_card(const openpgp::CertificateStates& vc) const;
  // The addresses an upload held and their states on the stored key, with a
  // form that mails confirmation links (templates::kAddressStates; only with
  // a verifier()). Never the stored key's other addresses.
  [[nodiscard]] web::View address_states(const service::Stored& stored) const;
  [[nodiscard]] Reply message_page(int status, std::string_view title, std::string_view text,
                                   bool error) const;

  service::KeyDirectory& directory_;
  PagesOptions options_;
  const UploadTokens& tokens_;
  // Verification is live only while the directory's mode verifies
  // addresses (the mode can change while serving: keydird admin set-mode).
  [[nodiscard]] service::Verification* verifier() const {
    return directory_.verifies_addresses() ? verification_ : nullptr;
  }
  service::Verification* verification_;
};

// "0123ABCD…" → "0123 ABCD …" (groups of four).
std::string grouped_hex(std::string_view hex);

}  // namespace keydir::api
