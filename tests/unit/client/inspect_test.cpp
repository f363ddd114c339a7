#include "client/inspect.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "test_data.hpp"

namespace keydir::client {
namespace {

TEST(Inspect, JsonDocumentHasTheDocumentedFields) {
  auto report = inspect(test::fixture("gpg-multi.asc"), {}, test::kNow);
  EXPECT_EQ(report.exit_code(), kExitOk);
  auto j = to_json(report, test::kNow);
  ASSERT_EQ(j["certificates"].size(), 1u);
  const auto& c = j["certificates"][0];
  EXPECT_EQ(c["verdict"], "accepted");
  EXPECT_TRUE(c["refusal"].is_null());
  EXPECT_EQ(c["fingerprint"].get<std::string>().size(), 40u);
  EXPECT_EQ(c["key_id"].get<std::string>().size(), 16u);
  EXPECT_EQ(c["version"], 4);
  EXPECT_EQ(c["algorithm"], "EdDSALegacy");
  EXPECT_EQ(c["curve"], "Ed25519");
  EXPECT_EQ(c["revoked"], false);
  EXPECT_EQ(c["user_ids"].size(), 3u);
  EXPECT_EQ(c["subkeys"].size(), 2u);
  for (const char* k : {"created", "expires", "expired", "flags", "stripped", "size"}) {
    EXPECT_TRUE(c.contains(k)) << k;
  }
  int revoked = 0;
  for (const auto& u : c["user_ids"]) {
    EXPECT_TRUE(u["email"].is_string());
    revoked += u["revoked"].get<bool>() ? 1 : 0;
  }
  EXPECT_EQ(revoked, 1);
  EXPECT_EQ(j["summary"]["accepted"], 1);
  EXPECT_TRUE(j["error"].is_null());
}

TEST(Inspect, RefusalsCarryCodeAndReason) {
  auto tampered = inspect(test::fixture("tampered-sig.pgp"), {}, test::kNow);
  EXPECT_EQ(tampered.exit_code(), kExitRefused);
  auto j = to_json(tampered, test::kNow);
  EXPECT_EQ(j["certificates"][0]["verdict"], "refused");
  EXPECT_EQ(j["certificates"][0]["refusal"]["code"], "no_valid_components");
  EXPECT_FALSE(j["certificates"][0]["stripped"].empty());

  auto secret = inspect(test::fixture("gpg-secret-key.asc"), {}, test::kNow);
  EXPECT_EQ(secret.exit_code(), kExitRefused);
  EXPECT_EQ(to_json(secret, test::kNow)["error"]["code"], "secret_key_refused");
  std::ostringstream text;
  print_text(text, secret, test::kNow);
  EXPECT_NE(text.str().find("secret key material"), std::string::npos);
}

TEST(Inspect, TextNamesEverything) {
  auto report = inspect(test::fixture("gpg-third-party.asc"), {}, test::kNow);
  std::ostringstream out;
  print_text(out, report, test::kNow);
  std::string s = out.str();
  for (const char* want :
       {"accepted", "fingerprint", "user ID", "subkey", "stripped", "third-party"}) {
    EXPECT_NE(s.find(want), std::string::npos) << want;
  }
}

}  // namespace
}  // namespace keydir::client
