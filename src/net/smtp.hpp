// Outgoing mail through libcurl: one message to one recipient over SMTP with
// STARTTLS (smtp://) or TLS (smtps://). The message is already formatted
// (headers, CRLF line ends); a line that is a lone "." is stuffed here.
#pragma once

#include <string>

#include "common/result.hpp"

namespace keydir::net {

struct SmtpDelivery {
  std::string url;  // smtp://HOST[:PORT] or smtps://HOST[:PORT]
  std::string user;
  std::string password;
  // STARTTLS must succeed (with a login: never credentials in clear text);
  // otherwise it is taken when offered.
  bool require_tls = false;
  long connect_timeout = 10;  // seconds
  long timeout = 20;          // seconds, whole delivery
  std::string from;           // envelope sender, a bare address
  std::string to;             // envelope recipient, a bare address
  std::string data;           // the message: headers, empty line, body
};

// MailFailed with the relay's reason in one line.
Result<void> send_mail(const SmtpDelivery& delivery);

}  // namespace keydir::net
