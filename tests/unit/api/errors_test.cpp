// The one error surface: every ErrorCode has a status on every surface, the
// server's own failures are 5xx everywhere (503 where a retry may succeed)
// and never a client error, and a refused key is never answered as the
// server's failure.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "api/http/message.hpp"

namespace keydir::api {
namespace {

constexpr auto kLast = ErrorCode::AnswerDidNotVerify;  // the enum's last value

std::vector<ErrorCode> every_code() {
  std::vector<ErrorCode> out;
  for (int i = 0; i <= static_cast<int>(kLast); ++i) {
    out.push_back(static_cast<ErrorCode>(i));
  }
  return out;
}

bool servers_failure(ErrorCode c) {
  return c == ErrorCode::StorageIo || c == ErrorCode::StorageCorruption ||
         c == ErrorCode::Internal || c == ErrorCode::MailFailed ||
         c == ErrorCode::AnswerDidNotVerify;
}

TEST(ErrorSurface, EveryCodeHasANameAndAStatusOnEverySurface) {
  std::set<std::string> names;
  for (ErrorCode c : every_code()) {
    const std::string name(error_code_name(c));
    EXPECT_FALSE(name.empty()) << static_cast<int>(c);
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    for (Surface s : {Surface::Hkp, Surface::Upload, Surface::HkpV2, Surface::Vks}) {
      const int status = http_status(c, s);
      EXPECT_GE(status, 400) << name;
      EXPECT_LE(status, 599) << name;
      // 501 (an operation not implemented) is the one 5xx that is no failure.
      EXPECT_EQ(status == 500 || status == 503, servers_failure(c))
          << name << " on surface " << static_cast<int>(s);
    }
  }
}

TEST(ErrorSurface, EachSurfaceKeepsItsConvention) {
  for (ErrorCode c : every_code()) {
    const int table = http_status(c);
    if (servers_failure(c)) {
      // An upload may be retried: 503 on every upload surface.
      EXPECT_EQ(http_status(c, Surface::Upload), 503);
      EXPECT_EQ(http_status(c, Surface::HkpV2), 503);
      EXPECT_EQ(http_status(c, Surface::Vks), 503);
      continue;
    }
    EXPECT_EQ(http_status(c, Surface::Upload), table) << error_code_name(c);
    EXPECT_EQ(http_status(c, Surface::HkpV2), 422) << error_code_name(c);
    const int vks = http_status(c, Surface::Vks);
    EXPECT_TRUE(vks == 400 || vks == 413 || vks == 429) << error_code_name(c);
  }
  EXPECT_EQ(http_status(ErrorCode::PayloadTooLarge, Surface::Vks), 413);
  EXPECT_EQ(http_status(ErrorCode::RateLimited, Surface::Vks), 429);
  EXPECT_EQ(http_status(ErrorCode::BadSignature, Surface::Vks), 400);
  EXPECT_EQ(http_status(ErrorCode::BadSignature), 422);
  EXPECT_EQ(http_status(ErrorCode::Tombstoned), 410);
  EXPECT_EQ(http_status(ErrorCode::NotFound), 404);
  EXPECT_EQ(http_status(ErrorCode::StorageIo), 503);
  EXPECT_EQ(http_status(ErrorCode::Internal), 500);
  EXPECT_EQ(http_status(ErrorCode::UnsupportedOperation), 501);
}

TEST(ErrorSurface, MethodNotAllowedNamesTheMethods) {
  auto r = method_not_allowed("GET, HEAD");
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "GET, HEAD");
}

}  // namespace
}  // namespace keydir::api
