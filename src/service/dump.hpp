// `keydird dump`: a keydump that SKS and Hockeypuck can load — numbered
// files of concatenated binary certificates — plus incremental dumps from
// the change log (`--since SEQ`).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "storage/key_store.hpp"

namespace keydir::service {

struct DumpOptions {
  std::size_t per_file = 15000;        // as SKS's dumps
  std::optional<std::uint64_t> since;  // only certificates changed after this sequence number
  // The form each certificate is written in: KeyDirectory::public_view (what
  // the directory publishes: the default, a dump safe to share); none: the
  // stored bytes.
  std::function<Result<Bytes>(const storage::CertRecord&)> view;
  std::string view_name = "public";  // written to dump-info.txt
};

struct DumpSummary {
  std::uint64_t certificates = 0;
  std::uint64_t deleted = 0;  // listed in deleted.txt (incremental dumps)
  std::uint64_t files = 0;
  std::uint64_t last_seq = 0;  // give this to --since next time
};

// Writes keydir-dump-NNNN.pgp files and dump-info.txt into `out_dir`
// (created; must be empty or absent). Errors: StorageIo.
Result<DumpSummary> dump(const storage::KeyStore& store, const std::string& out_dir,
                         const DumpOptions& options);

}  // namespace keydir::service
