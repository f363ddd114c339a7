#include "service/check.hpp"

#include "openpgp/canonical.hpp"
#include "service/store_access.hpp"

namespace keydir::service {

Result<CheckReport> check(const KeyDirectory& directory, bool deep) {
  CheckReport report;
  KEYDIR_TRY(report.store, directory.store_ref(StoreAccess{}).check());
  if (!deep) {
    return report;
  }
  constexpr std::size_t kMaxProblems = 100;
  auto problem = [&](std::string what) {
    ++report.problem_count;
    if (report.problems.size() < kMaxProblems) {
      report.problems.push_back(std::move(what));
    }
  };
  const auto now = directory.now();
  KEYDIR_CHECK(directory.store_ref(StoreAccess{}).for_each([&](const storage::CertRecord& r) {
    ++report.verified;
    const std::string name = r.fingerprint.to_hex();
    auto parsed = openpgp::parse_certificates(r.cert);
    if (!parsed || parsed->size() != 1 || !parsed->front().cert) {
      problem(name + ": stored bytes do not parse");
      return true;
    }
    if (openpgp::content_digest(*parsed->front().cert) != r.digest) {
      problem(name + ": digest does not match the stored bytes");
    }
    auto v = openpgp::verify(*parsed->front().cert, directory.options().policy, now);
    if (!v.accepted()) {
      problem(name + ": no longer accepted: " + v.refusal->detail);
      return true;
    }
    if (v.cert->fingerprint() != r.fingerprint) {
      problem(name + ": stored under another fingerprint");
    }
    // Open mode indexes every current user ID; Verified and Managed mode
    // the published addresses' ones (the store records its mode).
    if (directory.mode() == PublishMode::Managed) {
      auto published = directory.store_ref(StoreAccess{}).published(r.fingerprint);
      const auto domains = directory.mode_setting().managed_domains;
      for (const auto& a : published ? *published : std::vector<std::string>{}) {
        auto at = a.rfind('@');
        if (std::find(domains.begin(), domains.end(),
                      at == std::string::npos ? std::string() : a.substr(at + 1)) ==
            domains.end()) {
          problem(name + ": " + a + " is published outside the managed domains");
        }
      }
    }
    auto expected = directory.index_for(*v.cert);
    if (!expected) {
      problem(name + ": " + expected.error().detail);
    } else if (*expected != r.index) {
      problem(name + ": index differs from what the certificate implies in " +
              std::string(mode_name(directory.mode())) + " mode");
    }
    return true;
  }));
  return report;
}

}  // namespace keydir::service
