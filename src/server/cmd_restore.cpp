// keydird restore: a full backup (keydird dump --full) into a new data
// folder. It opens no existing store, so it never runs online.
#include <filesystem>
#include <iostream>

#include "server/cmd.hpp"
#include "service/backup.hpp"

namespace keydir::server {

// `keydird restore`: into a folder beside the target, renamed to it once the
// whole backup is in; a failed restore leaves the target as it was.
int run_restore(Cli& c) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target = fs::path(c.data).lexically_normal();
  if (fs::exists(target, ec) && !fs::is_empty(target, ec)) {
    std::cerr << "keydird restore: a backup is restored into a new data folder; " << c.data
              << " is not empty\n";
    return kExitUsage;
  }
  if (!service::is_full_backup(c.restore_from)) {
    std::cerr << "keydird restore: " << c.restore_from << " holds no full backup ("
              << service::kStateFile << "; keydird dump --full makes one)\n";
    return kExitUsage;
  }
  const fs::path work = target.string() + ".restoring";
  fs::remove_all(work, ec);  // what a failed run left
  service::ModeSetting mode;
  service::BackupSummary summary;
  {
    auto opened = keydir::storage::RocksKeyStore::open(work.string(), {});
    if (!opened) {
      std::cerr << "keydird restore: " << opened.error().detail << "\n";
      return kExitFailure;
    }
    service::KeyDirectory directory(**opened, {}, service::system_clock());
    std::string key;
    auto r = service::restore(directory, c.restore_from, &key);
    if (r && !write_token_secret(work.string(), key)) {
      r = keydir::fail(keydir::ErrorCode::StorageIo, "cannot write the token key");
    }
    if (!r) {
      std::cerr << "keydird restore: " << r.error().detail << " (nothing was restored)\n";
      opened->reset();
      fs::remove_all(work, ec);
      return r.error().code == keydir::ErrorCode::BadQuery ? kExitUsage : kExitFailure;
    }
    summary = *r;
    mode = directory.mode_setting();
  }
  fs::remove(target, ec);  // an empty folder, if any
  fs::rename(work, target, ec);
  if (ec) {
    std::cerr << "keydird restore: cannot rename " << work << " to " << target << ": "
              << ec.message() << "\n";
    return kExitFailure;
  }
  std::cout << "restored " << summary.certificates << " certificates (" << summary.published
            << " published addresses, " << summary.tokens << " tokens, " << summary.tombstones
            << " tombstones, " << summary.audit << " audit entries) in mode "
            << service::describe(mode) << " into " << c.data << "\n";
  return kExitOk;
}

}  // namespace keydir::server
