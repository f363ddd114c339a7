// Bulk import: `keydird import` of armored or binary files, one or many
// certificates each, including keyserver dumps (concatenated binary
// certificates, the SKS/Hockeypuck keydump format).
//
// A pipeline with bounded queues, so memory stays flat whatever the input
// size: one reader streams the files and cuts them into certificates at the
// primary-key packets (never holding more than one armor block or one
// certificate), N workers parse and verify, and one writer stores batches with
// merge on write. A bad certificate is counted and skipped; a bad file is
// reported and skipped; running an import again is harmless (idempotent).
#pragma once

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "service/key_directory.hpp"

namespace keydir::service {

struct ImportOptions {
  unsigned threads = 0;              // verification threads; 0: one per core
  std::size_t batch = 2000;          // certificates per write batch
  std::ostream* progress = nullptr;  // progress lines (stderr), or none
  bool progress_is_tty = false;
  std::ostream* ack = nullptr;  // fingerprints, flushed after each durable batch
  bool verify_only = false;     // parse and verify, store nothing
  // Verified and Managed stores: publish the imported addresses the mode
  // allows (Managed: of its domains) as if each owner had confirmed them.
  // Without it an import into such a store publishes no address.
  bool publish_addresses = false;
};

struct ImportSummary {
  std::uint64_t read = 0;  // certificates read from the files
  std::uint64_t created = 0;
  std::uint64_t updated = 0;
  std::uint64_t unchanged = 0;
  std::uint64_t refused = 0;
  std::uint64_t verified_only = 0;  // accepted, not stored (--verify-only)
  struct Reason {
    std::uint64_t count = 0;
    std::string example;
  };
  std::map<std::string, Reason> refusals;  // by error code name
  std::vector<std::string> file_errors;
  double seconds = 0;
};

ImportSummary import_files(KeyDirectory& directory, const std::vector<std::string>& files,
                           const ImportOptions& options);

void print_summary(std::ostream& out, const ImportSummary& s);

}  // namespace keydir::service
