// keydird recon: status (the prefix tree, and the running server's peers)
// and rebuild.
#include <chrono>

#include <nlohmann/json.hpp>

#include "server/cmd.hpp"
#include "server/command_util.hpp"
#include "server/recon_peer.hpp"

namespace keydir::server {

int run_recon_status(CommandContext& ctx, bool as_json) {
  server::ReconOptions ro;
  ro.listen = false;
  ro.gossip_interval_seconds = 0;
  server::ReconPeer peer(ctx.directory, ctx.store, ro);
  auto t0 = std::chrono::steady_clock::now();
  auto s = peer.summary();
  if (!s) {
    return fail_with(ctx, "recon status", s.error());
  }
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  auto st = ctx.store.stats();
  const std::string peers = ctx.recon_peers ? ctx.recon_peers(as_json) : std::string();
  if (as_json) {
    nlohmann::json j = {{"certificates", st ? st->certificates : 0},
                        {"elements", s->elements},
                        {"nodes", s->nodes},
                        {"leaves", s->leaves},
                        {"depth", s->depth},
                        {"root_digest", s->root_digest},
                        {"online", ctx.online}};
    j["peers"] = peers.empty() ? nlohmann::json::array() : nlohmann::json::parse(peers);
    ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  ctx.out << "certificates  " << (st ? st->certificates : 0) << "\n"
          << "elements      " << s->elements << "\n"
          << "nodes         " << s->nodes << " (" << s->leaves << " leaves, depth " << s->depth
          << ")\n"
          << "root digest   " << s->root_digest << "\n"
          << "read in       " << ms << " ms (bit quantum 2, mbar 5, split above 50)\n";
  ctx.out << peers;
  return kExitOk;
}

int run_recon_rebuild(CommandContext& ctx) {
  auto t0 = std::chrono::steady_clock::now();
  auto n = ctx.store.rebuild_recon_tree();
  if (!n) {
    return fail_with(ctx, "recon rebuild", n.error());
  }
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ctx.out << "rebuilt the prefix tree of " << *n << " elements in " << ms << " ms\n";
  return kExitOk;
}

}  // namespace keydir::server
