// Issue #16 part 4 through Api::dispatch: token-bearing paths are declared
// (and redacted for logs) in one place, and operator-token guessing is
// rate-limited per client address before the token is compared.
#include <gtest/gtest.h>

#include "api/http/secret_routes.hpp"
#include "api/router.hpp"
#include "requests.hpp"
#include "storage/memory_key_store.hpp"
#include "test_data.hpp"

namespace keydir::api {
namespace {

const std::string kOperatorToken = "0123456789abcdef0123456789abcdef";

TEST(SecretRoutes, TheTokenOfEveryTokenRouteIsRedactedAndOnlyThere) {
  for (auto route : {SecretRoute::Verify, SecretRoute::Manage}) {
    const std::string prefix(secret_prefix(route));
    const std::string path = prefix + "ybndrfg8ejkmcpqxot1uwisza3";
    EXPECT_EQ(path_secret(path, route), "ybndrfg8ejkmcpqxot1uwisza3");
    EXPECT_EQ(redact_path(path), prefix + "[redacted]");
    EXPECT_EQ(redact_path(path + "/more/and/more"), prefix + "[redacted]");
    EXPECT_EQ(redact_path(path).find("ybndrfg8"), std::string::npos);
  }
  EXPECT_EQ(redact_path("/verify/x"), "/verify/[redacted]");
  EXPECT_EQ(redact_path("/manage/x"), "/manage/[redacted]");
  // Paths without a secret stay whole (the log is still useful).
  for (const char* p : {"/", "/manage", "/verify", "/pks/lookup", "/upload/verify",
                        "/vks/v1/by-fingerprint/FC5D7A6980F7E484468DB87F65C71B0D2BE692AA",
                        "/.well-known/openpgpkey/hu/9ee39dq1zictybt7ncyswqsi1npqzhsa"}) {
    EXPECT_EQ(redact_path(p), p);
  }
  EXPECT_FALSE(path_secret("/manage", SecretRoute::Manage));
  EXPECT_FALSE(path_secret("/verify/x", SecretRoute::Manage));
}

struct ManagedEnv {
  std::unique_ptr<storage::MemoryKeyStore> store = std::make_unique<storage::MemoryKeyStore>();
  std::unique_ptr<service::KeyDirectory> directory;
  std::unique_ptr<Api> api;

  explicit ManagedEnv(double auth_per_minute = 30, double auth_burst = 10) {
    service::DirectoryOptions d;
    d.mode = service::PublishMode::Managed;
    d.managed_domains = {"keydir.test"};
    directory = std::make_unique<service::KeyDirectory>(*store, d, [] { return test::kNow; });
    ApiOptions o;
    o.add_per_minute = 0;
    o.token_secret = std::string(32, 'k');
    o.operator_tokens = {kOperatorToken};
    o.auth_per_minute = auth_per_minute;
    o.auth_burst = auth_burst;
    api = std::make_unique<Api>(*directory, o);
  }
  Reply add(const std::string& client, const std::string& authorization) const {
    HttpRequest r;
    r.method = "POST";
    r.path = "/pks/add";
    r.content_type = "application/x-www-form-urlencoded";
    r.body = "keytext=";
    r.client = client;
    r.authorization = authorization;
    return api->dispatch(r);
  }
};

using testing::header;

TEST(OperatorToken, GuessesFromOneAddressGet429AfterTheBurstAndTheRightTokenToo) {
  ManagedEnv env;
  int unauthorized = 0;
  int limited = 0;
  int first_limited = -1;
  for (int i = 0; i < 300; ++i) {
    Reply r = env.add("192.0.2.7", "Bearer wrong" + std::to_string(i));
    if (r.status == 401) {
      ++unauthorized;
    } else if (r.status == 429) {
      if (first_limited < 0) {
        first_limited = i;
        EXPECT_NE(header(r, "Retry-After"), "");
      }
      ++limited;
    }
  }
  EXPECT_EQ(unauthorized, 10);  // the burst
  EXPECT_EQ(first_limited, 10);
  EXPECT_EQ(limited, 290);
  // The locked-out address learns nothing from a right guess.
  EXPECT_EQ(env.add("192.0.2.7", "Bearer " + kOperatorToken).status, 429);
  // Another address with the right token is an operator (400: the empty
  // upload itself, past the token check).
  Reply ok = env.add("192.0.2.8", "Bearer " + kOperatorToken);
  EXPECT_NE(ok.status, 401);
  EXPECT_NE(ok.status, 429);
  // Without any Authorization header nothing is guessed: 401, never 429.
  EXPECT_EQ(env.add("192.0.2.7", "").status, 401);
}

TEST(OperatorToken, TheLimitCanBeTurnedOff) {
  ManagedEnv env(0, 0);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(env.add("192.0.2.7", "Bearer wrong").status, 401);
  }
}

}  // namespace
}  // namespace keydir::api
