#include "service/dump.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

namespace keydir::service {

namespace {

class DumpWriter {
 public:
  DumpWriter(std::string dir, std::size_t per_file) : dir_(std::move(dir)), per_file_(per_file) {}

  Result<void> add(const Bytes& cert) {
    if (!out_.is_open() || in_file_ >= per_file_) {
      KEYDIR_CHECK(close());
      char name[64];
      std::snprintf(name, sizeof name, "keydir-dump-%04llu.pgp",
                    static_cast<unsigned long long>(files_));
      out_.open(std::filesystem::path(dir_) / name, std::ios::binary | std::ios::trunc);
      if (!out_) {
        return fail(ErrorCode::StorageIo, std::string("cannot write ") + name);
      }
      ++files_;
      in_file_ = 0;
    }
    out_.write(reinterpret_cast<const char*>(cert.data()),
               static_cast<std::streamsize>(cert.size()));
    ++in_file_;
    return {};
  }

  Result<void> close() {
    if (out_.is_open()) {
      out_.close();
      if (!out_) {
        return fail(ErrorCode::StorageIo, "writing a dump file failed");
      }
    }
    return {};
  }
  [[nodiscard]] std::uint64_t files() const { return files_; }

 private:
  std::string dir_;
  std::size_t per_file_;
  std::ofstream out_;
  std::uint64_t files_ = 0;
  std::size_t in_file_ = 0;
};

}  // namespace

Result<DumpSummary> dump(const storage::KeyStore& store, const std::string& out_dir,
                         const DumpOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec || !std::filesystem::is_empty(out_dir, ec)) {
    return fail(ErrorCode::StorageIo, out_dir + " must be an empty or new folder");
  }
  DumpSummary summary;
  KEYDIR_TRY(auto stats, store.stats());
  summary.last_seq = stats.last_seq;
  DumpWriter writer(out_dir, std::max<std::size_t>(options.per_file, 1));
  Result<void> status;
  if (!options.since) {
    KEYDIR_CHECK(store.for_each([&](const storage::CertRecord& r) {
      if (r.seq > summary.last_seq) {
        return true;  // written after the dump started: the next --since dump has it
      }
      if (options.view) {
        auto bytes = options.view(r);
        status = bytes ? writer.add(*bytes) : Result<void>(tl::unexpected(bytes.error()));
      } else {
        status = writer.add(r.cert);
      }
      ++summary.certificates;
      return status.has_value();
    }));
    KEYDIR_CHECK(status);
  } else {
    // Every certificate changed since `since`, once, in its current form.
    std::set<storage::Fingerprint> changed;
    std::set<storage::Fingerprint> deleted;
    std::uint64_t seq = *options.since;
    while (seq < summary.last_seq) {
      KEYDIR_TRY(auto entries, store.changes_since(seq, 10000));
      if (entries.empty()) {
        break;
      }
      for (const auto& e : entries) {
        if (e.seq > summary.last_seq) {
          break;
        }
        (e.digest.empty() ? deleted : changed).insert(e.fingerprint);
        (e.digest.empty() ? changed : deleted).erase(e.fingerprint);
        seq = e.seq;
      }
    }
    for (const auto& f : changed) {
      KEYDIR_TRY(auto rec, store.get(f));
      if (rec) {
        if (options.view) {
          KEYDIR_TRY(auto bytes, options.view(*rec));
          KEYDIR_CHECK(writer.add(bytes));
        } else {
          KEYDIR_CHECK(writer.add(rec->cert));
        }
        ++summary.certificates;
      }
    }
    std::ofstream del(std::filesystem::path(out_dir) / "deleted.txt");
    for (const auto& f : deleted) {
      del << f.to_hex() << "\n";
    }
    summary.deleted = deleted.size();
  }
  KEYDIR_CHECK(writer.close());
  summary.files = writer.files();
  std::ofstream info(std::filesystem::path(out_dir) / "dump-info.txt");
  info << "certificates " << summary.certificates << "\n"
       << "files " << summary.files << "\n"
       << "last_seq " << summary.last_seq << "\n"
       << "since " << (options.since ? std::to_string(*options.since) : "full") << "\n"
       << "view " << options.view_name << "\n";
  if (!info) {
    return fail(ErrorCode::StorageIo, "cannot write dump-info.txt");
  }
  return summary;
}

}  // namespace keydir::service
