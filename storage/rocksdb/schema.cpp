#include "storage/rocksdb/schema.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

#include <rocksdb/utilities/checkpoint.h>

#include "storage/rocksdb/codec.hpp"
#include "storage/rocksdb/merge_operators.hpp"

namespace keydir::storage::rocks {

namespace fs = std::filesystem;

namespace {

std::string status_error(const rocksdb::Status& s) {
  return s.ToString();
}

// `s` as a JSON string (the audit log's entries are JSON objects).
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

bool fsync_path(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// A private file (token.key) into the backup: never through a symbolic link,
// only a regular file, and the copy is new, 0600 and owned by whoever
// migrates (its mode is never copied: a planted setuid file stays inert).
bool copy_private_file(const fs::path& from, const fs::path& to, std::string& why) {
  const int in = ::open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) {
    why = std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(in, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
    ::close(in);
    why = "not a regular file";
    return false;
  }
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    why = std::strerror(errno);
    ::close(in);
    return false;
  }
  char buf[4096];
  bool ok = true;
  for (;;) {
    const ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0) {
      ok = false;
      break;
    }
    if (n == 0) {
      break;
    }
    if (::write(out, buf, static_cast<std::size_t>(n)) != n) {
      ok = false;
      break;
    }
  }
  ok = ok && ::fsync(out) == 0;
  if (!ok) {
    why = std::strerror(errno);
  }
  ::close(out);
  ::close(in);
  return ok;
}

std::string owner_name(uid_t uid) {
  if (const struct passwd* pw = ::getpwuid(uid)) {
    return pw->pw_name;
  }
  return "uid " + std::to_string(uid);
}

// The next key of the audit column family (be64 sequence numbers from 1).
Result<std::string> next_audit_key(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* audit) {
  KEYDIR_TRY(auto seq, next_audit_sequence(db, audit));
  return be(seq, 8);
}

Result<std::string> history_with(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* meta,
                                 const std::string& line) {
  std::string history;
  auto s = db.Get(rocksdb::ReadOptions(), meta, std::string(kSchemaHistoryKey), &history);
  if (!s.ok() && !s.IsNotFound()) {
    return fail(ErrorCode::StorageIo, "reading the schema history: " + status_error(s));
  }
  return history + line + "\n";
}

// 1 → 2: the certificate counter recounted; the history and the version.
Result<void> step_1_to_2(rocksdb::DB& db, const std::vector<rocksdb::ColumnFamilyHandle*>& cfs,
                         std::string_view program, std::uint64_t now, rocksdb::WriteBatch& batch,
                         std::string& summary) {
  std::uint64_t count = 0;
  {
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro, cfs[kCerts]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++count;
    }
    if (!it->status().ok()) {
      return fail(ErrorCode::StorageIo, "counting certificates: " + status_error(it->status()));
    }
  }
  std::string counter;
  auto s = db.Get(rocksdb::ReadOptions(), cfs[kMeta], std::string(kCertCounter), &counter);
  if (!s.ok() && !s.IsNotFound()) {
    return fail(ErrorCode::StorageIo, "reading the certificate counter: " + status_error(s));
  }
  const std::int64_t before = s.ok() ? Int64Add::decode(counter) : 0;
  if (before != static_cast<std::int64_t>(count)) {
    batch.Put(cfs[kMeta], std::string(kCertCounter), be(count, 8));
    summary = "certificate counter corrected from " + std::to_string(before) + " to " +
              std::to_string(count);
  }
  KEYDIR_TRY(auto history, history_with(db, cfs[kMeta],
                                        "2 migrated from 1 by " + std::string(program) + " at " +
                                            utc_stamp(now)));
  batch.Put(cfs[kMeta], std::string(kSchemaHistoryKey), history);
  batch.Put(cfs[kMeta], std::string(kSchemaKey), "2");
  return {};
}

}  // namespace

Result<std::uint64_t> next_audit_sequence(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* audit) {
  std::uint64_t seq = 1;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), audit));
  it->SeekToLast();
  if (it->Valid() && it->key().size() == 8) {
    seq = 0;
    for (std::size_t i = 0; i < 8; ++i) {
      seq = seq << 8 | static_cast<std::uint8_t>(it->key()[i]);
    }
    ++seq;
  }
  if (!it->status().ok()) {
    return fail(ErrorCode::StorageIo, "reading the audit log: " + status_error(it->status()));
  }
  return seq;
}

std::optional<int> parse_schema(std::string_view v) {
  if (v.empty() || v.size() > 6 || v[0] == '0') {
    return std::nullopt;
  }
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    n = n * 10 + (c - '0');
  }
  return n;
}

std::string utc_stamp(std::uint64_t t) {
  const auto tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Result<void> migration_step(rocksdb::DB& db, const std::vector<rocksdb::ColumnFamilyHandle*>& cfs,
                            int from, std::string_view program, std::uint64_t now,
                            rocksdb::WriteBatch& batch, std::string& summary) {
  Result<void> done;
  switch (from) {
    case 1:
      done = step_1_to_2(db, cfs, program, now, batch, summary);
      break;
    default:
      return fail(ErrorCode::StorageCorruption, "no migration from schema " + std::to_string(from));
  }
  if (!done) {
    return done;
  }
  // The audit log says who changed the store, like every admin action.
  KEYDIR_TRY(auto key, next_audit_key(db, cfs[kAudit]));
  std::string entry = "{\"action\":\"migrate\",\"from\":" + std::to_string(from) +
                      ",\"to\":" + std::to_string(from + 1);
  if (!summary.empty()) {
    entry += ",\"changed\":" + json_string(summary);
  }
  entry += ",\"by\":" + json_string(program) + "}";
  batch.Put(cfs[kAudit], key, be(now, 8) + entry);
  return {};
}

void new_store_schema(const std::vector<rocksdb::ColumnFamilyHandle*>& cfs,
                      std::string_view program, std::uint64_t now, rocksdb::WriteBatch& batch) {
  batch.Put(cfs[kMeta], std::string(kSchemaKey), std::to_string(kSchemaCurrent));
  batch.Put(cfs[kMeta], std::string(kSchemaHistoryKey),
            std::to_string(kSchemaCurrent) + " created by " + std::string(program) + " at " +
                utc_stamp(now) + "\n");
}

Result<BackupMade> pre_migration_backup(rocksdb::DB& db, const std::string& dir, int from, int to,
                                        std::uint64_t now,
                                        const std::vector<std::string>& extra_files) {
  std::error_code ec;
  // Only the store's owner migrates it: root (or anyone else) writing the
  // backup into a folder another user controls could be led by a planted
  // symbolic link or file to change paths outside it.
  struct stat dir_st {};
  if (::stat(dir.c_str(), &dir_st) != 0) {
    return fail(ErrorCode::StorageIo, "cannot stat " + dir + ": " + std::strerror(errno));
  }
  if (dir_st.st_uid != ::geteuid()) {
    return fail(ErrorCode::StorageIo,
                "the store in " + dir + " needs migrating from schema " + std::to_string(from) +
                    " to " + std::to_string(to) + ", and only its owner (" +
                    owner_name(dir_st.st_uid) + ") may migrate it: run `keydird migrate --data " +
                    dir + "` as " + owner_name(dir_st.st_uid) + " (sudo -u " +
                    owner_name(dir_st.st_uid) + " ...); it takes a backup first");
  }
  const fs::path root = fs::path(dir) / kBackupsFolder;
  if (auto st = fs::symlink_status(root, ec);
      fs::is_symlink(st) || (fs::exists(st) && !fs::is_directory(st))) {
    return fail(ErrorCode::StorageIo, root.string() +
                                          " is a symbolic link or not a folder: the backup is "
                                          "not written through it (remove it and retry)");
  }
  fs::create_directories(root, ec);
  if (ec) {
    return fail(ErrorCode::StorageIo, "cannot make " + root.string() + ": " + ec.message());
  }
  // It holds what owners withheld and the token key: as private as the store.
  fs::permissions(root, fs::perms::owner_all, fs::perm_options::replace, ec);
  const std::string prefix = "pre-migration-";
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with(prefix) &&
        (name.ends_with(".partial") || name.ends_with(".partial.tmp"))) {
      std::error_code rm;
      fs::remove_all(e.path(), rm);  // an earlier attempt that did not finish
    }
  }
  std::string name =
      prefix + std::to_string(from) + "-" + std::to_string(to) + "-" + utc_stamp(now);
  for (int n = 2; fs::exists(root / name, ec); ++n) {
    name = prefix + std::to_string(from) + "-" + std::to_string(to) + "-" + utc_stamp(now) + "-" +
           std::to_string(n);
  }
  const fs::path partial = root / (name + ".partial");
  const fs::path final_path = root / name;

  rocksdb::Checkpoint* raw = nullptr;
  auto s = rocksdb::Checkpoint::Create(&db, &raw);
  if (!s.ok()) {
    return fail(ErrorCode::StorageIo, "starting the pre-migration backup: " + status_error(s));
  }
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  s = cp->CreateCheckpoint(partial.string());
  if (!s.ok()) {
    return fail(ErrorCode::StorageIo,
                "writing the pre-migration backup to " + partial.string() + ": " + status_error(s));
  }
  for (const auto& f : extra_files) {
    const fs::path from_file = fs::path(dir) / f;
    if (!fs::exists(fs::symlink_status(from_file, ec))) {
      continue;
    }
    std::string why;
    if (!copy_private_file(from_file, partial / f, why)) {
      return fail(ErrorCode::StorageIo,
                  "copying " + from_file.string() + " into the pre-migration backup: " + why);
    }
  }
  fs::rename(partial, final_path, ec);
  if (ec || !fsync_path(root)) {
    return fail(ErrorCode::StorageIo, "cannot rename " + partial.string() + " to " +
                                          final_path.string() + ": " +
                                          (ec ? ec.message() : "fsync failed"));
  }
  fsync_path(dir);
  BackupMade made{final_path.string(), 0};
  for (const auto& e : fs::recursive_directory_iterator(final_path, ec)) {
    if (e.is_regular_file(ec)) {
      made.bytes += e.file_size(ec);
    }
  }
  return made;
}

}  // namespace keydir::storage::rocks
