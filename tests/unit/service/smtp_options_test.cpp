// The SMTP settings keydird refuses at startup (issue #16 part 4).
#include <gtest/gtest.h>

#include "service/verification.hpp"

namespace keydir::service {
namespace {

SmtpOptions options(std::string url, std::string user = "", std::string password = "",
                    bool insecure_loopback = false) {
  SmtpOptions o;
  o.url = std::move(url);
  o.from = "keys@keydir.test";
  o.user = std::move(user);
  o.password = std::move(password);
  o.insecure_loopback = insecure_loopback;
  return o;
}

TEST(SmtpOptions, AcceptedCombinations) {
  EXPECT_TRUE(check_smtp_options(options("smtp://127.0.0.1:25")));
  EXPECT_TRUE(check_smtp_options(options("smtp://relay.example.org:587", "keys", "pw")));
  EXPECT_TRUE(check_smtp_options(options("smtps://relay.example.org:465", "keys", "pw")));
  EXPECT_TRUE(check_smtp_options(options("SMTP://relay.example.org", "keys", "pw")));
  for (const char* loopback :
       {"smtp://127.0.0.1:25", "smtp://[::1]:25", "smtp://localhost", "smtp://LOCALHOST:2525/"}) {
    EXPECT_TRUE(check_smtp_options(options(loopback, "keys", "pw", true))) << loopback;
  }
}

TEST(SmtpOptions, RefusedCombinationsSayWhy) {
  struct Case {
    SmtpOptions o;
    const char* why;
  };
  const std::vector<Case> cases = {
      {options("smtp://relay.example.org", "keys", "pw", true), "not relay.example.org"},
      {options("smtp://127.0.0.2:25", "keys", "pw", true), "only for a relay on 127.0.0.1"},
      {options("smtp://[::2]:25", "keys", "pw", true), "not ::2"},
      {options("smtp://localhost.evil.example", "keys", "pw", true), "not localhost.evil"},
      {options("smtp://keys:pw@relay.example.org"), "must not hold a login"},
      {options("relay.example.org:25"), "must start with smtp://"},
      {options("http://relay.example.org"), "must start with smtp://"},
      {options("smtp://relay.example.org", "", "pw"), "password without --smtp-user"},
  };
  for (const auto& c : cases) {
    auto r = check_smtp_options(c.o);
    ASSERT_FALSE(r) << c.o.url;
    EXPECT_NE(r.error().detail.find(c.why), std::string::npos) << r.error().detail;
  }
}

}  // namespace
}  // namespace keydir::service
