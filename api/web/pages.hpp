// The web pages: a search box and an upload form (/), results (/search),
// upload results (POST /upload) and /about, generated from the server's own
// settings. No external assets: one stylesheet and one small script served
// from /static/, so a strict Content-Security-Policy holds. Every page works
// without JavaScript; the script only adds conveniences (reading a chosen
// file into the text box, copying a fingerprint). Every piece of key data is
// escaped: a user ID is attacker-controlled text.
#pragma once

#include <string>
#include <vector>

#include "api/hkp/hkp.hpp"
#include "api/http/message.hpp"
#include "service/key_directory.hpp"

namespace keydir::api {

struct PagesOptions {
  std::string site_name = "keydir";
  bool tls = false;                      // keydird serves HTTPS itself
  std::vector<std::string> wkd_domains;  // for /about
  std::size_t max_results = 100;
};

class Pages {
 public:
  Pages(service::KeyDirectory& directory, PagesOptions options);
  // Handles /, /search, /upload, /about and /static/*; nullopt for other paths.
  [[nodiscard]] std::optional<Reply> handle(const HttpRequest& request) const;

 private:
  [[nodiscard]] Reply home(std::string_view notice) const;
  [[nodiscard]] Reply search(const HttpRequest& request) const;
  [[nodiscard]] Reply upload(const HttpRequest& request) const;
  [[nodiscard]] Reply about(const HttpRequest& request) const;
  [[nodiscard]] std::string certificate_card(const openpgp::VerifiedCertificate& vc) const;

  service::KeyDirectory& directory_;
  PagesOptions options_;
};

// "0123ABCD…" → "0123 ABCD …" (groups of four).
std::string grouped_hex(std::string_view hex);

}  // namespace keydir::api
