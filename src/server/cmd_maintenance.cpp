// keydird compact, reindex, stats, wkd-export.
#include "server/cmd.hpp"
#include "server/command_util.hpp"
#include "service/wkd.hpp"

namespace keydir::server {

int run_compact(CommandContext& ctx) {
  if (auto r = ctx.store.compact(); !r) {
    return fail_with(ctx, "compact", r.error());
  }
  ctx.out << "compacted " << ctx.data << "\n";
  return kExitOk;
}

int run_reindex(CommandContext& ctx) {
  auto n = ctx.directory.reindex_claims();
  if (!n) {
    return fail_with(ctx, "reindex", n.error());
  }
  ctx.out << "rewrote the key index of " << *n << " certificates\n";
  return kExitOk;
}

int run_stats(CommandContext& ctx) {
  auto r = ctx.store.stats();
  if (!r) {
    return fail_with(ctx, "stats", r.error());
  }
  auto recorded = service::stored_mode(ctx.store);
  ctx.out << "certificates " << r->certificates << "\nlast_seq " << r->last_seq << "\ndisk_bytes "
          << r->disk_bytes << "\nmode "
          << (recorded && *recorded ? service::describe(**recorded)
                                    : std::string("not recorded (keydird admin set-mode)"))
          << "\n";
  return kExitOk;
}

int run_wkd_export(Cli& c, CommandContext& ctx) {
  std::string policy;
  if (!c.wkd_policy_file.empty()) {
    auto p = read_small_file(ctx.path(c.wkd_policy_file));
    if (!p) {
      ctx.err << "keydird wkd-export: cannot read --policy " << c.wkd_policy_file << "\n";
      return kExitUsage;
    }
    policy = *p;
  }
  auto r = service::wkd_export(ctx.directory, c.wkd_export_domain, ctx.path(c.out), policy,
                               c.max_results);
  if (!r) {
    return fail_with(ctx, "wkd-export", r.error());
  }
  ctx.out << "wrote " << r->addresses << " addresses (" << r->certificates << " certificates) of "
          << c.wkd_export_domain << " to " << ctx.path(c.out) << " ("
          << service::mode_name(ctx.directory.mode()) << " mode: what the live WKD answers)\n";
  return kExitOk;
}

}  // namespace keydir::server
