// keydird check: the store's consistency (--deep: every certificate
// re-verified; --expect: fingerprints that must be in it).
#include <fstream>

#include "server/cmd.hpp"
#include "server/command_util.hpp"
#include "service/check.hpp"

namespace keydir::server {

int run_check(Cli& c, CommandContext& ctx) {
  auto r = service::check(ctx.directory, c.deep);
  if (!r) {
    return fail_with(ctx, "check", r.error());
  }
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
