// Paths and loaders for test data: tests/data (made by gpg and sq, committed)
// and ../shared/testdata (the conformance corpus, may be absent).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "common/bytes.hpp"

namespace keydir::test {

inline std::filesystem::path data_dir() {
  return std::filesystem::path(KEYDIR_SOURCE_DIR) / "tests" / "data";
}

// ../shared/testdata next to the checkout, or $KEYDIR_SHARED_TESTDATA.
inline std::optional<std::filesystem::path> shared_testdata() {
  if (const char* env = std::getenv("KEYDIR_SHARED_TESTDATA")) {
    return std::filesystem::path(env);
  }
  auto p = std::filesystem::path(KEYDIR_SOURCE_DIR).parent_path() / "shared" / "testdata";
  if (std::filesystem::exists(p / "MANIFEST.tsv")) {
    return p;
  }
  return std::nullopt;
}

inline Bytes read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline Bytes fixture(const std::string& name) {
  return read_file(data_dir() / name);
}

// A fixed clock for tests: 2030-01-01T00:00:00Z, after every fixture was made
// (the fixtures were made in November 2026; regenerate them before 2030).
inline constexpr std::uint64_t kNow = 1893456000;

}  // namespace keydir::test
