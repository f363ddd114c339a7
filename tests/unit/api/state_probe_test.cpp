// Issue #16 item 3, "nothing reveals what the owner did not publish": in
// verified mode an attacker fetches a key by fingerprint (its unpublished
// user IDs withheld), uploads it back through the VKS API and the web form,
// asks for confirmation mails, and probes lookups of a withheld address
// against a never-seen one. Through Api::dispatch on a MemoryKeyStore.
#include <gtest/gtest.h>

#include <cctype>
#include <functional>

#include <nlohmann/json.hpp>

#include "api/router.hpp"
#include "openpgp/certificate.hpp"
#include "openpgp/identifiers.hpp"
#include "requests.hpp"
#include "service/verification.hpp"
#include "storage/memory_key_store.hpp"
#include "test_data.hpp"

namespace keydir::api {
namespace {

using nlohmann::json;

// gpg-multi: multi@, second@ and gone@keydir.test (gone@ revoked).
const openpgp::Fingerprint kMulti =
    *openpgp::Fingerprint::from_hex("FC5D7A6980F7E484468DB87F65C71B0D2BE692AA");

class FakeMailer final : public service::Mailer {
 public:
  Result<void> send(const service::MailMessage& m) override {
    sent.push_back(m);
    return {};
  }
  std::vector<service::MailMessage> sent;
};

struct Env {
  std::unique_ptr<storage::MemoryKeyStore> store = std::make_unique<storage::MemoryKeyStore>();
  std::unique_ptr<service::KeyDirectory> directory;
  FakeMailer mailer;
  std::unique_ptr<service::Verification> verification;
  std::unique_ptr<Api> api;
  std::uint64_t now = test::kNow;

  Env() {
    service::DirectoryOptions d;
    d.mode = service::PublishMode::Verified;
    directory = std::make_unique<service::KeyDirectory>(*store, d, [this] { return now; });
    verification =
        std::make_unique<service::Verification>(*directory, mailer, service::VerificationOptions{});
    ApiOptions o;
    o.add_per_minute = 0;
    o.wkd.domains = {"keydir.test"};
    o.token_secret = std::string(32, 'k');
    o.verification = verification.get();
    api = std::make_unique<Api>(*directory, o);
  }
  // The owner: uploads gpg-multi and publishes multi@ (second@ stays
  // unpublished, gone@ is revoked).
  void owner_publishes_multi() {
    ASSERT_TRUE(directory->upload(test::fixture("gpg-multi.asc")));
    ASSERT_TRUE(directory->set_published(kMulti, {"multi@keydir.test"}, {}));
  }
  Reply get(std::string path, std::vector<std::pair<std::string, std::string>> query = {},
            std::string host = "keydir.test") const {
    return api->dispatch(
        testing::get_request(std::move(path), std::move(host), std::move(query), "192.0.2.7"));
  }
  Reply post(std::string path, std::string content_type, std::string body) const {
    return api->dispatch(testing::post_request(std::move(path), std::move(content_type),
                                               std::move(body), "192.0.2.7"));
  }
  // What the attacker gets: the key by fingerprint, as HKP serves it.
  std::string public_copy() const {
    Reply r = get("/pks/lookup", {{"op", "get"}, {"search", "0x" + kMulti.to_hex()}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }
  Reply vks_upload(const std::string& armored) const {
    return post("/vks/v1/upload", "application/json", json{{"keytext", armored}}.dump());
  }
  Reply request_verify(const std::string& token, const std::string& address) const {
    return post("/vks/v1/request-verify", "application/json",
                json{{"token", token}, {"addresses", {address}}}.dump());
  }
};

std::string form_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_') {
      out.push_back(ch);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string form_token(const std::string& html) {
  const std::string marker = "name=\"token\" value=\"";
  auto at = html.find(marker);
  if (at == std::string::npos) {
    return "";
  }
  at += marker.size();
  return html.substr(at, html.find('"', at) - at);
}

TEST(StateProbe, VksUploadOfTheFetchedKeyNamesNoWithheldAddress) {
  Env env;
  env.owner_publishes_multi();
  Reply r = env.vks_upload(env.public_copy());
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["key_fpr"], kMulti.to_hex());
  // The fetched copy holds multi@ only: the answer speaks of nothing else.
  EXPECT_EQ(j["status"], (json{{"multi@keydir.test", "published"}}));
  EXPECT_EQ(r.body.find("second@"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("gone@"), std::string::npos) << r.body;

  // Its token reaches no address the upload did not hold, with the same
  // answer for a withheld address, a revoked one and one the key never had.
  const std::string token = j["token"];
  std::vector<std::string> answers;
  for (const char* a : {"second@keydir.test", "gone@keydir.test", "never@keydir.test"}) {
    Reply v = env.request_verify(token, a);
    EXPECT_EQ(v.status, 400) << a << ": " << v.body;
    answers.push_back(json::parse(v.body)["error"].get<std::string>());
    EXPECT_EQ(answers.back(), "the upload did not contain the address " + std::string(a));
  }
  EXPECT_TRUE(env.mailer.sent.empty());
  // The address it held: already published, so no mail either.
  Reply ok = env.request_verify(token, "multi@keydir.test");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["status"], (json{{"multi@keydir.test", "published"}}));
  EXPECT_TRUE(env.mailer.sent.empty());
}

TEST(StateProbe, TheOwnersUploadNamesItsAddressesAndPendingIsNeverStored) {
  Env env;
  Reply r = env.vks_upload(std::string(as_chars(test::fixture("gpg-multi.asc"))));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["status"], (json{{"multi@keydir.test", "unpublished"},
                               {"second@keydir.test", "unpublished"},
                               {"gone@keydir.test", "revoked"}}));
  Reply v = env.request_verify(j["token"], "second@keydir.test");
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_EQ(json::parse(v.body)["status"], (json{{"second@keydir.test", "pending"}}));
  ASSERT_EQ(env.mailer.sent.size(), 1u);
  EXPECT_EQ(env.mailer.sent[0].to, "second@keydir.test");
  // The next upload does not tell whether a mail is out.
  Reply again = env.vks_upload(std::string(as_chars(test::fixture("gpg-multi.asc"))));
  EXPECT_EQ(json::parse(again.body)["status"]["second@keydir.test"], "unpublished");
}

TEST(StateProbe, TokensOfOneKeyDoNotReachAnotherKeysAddresses) {
  Env env;
  env.owner_publishes_multi();
  // A token for multi@ on gpg-multi, with the fingerprint bytes of another
  // key spliced in, fails its MAC.
  json j = json::parse(env.vks_upload(env.public_copy()).body);
  std::string token = j["token"];
  token.replace(4, 2, token.substr(4, 2) == "00" ? "01" : "00");
  Reply v = env.request_verify(token, "multi@keydir.test");
  EXPECT_EQ(v.status, 400);
  EXPECT_EQ(json::parse(v.body)["error"], "invalid upload token");
  // Tokens of the earlier format (the key only, every address) are refused.
  std::string old = j["token"];
  old.replace(0, 2, "01");
  EXPECT_EQ(json::parse(env.request_verify(old, "multi@keydir.test").body)["error"],
            "invalid upload token");
  EXPECT_TRUE(env.mailer.sent.empty());
}

TEST(StateProbe, UploadPageOfTheFetchedKeyNamesNoWithheldAddress) {
  Env env;
  env.owner_publishes_multi();
  Reply r = env.post("/upload", "application/x-www-form-urlencoded",
                     "keytext=" + form_encode(env.public_copy()));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("multi@keydir.test"), std::string::npos);
  EXPECT_EQ(r.body.find("second@"), std::string::npos);
  EXPECT_EQ(r.body.find("gone@"), std::string::npos);
  const std::string token = form_token(r.body);
  ASSERT_FALSE(token.empty()) << r.body;
  Reply v = env.post("/upload/verify", "application/x-www-form-urlencoded",
                     "token=" + token + "&address=second%40keydir.test");
  EXPECT_EQ(v.status, 400);
  EXPECT_NE(v.body.find("The upload did not contain the address second@keydir.test."),
            std::string::npos);
  Reply n = env.post("/upload/verify", "application/x-www-form-urlencoded",
                     "token=" + token + "&address=never%40keydir.test");
  EXPECT_EQ(n.status, 400);
  EXPECT_NE(n.body.find("The upload did not contain the address never@keydir.test."),
            std::string::npos);
  EXPECT_TRUE(env.mailer.sent.empty());
}

TEST(StateProbe, UploadPageOfTheOwnerOffersItsOwnAddresses) {
  Env env;
  std::string armored(as_chars(test::fixture("gpg-multi.asc")));
  Reply r =
      env.post("/upload", "application/x-www-form-urlencoded", "keytext=" + form_encode(armored));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("value=\"second@keydir.test\" checked"), std::string::npos);
  Reply v = env.post("/upload/verify", "application/x-www-form-urlencoded",
                     "token=" + form_token(r.body) + "&address=second%40keydir.test");
  EXPECT_EQ(v.status, 200) << v.body;
  ASSERT_EQ(env.mailer.sent.size(), 1u);
  EXPECT_EQ(env.mailer.sent[0].to, "second@keydir.test");
}

void expect_same(const Reply& withheld, const Reply& never, const std::string& what) {
  EXPECT_EQ(withheld.status, never.status) << what;
  EXPECT_EQ(withheld.content_type, never.content_type) << what;
  EXPECT_EQ(withheld.body, never.body) << what;
  EXPECT_EQ(withheld.headers, never.headers) << what;
}

TEST(StateProbe, LookupsOfAWithheldAndANeverSeenAddressAnswerAlike) {
  Env env;
  env.owner_publishes_multi();
  // A pending confirmation for second@ too: still nothing to see.
  ASSERT_TRUE(env.verification->request(kMulti, {"second@keydir.test"}, "owner"));
  const std::string withheld = "second@keydir.test";
  const std::string never = "never@keydir.test";
  auto wkd = [](const std::string& a) {
    return "/.well-known/openpgpkey/hu/" + openpgp::WkdHash::of(*openpgp::Email::parse(a)).hash();
  };
  for (const auto& [what, ask] :
       std::vector<std::pair<std::string, std::function<Reply(const std::string&)>>>{
           {"HKP get",
            [&](const std::string& a) {
              return env.get("/pks/lookup", {{"op", "get"}, {"search", a}});
            }},
           {"HKP index",
            [&](const std::string& a) {
              return env.get("/pks/lookup", {{"op", "index"}, {"options", "mr"}, {"search", a}});
            }},
           {"HKP vindex",
            [&](const std::string& a) {
              return env.get("/pks/lookup", {{"op", "vindex"}, {"search", a}});
            }},
           {"VKS by-email", [&](const std::string& a) { return env.get("/vks/v1/by-email/" + a); }},
           {"HKPv2 by-identity",
            [&](const std::string& a) { return env.get("/pks/v2/certs/by-identity/" + a); }},
           {"HKPv2 index", [&](const std::string& a) { return env.get("/pks/v2/index/" + a); }},
           {"WKD",
            [&](const std::string& a) {
              return env.get(wkd(a), {{"l", a.substr(0, a.find('@'))}});
            }},
       }) {
    Reply w = ask(withheld);
    Reply n = ask(never);
    EXPECT_EQ(w.status, 404) << what << ": " << w.body;
    // Bodies name the query at most; put the same name in both.
    std::string nb = n.body;
    for (auto at = nb.find(never); at != std::string::npos; at = nb.find(never, at)) {
      nb.replace(at, never.size(), withheld);
    }
    n.body = nb;
    expect_same(w, n, what);
  }
  // The web search, with the address in the page: compare with it swapped.
  Reply w = env.get("/search", {{"q", withheld}});
  Reply n = env.get("/search", {{"q", never}});
  std::string nb = n.body;
  for (auto at = nb.find(never); at != std::string::npos; at = nb.find(never, at)) {
    nb.replace(at, never.size(), withheld);
  }
  EXPECT_EQ(w.status, n.status);
  EXPECT_EQ(w.body, nb);
}

TEST(StateProbe, ByFingerprintAnswersCountNoWithheldUserIds) {
  Env env;
  env.owner_publishes_multi();
  Reply r = env.get("/pks/lookup", {{"op", "get"}, {"search", "0x" + kMulti.to_hex()}});
  ASSERT_EQ(r.status, 200);
  // One Comment, the same for every key: never "2 user ID(s) withheld".
  EXPECT_NE(r.body.find("Comment: only user IDs whose owners confirmed their addresses by "
                        "e-mail\n"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("withheld"), std::string::npos) << r.body;
  Reply v = env.get("/vks/v1/by-fingerprint/" + kMulti.to_hex());
  EXPECT_EQ(v.body, r.body);
  // The key card says what the directory shows, without a number.
  Reply page = env.get("/search", {{"q", "0x" + kMulti.to_hex()}});
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("This directory shows only the user IDs whose addresses their owners "
                           "have confirmed by e-mail."),
            std::string::npos);
  EXPECT_EQ(page.body.find("not shown"), std::string::npos);
  EXPECT_EQ(page.body.find("second@"), std::string::npos);
}

}  // namespace
}  // namespace keydir::api
