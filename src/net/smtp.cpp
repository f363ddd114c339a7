#include "net/smtp.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace keydir::net {

namespace {

struct Reader {
  const std::string& data;
  std::size_t at = 0;
};

std::size_t read_mail(char* buffer, std::size_t size, std::size_t nitems, void* user) {
  auto* r = static_cast<Reader*>(user);
  std::size_t n = std::min(size * nitems, r->data.size() - r->at);
  std::memcpy(buffer, r->data.data() + r->at, n);
  r->at += n;
  return n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};

}  // namespace

Result<void> send_mail(const SmtpDelivery& d) {
  std::unique_ptr<CURL, CurlDeleter> c(curl_easy_init());
  if (!c) {
    return fail(ErrorCode::MailFailed, "cannot start the mail client");
  }
  std::string from = "<" + d.from + ">";
  std::unique_ptr<curl_slist, SlistDeleter> rcpt(
      curl_slist_append(nullptr, ("<" + d.to + ">").c_str()));
  char error[CURL_ERROR_SIZE] = {0};
  Reader reader{d.data};
  CURL* h = c.get();
  curl_easy_setopt(h, CURLOPT_URL, d.url.c_str());
  std::string scheme = d.url.substr(0, std::min<std::size_t>(d.url.size(), 8));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (scheme != "smtps://") {
    curl_easy_setopt(h, CURLOPT_USE_SSL,
                     static_cast<long>(d.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
  }
  if (!d.user.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, d.user.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, d.password.c_str());
  }
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(h, CURLOPT_READFUNCTION, read_mail);
  curl_easy_setopt(h, CURLOPT_READDATA, &reader);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, d.connect_timeout);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, d.timeout);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_OK) {
    return {};
  }
  std::string why = error[0] ? std::string(error) : std::string(curl_easy_strerror(rc));
  if (rc == CURLE_USE_SSL_FAILED && d.require_tls) {
    why = "the relay does not offer STARTTLS (" + why +
          "), and a login is configured: the login is never sent in clear text "
          "(use smtps://, a relay with STARTTLS, or smtp-insecure-loopback for a relay on "
          "this host)";
  }
  return fail(ErrorCode::MailFailed, why);
}

}  // namespace keydir::net
