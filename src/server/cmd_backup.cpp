// keydird backup: an online checkpoint of the store, with its token key.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "server/cmd.hpp"
#include "server/command_util.hpp"

namespace keydir::server {

namespace fs = std::filesystem;

int run_backup(Cli& c, CommandContext& ctx) {
  const std::string out = ctx.path(c.out);
  if (auto r = ctx.store.checkpoint(out); !r) {
    return fail_with(ctx, "backup", r.error());
  }
  // It holds what owners withheld: as private as the data folder should be.
  std::error_code ec;
  fs::permissions(out, fs::perms::owner_all, fs::perm_options::replace, ec);
  // The token key lives beside the database: a restored directory needs it
  // for the upload tokens it gave out.
  auto key = token_secret(ctx.data);
  if (!key || !write_token_secret(out, *key)) {
    ctx.err << "keydird backup: cannot copy the token key to " << out << "\n";
    return kExitFailure;
  }
  // So is the transparency log's key: the restored log signs on with it.
  if (fs::exists(ctx.data + "/log.key", ec)) {
    fs::copy_file(ctx.data + "/log.key", out + "/log.key", fs::copy_options::overwrite_existing,
                  ec);
    if (ec) {
      ctx.err << "keydird backup: cannot copy the log key to " << out << ": " << ec.message()
              << "\n";
      return kExitFailure;
    }
  }
  if (auto a = audit(ctx, {{"action", "backup"}, {"out", out}}); !a) {
    return fail_with(ctx, "backup", a.error());
  }
  ctx.out << "backup written to " << out << " (restore: use it as --data)\n";
  return kExitOk;
}

}  // namespace keydir::server
