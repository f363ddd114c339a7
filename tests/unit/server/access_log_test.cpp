#include "server/access_log.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace keydir::server {
namespace {

std::filesystem::path temp_file(const char* name) {
  auto p = std::filesystem::temp_directory_path() /
           (std::string(name) + "-" + std::to_string(::getpid()) + ".log");
  std::filesystem::remove(p);
  return p;
}

std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) {
    out.push_back(l);
  }
  return out;
}

TEST(AccessLog, EveryLineFromEveryThreadArrivesWholeWhenClosed) {
  auto path = temp_file("keydir-access");
  {
    auto log = AccessLog::open(path.string());
    ASSERT_TRUE(log);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 5000; ++i) {
          (*log)->write("GET /pks/lookup?op=get&search=0x" + std::to_string(t) + "-" +
                        std::to_string(i) + " 404 13 12us");
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
  }
  auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 20000u);
  const std::regex shape(
      R"(\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] \[access\] GET /pks/lookup\?op=get&search=0x\d-\d+ 404 13 12us)");
  std::size_t bad = 0;
  for (const auto& l : lines) {
    bad += std::regex_match(l, shape) ? 0 : 1;
  }
  EXPECT_EQ(bad, 0u);
  std::filesystem::remove(path);
}

TEST(AccessLog, TheFlusherWritesALineOutWithoutMoreTraffic) {
  // The flusher runs every second in keydird; here every 20 ms, and the test
  // waits for the line (up to 5 s) instead of sleeping past the period.
  auto path = temp_file("keydir-access-idle");
  auto log = AccessLog::open(path.string(), std::chrono::milliseconds(20));
  ASSERT_TRUE(log);
  (*log)->write("GET /healthz 200 3 5us");
  std::vector<std::string> lines;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((lines = lines_of(path)).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("GET /healthz 200 3 5us"), std::string::npos);
  log->reset();
  std::filesystem::remove(path);
}

TEST(AccessLog, AnUnwritableTargetIsAnError) {
  auto log = AccessLog::open("/nonexistent-dir/keydir/access.log");
  ASSERT_FALSE(log);
  EXPECT_NE(log.error().detail.find("cannot open the access log"), std::string::npos);
}

}  // namespace
}  // namespace keydir::server
