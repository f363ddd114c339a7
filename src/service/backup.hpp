// The full backup format: everything needed to restore a directory exactly,
// as files an operator can keep, move and inspect (unlike a RocksDB
// checkpoint, which `keydird backup` takes and which only this store format
// reads).
//
// A folder with
//   keydir-dump-NNNN.pgp   every certificate with all its user IDs, in
//                          fingerprint order (the stored bytes)
//   keydir-state.jsonl     one JSON object a line: first the store (format,
//                          mode, managed domains, the token key), then per
//                          certificate its times and published addresses,
//                          the pending tokens (as stored: hashes), the
//                          tombstones and the audit log
//   dump-info.txt          counts
// It holds what owners withheld and the token key: keep it as private as the
// data folder (the files are written mode 0600). `restore` into a new store,
// then `full_dump` again, writes the same bytes.
#pragma once

#include <string>

#include "service/key_directory.hpp"

namespace keydir::service {

inline constexpr std::string_view kStateFile = "keydir-state.jsonl";

struct BackupSummary {
  std::uint64_t certificates = 0;
  std::uint64_t published = 0;  // published marks
  std::uint64_t tokens = 0;
  std::uint64_t tombstones = 0;
  std::uint64_t audit = 0;
  std::uint64_t files = 0;
};

// Writes the full backup of `directory`'s store into `out_dir` (created; must
// be empty or absent). `token_key`: the HMAC key of upload tokens (32 octets).
Result<BackupSummary> full_dump(const KeyDirectory& directory, const std::string& out_dir,
                                std::string_view token_key, std::size_t per_file = 15000);

// Whether `dir` holds a full backup (its state file).
bool is_full_backup(const std::string& dir);

// Restores a full backup into the empty store of `directory` (no certificate,
// no recorded mode): certificates (verified again under the directory's
// policy), their times and published addresses, tokens, tombstones, the
// audit log, and the mode (recorded, and set on `directory`). Returns the
// token key through `token_key`. Errors: BadInput (not a backup, malformed,
// a certificate that does not verify), Conflict (store not empty),
// StorageIo.
Result<BackupSummary> restore(KeyDirectory& directory, const std::string& in_dir,
                              std::string* token_key);

}  // namespace keydir::service
