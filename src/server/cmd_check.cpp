// keydird check: the store's consistency (--deep: every certificate
// re-verified; --expect: fingerprints that must be in it).
#include <fstream>

#include "server/cmd.hpp"
#include "server/command_util.hpp"
#include "service/check.hpp"
#include "service/transparency.hpp"

namespace keydir::server {

namespace {
// The transparency log's own check: every stored hash and the root
// recomputed from the entries, and the last checkpoint signed (with
// DATA/log.key, when there is one) checked against the tree.
Result<storage::ConsistencyReport> verify_log(CommandContext& ctx) {
  KEYDIR_TRY(auto key, service::read_log_key(ctx.data + "/log.key"));
  if (!key) {
    return ctx.store.verify_log();
  }
  service::TransparencyLog log(ctx.store, std::move(*key));
  return log.verify();
}
}  // namespace

int run_log_verify(CommandContext& ctx) {
  auto r = verify_log(ctx);
  if (!r) {
    return fail_with(ctx, "log verify", r.error());
  }
  for (const auto& p : r->problems) {
    ctx.out << "problem: " << p << "\n";
  }
  auto state = ctx.store.log_state();
  ctx.out << r->index_entries << " log entries";
  if (state) {
    ctx.out << ", root " << tlog::hash_base64(state->root);
  }
  ctx.out << ": " << (r->problem_count == 0 ? "consistent" : "PROBLEMS FOUND") << "\n";
  return r->problem_count == 0 ? kExitOk : kExitFailure;
}

int run_check(Cli& c, CommandContext& ctx) {
  auto r = service::check(ctx.directory, c.deep,
                          // In a running server: one thread, the other
                          // cores are the lookups'.
                          c.threads != 0 ? c.threads : (ctx.online ? 1 : 0));
  if (!r) {
    return fail_with(ctx, "check", r.error());
  }
  auto log = verify_log(ctx);
  if (!log) {
    return fail_with(ctx, "check", log.error());
  }
  for (const auto& p : log->problems) {
    r->problems.push_back(p);
  }
  r->problem_count += log->problem_count;
  std::uint64_t missing = 0;
  if (!c.expect.empty()) {
    std::ifstream in(ctx.path(c.expect));
    if (!in) {
      ctx.err << "keydird check: cannot read " << c.expect << "\n";
      return kExitUsage;
    }
    std::string line;
    while (std::getline(in, line)) {
      auto fpr = openpgp::Fingerprint::from_hex(line);
      if (!fpr) {
        continue;
      }
      auto rec = ctx.store.get(*fpr);
      if (!rec || !*rec) {
        if (++missing <= 10) {
          ctx.out << "missing: " << line << "\n";
        }
      }
    }
  }
  for (const auto& p : r->store.problems) {
    ctx.out << "problem: " << p << "\n";
  }
  for (const auto& p : r->problems) {
    ctx.out << "problem: " << p << "\n";
  }
  ctx.out << r->store.certificates << " certificates, " << r->store.index_entries
          << " index entries" << (c.deep ? ", " + std::to_string(r->verified) + " re-verified" : "")
          << ": " << (r->ok() && missing == 0 ? "consistent" : "PROBLEMS FOUND")
          << (missing ? " (" + std::to_string(missing) + " expected certificates missing)" : "")
          << "\n";
  return r->ok() && missing == 0 ? kExitOk : kExitFailure;
}

}  // namespace keydir::server
