// Replays the fuzz corpus and every crash the fuzzer ever found
// (tests/fuzz/regressions/certificate) through the same code, with g++.
#include <gtest/gtest.h>

#include <filesystem>

#include "../../fuzz/fuzz_certificate_body.hpp"
#include "test_data.hpp"

namespace keydir::openpgp {
namespace {

TEST(FuzzRegressions, CorpusAndRegressionsRunClean) {
  std::size_t n = 0;
  auto root = std::filesystem::path(KEYDIR_SOURCE_DIR) / "tests" / "fuzz";
  for (const char* dir : {"corpus/certificate", "regressions/certificate"}) {
    for (const auto& e : std::filesystem::directory_iterator(root / dir)) {
      Bytes data = test::read_file(e.path());
      fuzz::fuzz_certificate(data.data(), data.size());
      ++n;
    }
  }
  EXPECT_GT(n, 10u);
}

}  // namespace
}  // namespace keydir::openpgp
