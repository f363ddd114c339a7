#include "service/backup.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "openpgp/certificate.hpp"
#include "openpgp/crypto/hash.hpp"
#include "openpgp/verify.hpp"
#include "service/store_access.hpp"

namespace keydir::service {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A file only its owner reads (the backup holds what owners withheld).
class PrivateFile {
 public:
  explicit PrivateFile(const fs::path& path) : path_(path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      f_ = ::fdopen(fd, "wb");
    }
  }
  ~PrivateFile() {
    if (f_) {
      std::fclose(f_);
    }
  }
  PrivateFile(const PrivateFile&) = delete;
  PrivateFile& operator=(const PrivateFile&) = delete;
  bool write(std::string_view s) {
    return f_ && std::fwrite(s.data(), 1, s.size(), f_) == s.size();
  }
  Result<void> close() {
    bool ok = f_ && std::fflush(f_) == 0 && ::fsync(::fileno(f_)) == 0;
    ok = f_ && std::fclose(f_) == 0 && ok;
    f_ = nullptr;
    if (!ok) {
      return fail(ErrorCode::StorageIo, "cannot write " + path_.string());
    }
    return {};
  }

 private:
  fs::path path_;
  std::FILE* f_ = nullptr;
};

std::string kind_name(storage::VerifyToken::Kind k) {
  return k == storage::VerifyToken::Kind::Manage ? "manage" : "verify";
}

// One line of the state file (invalid UTF-8, never written by keydir,
// would be replaced rather than throw).
std::string dump_line(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

// A state line: a certificate's published addresses are its longest.
constexpr std::size_t kMaxStateLine = 16u << 20;

tl::unexpected<Error> bad_backup(const std::string& what) {
  return fail(ErrorCode::BadQuery, "not a keydir full backup: " + what);
}

}  // namespace

bool is_full_backup(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / kStateFile, ec);
}

Result<BackupSummary> full_dump(const KeyDirectory& directory, const std::string& out_dir,
                                std::string_view token_key, std::size_t per_file) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_empty(out_dir, ec)) {
    return fail(ErrorCode::StorageIo, out_dir + " must be an empty or new folder");
  }
  fs::permissions(out_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  const storage::KeyStore& store = directory.store_ref(StoreAccess{});
  BackupSummary summary;
  PrivateFile state(fs::path(out_dir) / kStateFile);
  const ModeSetting mode = directory.mode_setting();
  json head = {{"keydir-backup", 1},
               {"mode", std::string(mode_name(mode.mode))},
               {"managed-domains", mode.managed_domains},
               {"token-key", to_hex(as_bytes(token_key))}};
  bool ok = state.write(dump_line(head));

  std::unique_ptr<PrivateFile> pgp;
  std::size_t in_file = per_file;
  Result<void> status;
  KEYDIR_CHECK(store.for_each([&](const storage::CertRecord& r) {
    if (in_file >= per_file) {
      if (pgp) {
        status = pgp->close();
      }
      char name[64];
      std::snprintf(name, sizeof name, "keydir-dump-%04llu.pgp",
                    static_cast<unsigned long long>(summary.files++));
      pgp = std::make_unique<PrivateFile>(fs::path(out_dir) / name);
      in_file = 0;
    }
    ok = pgp->write(as_chars(r.cert)) && ok;
    ++in_file;
    ++summary.certificates;
    auto published = store.published(r.fingerprint);
    if (!published) {
      status = tl::unexpected(published.error());
      return false;
    }
    summary.published += published->size();
    json line = {{"certificate", r.fingerprint.to_hex()},
                 {"first-seen", r.first_seen},
                 {"last-change", r.last_change},
                 {"published", *published}};
    ok = state.write(dump_line(line)) && ok;
    return status.has_value();
  }));
  KEYDIR_CHECK(status);
  if (pgp) {
    KEYDIR_CHECK(pgp->close());
  }
  KEYDIR_CHECK(store.for_each_token([&](ByteView hash, const storage::VerifyToken& t) {
    json line = {{"token", to_hex(hash)},
                 {"kind", kind_name(t.kind)},
                 {"certificate", t.fingerprint.to_hex()},
                 {"address", t.email},
                 {"created", t.created},
                 {"expires", t.expires}};
    if (t.used_at != 0) {
      line["used-at"] = t.used_at;  // a used link, kept until it expires
    }
    ok = state.write(dump_line(line)) && ok;
    ++summary.tokens;
    return true;
  }));
  KEYDIR_CHECK(store.for_each_tombstone([&](const Fingerprint& f, const storage::Tombstone& t) {
    json line = {{"tombstone", f.to_hex()}, {"deleted-at", t.deleted_at}, {"reason", t.reason}};
    ok = state.write(dump_line(line)) && ok;
    ++summary.tombstones;
    return true;
  }));
  KEYDIR_CHECK(store.for_each_audit([&](const storage::AuditEntry& e) {
    json line = {{"audit", e.seq}, {"time", e.time}, {"entry", e.text}};
    ok = state.write(dump_line(line)) && ok;
    ++summary.audit;
    return true;
  }));
  // The last line: what the backup holds, so that a cut or edited state
  // file is refused.
  json end = {{"end",
               {{"certificates", summary.certificates},
                {"files", summary.files},
                {"tokens", summary.tokens},
                {"tombstones", summary.tombstones},
                {"audit", summary.audit}}}};
  ok = state.write(dump_line(end)) && ok;
  KEYDIR_CHECK(state.close());
  if (!ok) {
    return fail(ErrorCode::StorageIo, "cannot write the backup in " + out_dir);
  }
  PrivateFile info(fs::path(out_dir) / "dump-info.txt");
  info.write("format keydir-full-backup 1\ncertificates " + std::to_string(summary.certificates) +
             "\nfiles " + std::to_string(summary.files) + "\n");
  KEYDIR_CHECK(info.close());
  return summary;
}

Result<BackupSummary> restore(KeyDirectory& directory, const std::string& in_dir,
                              std::string* token_key) {
  storage::KeyStore& store = directory.store_ref(StoreAccess{});
  KEYDIR_TRY(auto stats, store.stats());
  KEYDIR_TRY(auto recorded, stored_mode(store));
  if (stats.certificates != 0 || recorded) {
    return fail(ErrorCode::UnsupportedOperation,
                "a backup is restored into a new data folder (this one holds a store)");
  }
  std::ifstream in(fs::path(in_dir) / kStateFile);
  if (!in) {
    return bad_backup("no " + std::string(kStateFile) + " in " + in_dir);
  }
  BackupSummary summary;
  struct CertState {
    std::uint64_t first_seen = 0;
    std::uint64_t last_change = 0;
    std::vector<std::string> published;
  };
  std::map<Fingerprint, CertState> certs;
  std::vector<std::pair<Bytes, storage::VerifyToken>> tokens;
  std::vector<std::pair<Fingerprint, storage::Tombstone>> tombstones;
  std::vector<storage::AuditEntry> audit;
  ModeSetting mode;
  std::string line;
  std::uint64_t line_no = 0;
  auto fpr_of = [&](const json& j) -> Result<Fingerprint> {
    return Fingerprint::from_hex(j.get<std::string>());
  };
  std::optional<json> end;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string where = std::string(kStateFile) + " line " + std::to_string(line_no);
    if (line.size() > kMaxStateLine) {
      return bad_backup(where + " is longer than " + std::to_string(kMaxStateLine) + " octets");
    }
    if (end) {
      return bad_backup(where + " follows the end line");
    }
    json j = json::parse(line, nullptr, false);
    if (!j.is_object()) {
      return bad_backup(where + " is not a JSON object");
    }
    try {
      if (line_no == 1) {
        if (j.value("keydir-backup", 0) != 1) {
          return bad_backup(where + ": unknown format");
        }
        auto m = parse_mode(j.at("mode").get<std::string>());
        if (!m) {
          return bad_backup(where + ": unknown mode");
        }
        mode.mode = *m;
        mode.managed_domains = j.at("managed-domains").get<std::vector<std::string>>();
        auto key = from_hex(j.at("token-key").get<std::string>());
        if (!key || key->size() != 32) {
          return bad_backup(where + ": the token key is not 32 octets");
        }
        *token_key = std::string(as_chars(*key));
      } else if (j.contains("certificate") && j.contains("published")) {
        KEYDIR_TRY(auto f, fpr_of(j["certificate"]));
        certs[f] = CertState{j.at("first-seen").get<std::uint64_t>(),
                             j.at("last-change").get<std::uint64_t>(),
                             j.at("published").get<std::vector<std::string>>()};
      } else if (j.contains("token")) {
        auto hash = from_hex(j["token"].get<std::string>());
        KEYDIR_TRY(auto f, fpr_of(j.at("certificate")));
        if (!hash) {
          return bad_backup(where + ": bad token hash");
        }
        storage::VerifyToken t;
        t.kind = j.at("kind").get<std::string>() == "manage" ? storage::VerifyToken::Kind::Manage
                                                             : storage::VerifyToken::Kind::Verify;
        t.fingerprint = f;
        t.email = j.at("address").get<std::string>();
        t.created = j.at("created").get<std::uint64_t>();
        t.expires = j.at("expires").get<std::uint64_t>();
        t.used_at = j.value("used-at", std::uint64_t{0});
        tokens.emplace_back(std::move(*hash), std::move(t));
      } else if (j.contains("tombstone")) {
        KEYDIR_TRY(auto f, fpr_of(j["tombstone"]));
        tombstones.emplace_back(f, storage::Tombstone{j.at("deleted-at").get<std::uint64_t>(),
                                                      j.at("reason").get<std::string>()});
      } else if (j.contains("end")) {
        end = j["end"];
      } else if (j.contains("audit")) {
        audit.push_back(storage::AuditEntry{j["audit"].get<std::uint64_t>(),
                                            j.at("time").get<std::uint64_t>(),
                                            j.at("entry").get<std::string>()});
      } else {
        return bad_backup(where + ": unknown entry");
      }
    } catch (const json::exception& e) {
      return bad_backup(where + ": " + e.what());
    }
  }
  if (line_no == 0) {
    return bad_backup(std::string(kStateFile) + " is empty");
  }
  if (!end) {
    return bad_backup(std::string(kStateFile) + " has no end line: it was cut short");
  }
  try {
    if (end->at("certificates").get<std::uint64_t>() != certs.size() ||
        end->at("tokens").get<std::uint64_t>() != tokens.size() ||
        end->at("tombstones").get<std::uint64_t>() != tombstones.size() ||
        end->at("audit").get<std::uint64_t>() != audit.size()) {
      return bad_backup(std::string(kStateFile) + " holds other counts than its end line says");
    }
  } catch (const json::exception& e) {
    return bad_backup(std::string("the end line: ") + e.what());
  }
  // The mode first: the index of each certificate follows it.
  KEYDIR_CHECK(directory.set_mode(mode));

  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(in_dir, ec)) {
    if (e.path().extension() == ".pgp") {
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  const std::uint64_t now = directory.now();
  std::vector<storage::Write> batch;
  auto flush = [&]() -> Result<void> {
    if (!batch.empty()) {
      KEYDIR_TRY(auto seqs, directory.write_records(batch, now));
      (void)seqs;
      batch.clear();
    }
    return {};
  };
  for (const auto& path : files) {
    std::ifstream f(path, std::ios::binary);
    Bytes data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (!f.eof() && f.fail()) {
      return fail(ErrorCode::StorageIo, "cannot read " + path.string());
    }
    KEYDIR_TRY(auto parsed, openpgp::parse_certificates(data));
    ++summary.files;
    for (auto& p : parsed) {
      if (!p.cert) {
        return bad_backup(path.filename().string() + " holds a malformed certificate");
      }
      auto v = openpgp::verify(*p.cert, directory.options().policy, now);
      if (!v.accepted()) {
        return bad_backup(path.filename().string() +
                          ": a certificate does not verify: " + v.refusal->detail);
      }
      auto it = certs.find(v.cert->fingerprint());
      if (it == certs.end()) {
        return bad_backup("certificate " + v.cert->fingerprint().to_hex() +
                          " has no line in the state file");
      }
      storage::Write w;
      w.keep_times = true;
      w.record.fingerprint = it->first;
      w.record.first_seen = it->second.first_seen;
      w.record.last_change = it->second.last_change;
      w.record.cert = v.cert->to_bytes();
      w.record.digest = *openpgp::crypto::digest(openpgp::HashAlgorithm::Sha256, w.record.cert);
      // A managed store publishes its domains' addresses only (a mark
      // outside them, in a tampered backup, is dropped).
      auto& published = it->second.published;
      if (mode.mode == PublishMode::Managed) {
        std::erase_if(published, [&](const std::string& a) {
          auto at = a.rfind('@');
          auto domain = at == std::string::npos ? std::string() : a.substr(at + 1);
          return std::find(mode.managed_domains.begin(), mode.managed_domains.end(), domain) ==
                 mode.managed_domains.end();
        });
      }
      w.record.index = mode.mode == PublishMode::Open ? KeyDirectory::index_of(*v.cert)
                                                      : KeyDirectory::index_of(*v.cert, &published);
      w.publish = published;
      summary.published += w.publish.size();
      certs.erase(it);
      batch.push_back(std::move(w));
      ++summary.certificates;
      if (batch.size() >= 500) {
        KEYDIR_CHECK(flush());
      }
    }
  }
  KEYDIR_CHECK(flush());
  if (!certs.empty()) {
    return bad_backup("certificate " + certs.begin()->first.to_hex() +
                      " is in the state file but in no .pgp file");
  }
  for (const auto& [hash, t] : tokens) {
    KEYDIR_CHECK(store.put_token(hash, t));
    ++summary.tokens;
  }
  for (const auto& [f, t] : tombstones) {
    KEYDIR_CHECK(store.put_tombstone(f, t));
    ++summary.tombstones;
  }
  for (const auto& e : audit) {
    KEYDIR_TRY(auto seq, store.append_audit(e.time, e.text));
    (void)seq;
    ++summary.audit;
  }
  return summary;
}

}  // namespace keydir::service
