#include "server/tls_files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace keydir::server {

namespace {

tl::unexpected<Error> bad(std::string detail) {
  return fail(ErrorCode::BadQuery, std::move(detail));
}

// A file serve reads later (the TLS files): readable now. `label`: "--tls-key
// PATH" or "FILE:LINE:COL: tls-key = PATH".
Result<void> check_readable(const std::string& label, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return bad(label + ": cannot read: " + std::strerror(EISDIR));
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return bad(label + ": cannot read: " + std::strerror(errno));
  }
  std::fclose(f);
  return {};
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct FileClose {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

Result<void> check_tls_files(const std::string& cert_label, const std::string& cert_path,
                             const std::string& key_label, const std::string& key_path,
                             std::ostream& warnings) {
  if (auto ok = check_readable(cert_label, cert_path); !ok) {
    return ok;
  }
  if (auto ok = check_readable(key_label, key_path); !ok) {
    return ok;
  }
  std::unique_ptr<X509, X509Free> cert;
  {
    std::unique_ptr<std::FILE, FileClose> f(std::fopen(cert_path.c_str(), "rb"));
    cert.reset(f ? PEM_read_X509(f.get(), nullptr, nullptr, nullptr) : nullptr);
  }
  if (!cert) {
    return bad(cert_label +
               ": no PEM certificate in it (a file starting with -----BEGIN CERTIFICATE-----)");
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  {
    std::unique_ptr<std::FILE, FileClose> f(std::fopen(key_path.c_str(), "rb"));
    // An empty passphrase: an encrypted key fails here instead of asking on
    // the terminal.
    char empty[] = "";
    key.reset(f ? PEM_read_PrivateKey(f.get(), nullptr, nullptr, empty) : nullptr);
  }
  if (!key) {
    std::string text;
    {
      std::ifstream f(key_path, std::ios::binary);
      text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    if (text.find("ENCRYPTED") != std::string::npos) {
      return bad(key_label +
                 ": the private key is encrypted; keydird needs it without a passphrase "
                 "(openssl pkey -in KEY -out KEY.plain, then chmod 600)");
    }
    if (text.find("-----BEGIN CERTIFICATE-----") != std::string::npos) {
      return bad(key_label + ": holds a certificate, not the private key (swapped with " +
                 "tls-cert?)");
    }
    return bad(key_label +
               ": no PEM private key in it (a file starting with -----BEGIN PRIVATE KEY-----)");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return bad(key_label + ": not the private key of the certificate in " + cert_path);
  }
  ERR_clear_error();
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0) {
    warnings << "warning: " << cert_label
             << ": the certificate has expired: clients will refuse the connection; renew it\n";
  }
  return {};
}

namespace {
void fatal_alert_ends(const SSL* /*ssl*/, int where, int value) {
  if ((where & SSL_CB_ALERT) != 0 && (value >> 8) == SSL3_AL_FATAL) {
    errno = ECONNRESET;
  }
}
}  // namespace

void end_on_fatal_alert(void* ssl) {
  SSL_set_info_callback(static_cast<SSL*>(ssl), fatal_alert_ends);
}

bool tls_session_usable(void* ssl) {
  return SSL_is_init_finished(static_cast<SSL*>(ssl)) == 1;
}

}  // namespace keydir::server
