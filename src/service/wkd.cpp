#include "service/wkd.hpp"

#include <filesystem>
#include <fstream>
#include <map>

#include "openpgp/canonical.hpp"
#include "service/store_access.hpp"

namespace keydir::service {

namespace fs = std::filesystem;

namespace {

// The address of a user ID, when it hashes to `hash` (same domain, same
// lower-cased local part).
bool matches(const openpgp::UserIdBundle& u, const openpgp::WkdHash& hash) {
  auto email = openpgp::Email::from_user_id(as_chars(u.body));
  return email && openpgp::WkdHash::of(*email) == hash;
}

// `vc` reduced to its current user IDs that `keep` accepts; nullopt if none.
std::optional<openpgp::Certificate> current_user_ids(
    const openpgp::CertificateStates& vc,
    const std::function<bool(const openpgp::UserIdBundle&)>& keep) {
  const auto& c = vc.cert();
  std::size_t kept = 0;
  auto reduced = openpgp::with_user_ids(c, [&](std::size_t i, const openpgp::UserIdBundle& u) {
    bool ok = !vc.user_id_states()[i].revocation && keep(u);
    kept += ok ? 1 : 0;
    return ok;
  });
  if (kept == 0) {
    return std::nullopt;
  }
  return reduced;
}

Result<void> write_file(const fs::path& path, ByteView data) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  f.close();
  if (ec || !f) {
    return fail(ErrorCode::StorageIo, "cannot write " + path.string());
  }
  return {};
}

}  // namespace

std::string default_wkd_policy(std::string_view domain) {
  return "# OpenPGP Web Key Directory of " + std::string(domain) + ", served by keydir.\n";
}

namespace {

Result<Bytes> wkd_answer(const KeyDirectory& directory, const openpgp::WkdHash& hash,
                         std::size_t limit, std::uint64_t* certificates, bool whole = false) {
  const storage::Query query{storage::Query::ByWkd{hash}};
  KEYDIR_TRY(auto records,
             whole ? directory.lookup_published(query, limit) : directory.lookup(query, limit));
  Bytes out;
  for (const auto& rec : records) {
    if (whole) {
      out.insert(out.end(), rec.cert.begin(), rec.cert.end());
      continue;
    }
    auto vc = directory.summarize(rec);
    if (!vc) {
      continue;
    }
    auto reduced =
        current_user_ids(*vc, [&](const openpgp::UserIdBundle& u) { return matches(u, hash); });
    if (reduced) {
      Bytes b = openpgp::serialize(*reduced);
      out.insert(out.end(), b.begin(), b.end());
      if (certificates) {
        ++*certificates;
      }
    }
  }
  return out;
}

}  // namespace

Result<Bytes> wkd_lookup(const KeyDirectory& directory, const openpgp::WkdHash& hash,
                         std::size_t limit, bool whole) {
  return wkd_answer(directory, hash, limit, nullptr, whole);
}

Result<WkdExportSummary> wkd_export(const KeyDirectory& directory, std::string_view domain_in,
                                    const std::string& out_dir, std::string_view policy,
                                    std::size_t limit) {
  // Addresses' domains are lower-case A-labels (openpgp::normalize_domain).
  auto normal = openpgp::normalize_domain(domain_in);
  if (!normal) {
    return fail(ErrorCode::BadQuery, "not a domain name: " + std::string(domain_in) + " (" +
                                         normal.error().detail + ")");
  }
  const std::string& domain = *normal;
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_empty(out_dir, ec)) {
    return fail(ErrorCode::StorageIo, out_dir + " is not empty");
  }
  // The hashes the index holds for the domain: in Verified and Managed mode
  // only published addresses are indexed. Each file is then exactly what the
  // live WKD answers for its hash (wkd_lookup), whatever the mode.
  std::map<std::string, openpgp::WkdHash> hashes;
  KEYDIR_CHECK(directory.store_ref(StoreAccess{}).for_each([&](const storage::CertRecord& rec) {
    for (const auto& w : rec.index.wkd) {
      if (w.domain() == domain) {
        hashes.emplace(w.hash(), w);
      }
    }
    return true;
  }));
  std::map<std::string, Bytes> files;
  WkdExportSummary summary;
  for (const auto& [name, hash] : hashes) {
    KEYDIR_TRY(auto answer, wkd_answer(directory, hash, limit, &summary.certificates));
    if (!answer.empty()) {
      files.emplace(name, std::move(answer));
    }
  }
  const fs::path root = fs::path(out_dir) / ".well-known" / "openpgpkey";
  const std::string policy_text = policy.empty() ? default_wkd_policy(domain) : std::string(policy);
  for (const fs::path& base : {root / domain, root}) {
    KEYDIR_CHECK(write_file(base / "policy", as_bytes(policy_text)));
    fs::create_directories(base / "hu", ec);
    for (const auto& [name, data] : files) {
      KEYDIR_CHECK(write_file(base / "hu" / name, data));
    }
  }
  summary.addresses = files.size();
  return summary;
}

}  // namespace keydir::service
