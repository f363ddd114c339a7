// keydird dump: a keydump of what the directory publishes, or (--full) a
// backup of the whole store.
#include <nlohmann/json.hpp>

#include "server/cmd.hpp"
#include "server/command_util.hpp"
#include "service/backup.hpp"
#include "service/dump.hpp"

namespace keydir::server {

using service::PublishMode;

int run_dump(Cli& c, CommandContext& ctx) {
  const std::string out = ctx.path(c.out);
  if (c.full) {
    if (c.since) {
      ctx.err << "keydird dump: --full writes the whole store (no --since)\n";
      return kExitUsage;
    }
    auto key = token_secret(ctx.data);
    if (!key) {
      ctx.err << "keydird dump: cannot read the token key in " << ctx.data << "\n";
      return kExitFailure;
    }
    auto r = service::full_dump(ctx.directory, out, *key, c.per_file);
    if (!r) {
      return fail_with(ctx, "dump", r.error());
    }
    if (auto a = audit(
            ctx, {{"action", "dump --full"}, {"out", out}, {"certificates", r->certificates}});
        !a) {
      return fail_with(ctx, "dump", a.error());
    }
    ctx.out << "full backup of " << r->certificates << " certificates (" << r->published
            << " published addresses, " << r->tokens << " tokens, " << r->tombstones
            << " tombstones, " << r->audit << " audit entries) in " << out
            << "; it holds unpublished addresses and the token key: keep it private\n";
    return kExitOk;
  }
  service::DumpOptions o;
  o.per_file = c.per_file;
  o.since = c.since;
  if (ctx.directory.mode() != PublishMode::Open) {
    o.view = [&](const storage::CertRecord& r) { return ctx.directory.public_view(r); };
    o.view_name = "public (" + std::string(service::mode_name(ctx.directory.mode())) +
                  " mode: published user IDs only)";
  } else {
    o.view_name = "public (open mode: every valid user ID)";
  }
  auto r = service::dump(ctx.store, out, o);
  if (!r) {
    return fail_with(ctx, "dump", r.error());
  }
  ctx.out << "dumped " << r->certificates << " certificates in " << r->files << " files to " << out
          << (r->deleted ? ", " + std::to_string(r->deleted) + " deleted" : "")
          << "; next incremental dump: --since " << r->last_seq << "\n";
  if (ctx.directory.mode() != PublishMode::Open) {
    ctx.out << "only published user IDs are in it (" << service::mode_name(ctx.directory.mode())
            << " mode); keydird dump --full makes a complete backup\n";
  }
  return kExitOk;
}

}  // namespace keydir::server
