// keydird import: key files and keyserver dumps.
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "server/cmd.hpp"
#include "server/command_util.hpp"
#include "service/backup.hpp"
#include "service/importer.hpp"

namespace keydir::server {

using service::PublishMode;

namespace {

// Imports that store at least this many certificates end with a compaction.
constexpr std::uint64_t kCompactAfterImport = 50000;

}  // namespace

int run_import(Cli& c, CommandContext& ctx) {
  std::vector<std::string> files;
  for (const auto& f : c.files) {
    files.push_back(ctx.path(f));
    if (service::is_full_backup(files.back())) {
      ctx.err << "keydird import: " << f << " is a full backup: restore it into a new data "
              << "folder with keydird restore --data NEW --from " << f << "\n";
      return kExitUsage;
    }
  }
  service::ImportOptions o;
  o.threads = c.threads;
  o.progress = &ctx.err;
  o.progress_is_tty = !ctx.online && isatty(STDERR_FILENO) != 0;
  o.verify_only = c.verify_only;
  o.publish_addresses = c.publish_addresses;
  std::ofstream ack;
  if (!c.ack_path.empty()) {
    ack.open(ctx.path(c.ack_path), std::ios::app);
    if (!ack) {
      ctx.err << "keydird import: cannot write " << c.ack_path << "\n";
      return kExitUsage;
    }
    o.ack = &ack;
  }
  if (!c.import_mode.empty() && c.import_mode != service::mode_name(ctx.directory.mode())) {
    ctx.err << "keydird import: the store is in mode "
            << service::describe(ctx.directory.mode_setting()) << ", not " << c.import_mode
            << "; to change it: keydird admin set-mode " << c.import_mode << "\n";
    return kExitUsage;
  }
  if (c.publish_addresses && ctx.directory.mode() == PublishMode::Open) {
    ctx.err << "keydird import: --publish-addresses is for verified and managed stores (an open "
               "store publishes every valid address anyway)\n";
    return kExitUsage;
  }
  auto summary = service::import_files(ctx.directory, files, o);
  service::print_summary(ctx.out, summary);
  if (ctx.directory.mode() != PublishMode::Open && !c.verify_only) {
    ctx.out << (c.publish_addresses
                    ? "addresses the mode allows were published (--publish-addresses)\n"
                    : "no address was published: this store is in " +
                          std::string(service::mode_name(ctx.directory.mode())) +
                          " mode (owners confirm their addresses, an operator publishes them, or "
                          "import with --publish-addresses)\n");
  }
  if (c.publish_addresses && !c.verify_only) {
    if (auto a = audit(ctx, {{"action", "import --publish-addresses"},
                             {"files", c.files},
                             {"created", summary.created},
                             {"updated", summary.updated}});
        !a) {
      return fail_with(ctx, "import", a.error());
    }
  }
  // A bulk load leaves many overlapping files in the upper levels; one
  // compaction puts them in the last level, so that a lookup reads one file
  // (measured: +7% op=get by fingerprint on a 1M store, 7 s to compact).
  if (!c.verify_only && summary.created + summary.updated >= kCompactAfterImport) {
    ctx.err << "compacting the store after a bulk import..." << std::endl;
    if (auto r = ctx.store.compact(); !r) {
      return fail_with(ctx, "import: compaction", r.error());
    }
  }
  return summary.file_errors.empty() ? kExitOk : kExitFailure;
}

}  // namespace keydir::server
