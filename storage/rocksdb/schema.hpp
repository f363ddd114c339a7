// The on-disk schema of the RocksDB store (internal to storage/rocksdb): its
// version, recorded under "schema" in the meta column family, and the steps
// that take an older store to the current version. RocksKeyStore::open runs
// them; the policy (which keydird opens which store, backups, rolling back)
// is in docs/operating.md, "Upgrades".
//
// Versions:
//   1  every keydird before 0.1.0: meta "schema" = "1" (a store of data
//      without the record is taken for 1 too; a folder without a database is
//      a new store).
//   2  keydird 0.1.0: the layout of 1. Migrating 1 to 2 recounts the
//      certificate counter (stores that met the early double-remove bug carry
//      a wrong count, which `keydird check` reports) and starts the record
//      "schema.history": one line per creation or migration, with the
//      program and the time.
//
// A migration takes a backup first (a RocksDB checkpoint in
// DATA/backups/pre-migration-FROM-TO-TIME, with the token key), then writes
// each step's changes and its new version record in one synced write batch:
// a crash leaves the store at one version or the next, never between.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "common/result.hpp"

namespace keydir::storage::rocks {

constexpr int kSchemaCurrent = 2;
constexpr std::string_view kSchemaKey = "schema";
constexpr std::string_view kSchemaHistoryKey = "schema.history";
// The folder of the data folder that holds pre-migration backups.
constexpr std::string_view kBackupsFolder = "backups";

// "1", "2", ...: the version; nullopt: not a version record.
std::optional<int> parse_schema(std::string_view v);

// The sequence number the next audit-log entry gets (its keys are be64
// sequence numbers from 1).
Result<std::uint64_t> next_audit_sequence(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* audit);

// `t` (seconds since the epoch) as 20261130T190512Z.
std::string utc_stamp(std::uint64_t t);

// The changes of the step `from` → `from + 1` of the open `db`, added to
// `batch` with the new version record and a history line naming `program`.
// `summary`: what the step changed, for the log line ("" when nothing).
Result<void> migration_step(rocksdb::DB& db, const std::vector<rocksdb::ColumnFamilyHandle*>& cfs,
                            int from, std::string_view program, std::uint64_t now,
                            rocksdb::WriteBatch& batch, std::string& summary);

// The version record and first history line of a new store.
void new_store_schema(const std::vector<rocksdb::ColumnFamilyHandle*>& cfs,
                      std::string_view program, std::uint64_t now, rocksdb::WriteBatch& batch);

struct BackupMade {
  std::string path;
  std::uint64_t bytes = 0;  // its files' sizes (the checkpoint's tables are hard links)
};
// A checkpoint of `db` in DIR/backups/pre-migration-FROM-TO-TIME, with the
// files `extra_files` of DIR copied beside it (made as NAME.partial, renamed
// once complete; a .partial left by a crash is removed first).
Result<BackupMade> pre_migration_backup(rocksdb::DB& db, const std::string& dir, int from, int to,
                                        std::uint64_t now,
                                        const std::vector<std::string>& extra_files);

}  // namespace keydir::storage::rocks
