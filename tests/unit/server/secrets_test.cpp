#include "server/secrets.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace keydir::server {
namespace {

TEST(OperatorTokenStrength, At128BitsByTheAlphabetOfTheToken) {
  struct Case {
    std::string token;
    bool ok;
  };
  const std::vector<Case> cases = {
      {"0123456789abcdef0123456789abcdef", true},    // 32 hex = 128 bits
      {"0123456789abcdef0123456789abcde", false},    // 31 hex = 124 bits
      {"0123456789ABCDEF0123456789abcdef", true},    // hex in both cases
      {"Zm9vYmFyYmF6cXV4MTIzNDU2", true},            // 24 base64 = 144 bits
      {"Zm9vYmFyYmF6cXV4MTIzNDU", true},             // 23
      {"Zm9vYmFyYmF6cXV4MTIzND", true},              // 22 = 132 bits
      {"Zm9vYmFyYmF6cXV4MTIzN", false},              // 21 = 126 bits
      {"Zm9vYmFyYmF6cXV4MTIzN=", false},             // padding does not count
      {"Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==", true},    // padded base64
      {"a-b.c_d~e+f/g0h1i2j3k4l5", true},            // every b64token sign
      {"0123456789abcdef", false},                   // the 16-character token
      {std::string(64, 'a'), false},                 // long, but one character
      {"abababababababababababababababab", false},   // two characters
      {"0123456789abcdef0123456789abcde\n", false},  // a line break
      {"0123456789abcdef 0123456789abcdef", false},  // a space
      {"0123456789abcdef:0123456789abcdef", false},  // not b64token
      {"", false},
      {"==", false},
  };
  for (const auto& c : cases) {
    auto r = check_operator_token(c.token, "test");
    EXPECT_EQ(static_cast<bool>(r), c.ok) << "[" << c.token << "]";
    if (!r) {
      // The reason names the source and never quotes the token.
      EXPECT_NE(r.error().detail.find("from test"), std::string::npos);
      if (c.token.size() >= 8) {
        EXPECT_EQ(r.error().detail.find(c.token), std::string::npos) << r.error().detail;
      }
    }
  }
  auto short_one = check_operator_token("0123456789abcdef", "KEYDIRD_OPERATOR_TOKEN");
  ASSERT_FALSE(short_one);
  EXPECT_NE(short_one.error().detail.find("too short: 16 characters carry at most 64 bits"),
            std::string::npos)
      << short_one.error().detail;
}

struct TempFile {
  std::filesystem::path path;
  TempFile(const std::string& text, std::filesystem::perms mode) {
    path = std::filesystem::temp_directory_path() /
           ("keydir-secret-" + std::to_string(::getpid()) + "-" +
            std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    std::ofstream(path) << text;
    std::filesystem::permissions(path, mode);
  }
  ~TempFile() { std::filesystem::remove(path); }
};

constexpr auto kOwnerOnly =
    std::filesystem::perms::owner_read | std::filesystem::perms::owner_write;

TEST(TokenFile, OneTokenALineWithCommentsAndBlankLines) {
  TempFile f("# operators\n0123456789abcdef0123456789abcdef\n\n  Zm9vYmFyYmF6cXV4MTIzNDU2  \r\n",
             kOwnerOnly | std::filesystem::perms::group_read);
  auto t = read_token_file(f.path.string());
  ASSERT_TRUE(t) << t.error().detail;
  EXPECT_EQ(*t, (std::vector<std::string>{"0123456789abcdef0123456789abcdef",
                                          "Zm9vYmFyYmF6cXV4MTIzNDU2"}));
}

TEST(TokenFile, RefusedWhenOpenToEveryoneEmptyMissingOrWeak) {
  TempFile open_to_all("0123456789abcdef0123456789abcdef\n",
                       kOwnerOnly | std::filesystem::perms::others_read);
  auto r = read_token_file(open_to_all.path.string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("open to every user (mode 0604): chmod 600"), std::string::npos)
      << r.error().detail;

  TempFile empty("# nothing\n\n", kOwnerOnly);
  r = read_token_file(empty.path.string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("holds no token"), std::string::npos);

  r = read_token_file("/nonexistent/keydir-tokens");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("cannot read"), std::string::npos);

  TempFile weak("0123456789abcdef0123456789abcdef\n0123456789abcdef\n", kOwnerOnly);
  r = read_token_file(weak.path.string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find(", line 2 is too short"), std::string::npos) << r.error().detail;
}

TEST(TokenEnv, SeparatedBySpacesOrCommas) {
  auto t = tokens_from_env(" 0123456789abcdef0123456789abcdef,Zm9vYmFyYmF6cXV4MTIzNDU2\n", "E");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->size(), 2u);
  auto weak = tokens_from_env("0123456789abcdef0123456789abcdef short", "E");
  ASSERT_FALSE(weak);
  EXPECT_NE(weak.error().detail.find("E (token 2)"), std::string::npos) << weak.error().detail;
}

TEST(SecretFile, FirstLineWithoutItsEnd) {
  TempFile f("s3cret pass\r\nignored\n", kOwnerOnly);
  auto p = read_secret_file(f.path.string());
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, "s3cret pass");
  TempFile open_to_all("x\n", kOwnerOnly | std::filesystem::perms::others_read);
  EXPECT_FALSE(read_secret_file(open_to_all.path.string()));
}

TEST(ScrubArguments, ValuesOfSecretOptionsBecomeStars) {
  std::vector<std::string> args = {"keydird",
                                   "serve",
                                   "--operator-token",
                                   "tok1",
                                   "tok2",
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--smtp-password=pw",
                                   "--operator-token-file",
                                   "/etc/keydir/tokens"};
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  EXPECT_TRUE(scrub_arguments(static_cast<int>(argv.size()), argv.data(),
                              {"--operator-token", "--smtp-password"}));
  EXPECT_STREQ(argv[3], "****");
  EXPECT_STREQ(argv[4], "****");
  EXPECT_STREQ(argv[6], "127.0.0.1:0");
  EXPECT_STREQ(argv[7], "--smtp-password=**");
  EXPECT_STREQ(argv[9], "/etc/keydir/tokens");  // a file name is no secret
}

}  // namespace
}  // namespace keydir::server
