// Conformance over ../shared/testdata/MANIFEST.tsv (587 files from GnuPG,
// Sequoia, RNP, Hockeypuck, the interoperability suite and RFC 9580): our
// verdict for each file must match the expected keyserver verdict, except
// for the files listed in kDeliberate, each with the reason we differ.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "common/limits.hpp"
#include "openpgp/verify.hpp"
#include "test_data.hpp"

namespace keydir::openpgp {
namespace {

// Where keydir's policy differs from the manifest's rule-derived verdict.
const std::map<std::string, std::string> kDeliberate = {
    {"gnupg/bug1223-bogus.asc",
     "the forged direct-key signature is stripped; the user ID's self-signature is valid"},
    {"hockeypuck/badselfsig.asc",
     "the bad self-signatures are stripped; valid user IDs and subkeys remain (sq agrees)"},
    {"hockeypuck/cv448-v5-subkey.asc",
     "the v5 subkey is dropped; the v4 primary key and its user ID are valid"},
    {"gnupg/g10/pubring.asc", "keyring: its v4 certificates are valid, only the v2 one is refused"},
    {"gnupg/g10/t-keydb-get-keyblock.gpg",
     "keyring: the v4 certificate is kept after stripping, the v2 one is refused"},
    {"hockeypuck/sks_fail.asc",
     "the DSA key packet has 45 bytes after its material: malformed (sq refuses it too)"},
    {"hockeypuck/sks_fail_dup.asc", "same key packet as sks_fail.asc"},
    {"rnp/test_forged_keys/ecc-25519-pub-future-cert.pgp",
     "its only self-signature is dated in the future: not valid yet"},
    {"rnp/test_forged_keys/ecc-25519-pub-future-cert-malf-bind.pgp",
     "its only self-signature is dated in the future: not valid yet"},
    {"rnp/test_key_edge_cases/pubring-malf-cert.pgp",
     "keyring: malformed signature packets are dropped, the rest verifies (as Sequoia)"},
    {"rnp/test_key_edge_cases/pubring-malf-key0-sub0-bind.pgp",
     "keyring: the malformed binding is dropped with its subkey, the rest verifies"},
    {"rnp/test_key_edge_cases/pubring-malf-key0-sub0.pgp",
     "keyring: the malformed subkey is dropped, the rest verifies"},
    {"rnp/test_key_edge_cases/pubring-malf-key0.pgp",
     "keyring: the certificate with the malformed primary key is refused, the other is valid"},
    {"rnp/test_stream_armor/ecc-25519-pub-bad-crc.asc",
     "RFC 9580 §6.1: a wrong CRC-24 footer MUST NOT cause a rejection; the signatures verify "
     "(sq 0.27 accepts it too; the manifest follows gpg 2.2)"},
    {"rnp/test_stream_armor/wrong_chars_crc.asc",
     "RFC 9580 §6.1: a malformed CRC-24 footer MUST NOT cause a rejection; the data is a valid "
     "key"},
    {"rnp/test_large_MPIs/rsa-pub-16385bits.pgp",
     "RSA modulus above 16384 bits (limits::kMaxMpiBits; OpenSSL's own maximum)"},
};

struct Row {
  std::string path;
  std::string verdict;  // the part of expected_keyserver_verdict before ':'
};

std::vector<Row> read_manifest(const std::filesystem::path& dir) {
  std::ifstream in(dir / "MANIFEST.tsv");
  std::vector<Row> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::istringstream ls(line);
    std::string col;
    while (std::getline(ls, col, '\t')) {
      cols.push_back(col);
    }
    if (cols.size() < 6) {
      continue;
    }
    rows.push_back({cols[0], cols[5].substr(0, cols[5].find(':'))});
  }
  return rows;
}

std::string our_verdict(const Bytes& input) {
  auto r = verify_input(input, Policy{}, test::kNow, limits::kMaxImportCertBytes);
  if (!r) {
    return "reject";
  }
  std::size_t accepted = 0;
  for (const auto& v : *r) {
    accepted += v.accepted() ? 1 : 0;
  }
  if (accepted == r->size()) {
    return "accept";
  }
  return accepted == 0 ? "reject" : "partial";
}

bool matches(const std::string& expected, const std::string& got) {
  if (expected == "accept" || expected == "accept (policy)" ||
      expected == "accept-after-stripping") {
    return got == "accept";
  }
  if (expected == "accept-partially") {
    return got == "partial";
  }
  if (expected == "reject" || expected == "reject-standalone") {
    return got == "reject";
  }
  // accept-or-reject-by-policy: post-quantum drafts; keydir cannot verify
  // them, so it refuses them, but either verdict conforms.
  return expected == "accept-or-reject-by-policy";
}

TEST(Conformance, SharedCorpusVerdicts) {
  auto dir = test::shared_testdata();
  if (!dir) {
    GTEST_SKIP() << "../shared/testdata is absent: the conformance corpus was not run";
  }
  auto rows = read_manifest(*dir);
  ASSERT_GT(rows.size(), 500u);
  std::size_t agreed = 0;
  std::size_t deliberate = 0;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.path);
    std::string got = our_verdict(test::read_file(*dir / row.path));
    bool ok = matches(row.verdict, got);
    auto exception = kDeliberate.find(row.path);
    if (exception != kDeliberate.end()) {
      EXPECT_FALSE(ok) << "listed as a deliberate difference but now agrees; remove it";
      ++deliberate;
      continue;
    }
    EXPECT_TRUE(ok) << "expected " << row.verdict << ", got " << got;
    agreed += ok ? 1 : 0;
  }
  EXPECT_EQ(deliberate, kDeliberate.size());
  std::printf("conformance: %zu of %zu files agree, %zu deliberate differences\n", agreed,
              rows.size(), deliberate);
}

TEST(Conformance, SecretKeysAreNeverAccepted) {
  auto dir = test::shared_testdata();
  if (!dir) {
    GTEST_SKIP() << "../shared/testdata is absent: the conformance corpus was not run";
  }
  std::size_t n = 0;
  for (const auto& row : read_manifest(*dir)) {
    if (row.path.find("secret-keys-must-be-rejected") == std::string::npos) {
      continue;
    }
    ++n;
    auto r = verify_input(test::read_file(*dir / row.path), Policy{}, test::kNow,
                          limits::kMaxImportCertBytes);
    ASSERT_FALSE(r) << row.path;
  }
  EXPECT_GT(n, 100u);
}

}  // namespace
}  // namespace keydir::openpgp
