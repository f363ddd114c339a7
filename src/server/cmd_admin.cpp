// keydird admin: publish, unpublish, delete, restore, list-pending,
// set-mode, log, list, roster.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/time_format.hpp"
#include "server/cmd.hpp"
#include "server/command_util.hpp"
#include "service/roster.hpp"

namespace keydir::server {

using nlohmann::json;
using service::ModeSetting;
using service::PublishMode;

namespace {

int run_admin_publish(Cli& c, CommandContext& ctx, const openpgp::Fingerprint& fpr,
                      const std::string& email, bool publish) {
  const std::string cmd = publish ? "admin publish" : "admin unpublish";
  auto mode = ctx.directory.mode_setting();
  if (mode.mode == PublishMode::Open) {
    ctx.err << "keydird " << cmd << ": the directory is in open mode: every valid address is "
            << "published; publish and unpublish apply to verified and managed mode\n";
    return kExitFailure;
  }
  auto vc = ctx.directory.stored_summary(fpr);
  if (!vc) {
    if (vc.error().code == ErrorCode::NotFound) {
      ctx.err << "keydird " << cmd << ": no key " << fpr.to_hex() << " in the directory\n";
      return kExitFailure;
    }
    return fail_with(ctx, cmd, vc.error());
  }
  auto published = ctx.store.published(fpr);
  if (!published) {
    return fail_with(ctx, cmd, published.error());
  }
  bool on_key = false;
  bool current = false;
  for (const auto& st : vc->user_id_states()) {
    if (st.email && st.email->address() == email) {
      on_key = true;
      current = current || !st.revocation;
    }
  }
  const bool is_published =
      std::find(published->begin(), published->end(), email) != published->end();
  if (!on_key && !is_published) {
    ctx.err << "keydird " << cmd << ": key " << fpr.to_hex() << " has no user ID with the address "
            << email << "\n";
    return kExitFailure;
  }
  if (publish) {
    if (!current) {
      ctx.err << "keydird admin publish: the user ID with " << email << " on " << fpr.to_hex()
              << " is revoked: it cannot be published\n";
      return kExitFailure;
    }
    auto can = ctx.directory.publishable_addresses(*vc);
    if (std::find(can.begin(), can.end(), email) == can.end()) {
      ctx.err << "keydird admin publish: " << email << " is not of a managed domain ("
              << address_list(mode.managed_domains) << ")\n";
      return kExitFailure;
    }
    if (is_published) {
      ctx.out << email << " is already published on " << fpr.to_hex() << "\n";
      return kExitOk;
    }
  } else if (!is_published) {
    ctx.out << email << " is not published on " << fpr.to_hex() << ": nothing to do\n";
    return kExitOk;
  }
  auto r = publish ? ctx.directory.set_published(fpr, {email}, {})
                   : ctx.directory.set_published(fpr, {}, {email});
  if (!r) {
    return fail_with(ctx, cmd, r.error());
  }
  if (auto a = audit(ctx, {{"action", publish ? "publish" : "unpublish"},
                           {"key", fpr.to_hex()},
                           {"address", email}});
      !a) {
    return fail_with(ctx, cmd, a.error());
  }
  ctx.out << (publish ? "published " : "unpublished ") << email << " on " << fpr.to_hex() << "\n";
  (void)c;
  return kExitOk;
}

int run_set_mode(Cli& c, CommandContext& ctx) {
  ModeSetting target;
  target.mode = *service::parse_mode(c.set_mode_name);
  if (target.mode == PublishMode::Managed) {
    auto domains = normal_domains(c.set_mode_domains);
    if (!domains) {
      return fail_with(ctx, "admin set-mode", domains.error());
    }
    target.managed_domains = *domains;
    if (target.managed_domains.empty()) {
      ctx.err << "keydird admin set-mode: managed mode needs the domains it manages: --domain\n";
      return kExitUsage;
    }
  } else if (!c.set_mode_domains.empty()) {
    ctx.err << "keydird admin set-mode: --domain is for managed mode\n";
    return kExitUsage;
  }
  const ModeSetting current = ctx.directory.mode_setting();
  auto recorded = service::stored_mode(ctx.store);
  if (!recorded) {
    return fail_with(ctx, "admin set-mode", recorded.error());
  }
  // A store of an earlier keydird records no mode: recording it is a change.
  if (*recorded && current == target) {
    ctx.out << "the store is in mode " << service::describe(target) << " already\n";
    return kExitOk;
  }
  const std::string from =
      *recorded ? service::describe(current) : "not recorded (a store of an earlier keydird)";
  auto preview = ctx.directory.set_mode(target, true);
  if (!preview) {
    return fail_with(ctx, "admin set-mode", preview.error());
  }
  ctx.out << "mode " << from << " -> " << service::describe(target) << ":\n"
          << "  " << preview->now_published
          << " addresses become findable (with their user IDs) that are not now\n"
          << "  " << preview->withdrawn << " addresses stop being findable\n";
  if (preview->marks_removed) {
    ctx.out << "  " << preview->marks_removed
            << " confirmations (published marks) of addresses outside the managed domains are "
               "deleted: switching back does not bring them back\n";
  }
  if (target.mode == PublishMode::Open) {
    ctx.out << "  open: every valid address on every key is published, confirmed or not, and "
               "the e-mail verification pages are off\n";
  } else if (current.mode == PublishMode::Open) {
    ctx.out << "  only addresses their owners confirm (or an operator publishes) are published "
               "from now on\n";
  }
  Result<void> servable;
  if (ctx.can_serve) {
    servable = ctx.can_serve(target);
  }
  if (c.dry_run) {
    if (!servable) {
      ctx.out << "  the running server could not switch to it: " << servable.error().detail << "\n";
    }
    ctx.out << "dry run: nothing changed\n";
    return kExitOk;
  }
  if (!servable) {
    ctx.err << "keydird admin set-mode: the running server cannot serve mode "
            << service::describe(target) << ": " << servable.error().detail << "\n";
    return kExitFailure;
  }
  if ((preview->now_published > 0 || preview->marks_removed > 0) && !c.yes) {
    ctx.err << "keydird admin set-mode: this "
            << (preview->now_published > 0
                    ? "publishes " + std::to_string(preview->now_published) +
                          " addresses that nobody confirmed"
                    : "deletes " + std::to_string(preview->marks_removed) + " confirmations")
            << "; run again with --yes to do it\n";
    return kExitFailure;
  }
  // Logged before it starts: a change cut short by a crash is finished at the
  // next start, and the log says so then.
  if (auto a = audit(ctx, {{"action", "set-mode"},
                           {"from", from},
                           {"to", service::describe(target)},
                           {"now-published", preview->now_published},
                           {"withdrawn", preview->withdrawn},
                           {"marks-removed", preview->marks_removed}});
      !a) {
    return fail_with(ctx, "admin set-mode", a.error());
  }
  auto done = ctx.directory.set_mode(target);
  if (!done) {
    return fail_with(ctx, "admin set-mode", done.error());
  }
  ctx.out << "the store is in mode " << service::describe(target) << "; " << done->certificates
          << " keys re-indexed\n";
  return kExitOk;
}

// A file only its owner may read (0600) that replaces `path` atomically once
// written: a temporary file in the same folder, renamed by commit().
class PrivateFile {
 public:
  explicit PrivateFile(std::string path) : path_(std::move(path)) {}
  ~PrivateFile() {
    if (!tmp_.empty()) {
      ::unlink(tmp_.c_str());
    }
  }
  Result<void> open() {
    std::filesystem::path p(path_);
    std::string tmpl = ((p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path()) /
                        ".roster.XXXXXX")
                           .string();
    int fd = ::mkstemp(tmpl.data());  // mode 0600, a new file
    if (fd < 0) {
      return fail(ErrorCode::StorageIo,
                  "cannot write in the folder of " + path_ + ": " + std::strerror(errno));
    }
    ::close(fd);
    tmp_ = tmpl;
    out.open(tmp_, std::ios::binary | std::ios::trunc);
    if (!out) {
      return fail(ErrorCode::StorageIo, "cannot write " + tmp_);
    }
    return {};
  }
  Result<void> commit() {
    out.flush();
    bool ok = static_cast<bool>(out);
    out.close();
    int fd = ::open(tmp_.c_str(), O_RDONLY);
    ok = ok && fd >= 0 && ::fsync(fd) == 0;
    if (fd >= 0) {
      ::close(fd);
    }
    if (!ok || ::rename(tmp_.c_str(), path_.c_str()) != 0) {
      return fail(ErrorCode::StorageIo, "cannot write " + path_ + ": " + std::strerror(errno));
    }
    tmp_.clear();
    return {};
  }
  std::ofstream out;

 private:
  std::string path_;
  std::string tmp_;
};

// keydird admin list (a page) and keydird admin roster (everything, to a file).
int run_admin_list(Cli& c, CommandContext& ctx, bool whole) {
  const std::string cmd = whole ? "admin roster" : "admin list";
  service::RosterFilter filter;
  auto domains = normal_domains(c.list_domains);
  if (!domains) {
    return fail_with(ctx, cmd, domains.error());
  }
  filter.domains = *domains;
  if (c.list_state != "all") {
    filter.state = service::parse_roster_state(c.list_state);
  }
  filter.match = c.list_match;
  std::optional<service::RosterCursor> after;
  if (!c.list_after.empty()) {
    auto parsed = service::RosterCursor::parse(c.list_after);
    if (!parsed) {
      ctx.err << "keydird " << cmd << ": --after: " << parsed.error().detail << "\n";
      return kExitUsage;
    }
    after = *parsed;
  }
  service::RosterFormat format = service::RosterFormat::Text;
  if (c.list_format == "csv" || (whole && c.list_format == "text")) {
    format = service::RosterFormat::Csv;
  } else if (c.list_format == "json") {
    format = service::RosterFormat::Json;
  }
  // A page is answered whole (through the admin socket too); the roster
  // file is written as the store is walked.
  const std::string path = ctx.path(c.out);
  PrivateFile file(path);
  if (whole) {
    if (auto o = file.open(); !o) {
      return fail_with(ctx, cmd, o.error());
    }
  }
  std::ostream& out = whole ? static_cast<std::ostream&>(file.out) : ctx.out;
  service::RosterWriter writer(out, format);
  writer.begin();
  const std::size_t limit = whole ? std::numeric_limits<std::size_t>::max() : c.list_limit;
  std::size_t rows = 0;
  std::optional<service::RosterCursor> last;
  bool more = false;
  auto walked = service::walk_roster(ctx.directory, filter, after, [&](const auto& r) {
    if (rows == limit) {
      more = true;
      return false;
    }
    writer.row(r);
    last = service::RosterCursor{r.fingerprint, r.address};
    ++rows;
    return true;
  });
  if (!walked) {
    return fail_with(ctx, cmd, walked.error());
  }
  const std::optional<service::RosterCursor> next = more ? last : std::nullopt;
  writer.end(next);
  if (whole) {
    if (auto w = file.commit(); !w) {
      return fail_with(ctx, cmd, w.error());
    }
    ctx.err << rows << " rows written to " << path << " (mode 0600)\n";
    return kExitOk;
  }
  if (format == service::RosterFormat::Csv && next) {
    ctx.err << "next: --after " << next->to_string() << "\n";
  }
  ctx.err << rows << (rows == 1 ? " row" : " rows") << (next ? " (more follow)" : "") << "\n";
  return kExitOk;
}

}  // namespace

int run_admin(Cli& c, CommandContext& ctx) {
  if (c.admin_list->parsed() || c.admin_roster->parsed()) {
    return run_admin_list(c, ctx, c.admin_roster->parsed());
  }
  if (c.admin_pending->parsed()) {
    std::uint64_t n = 0;
    auto walked = ctx.store.for_each_token([&](ByteView, const storage::VerifyToken& t) {
      if (t.kind == storage::VerifyToken::Kind::Verify && t.used_at == 0) {
        ctx.out << t.fingerprint.to_hex() << " " << t.email << " expires "
                << utc_timestamp(t.expires) << "\n";
        ++n;
      }
      return true;
    });
    if (!walked) {
      return fail_with(ctx, "admin list-pending", walked.error());
    }
    ctx.err << n << " pending\n";
    return kExitOk;
  }
  if (c.admin_set_mode->parsed()) {
    return run_set_mode(c, ctx);
  }
  if (c.admin_log->parsed()) {
    auto walked = ctx.store.for_each_audit([&](const storage::AuditEntry& e) {
      json j = json::parse(e.text, nullptr, false);
      if (c.json_output) {
        json line = {{"seq", e.seq}, {"time", utc_timestamp(e.time)}, {"entry", j}};
        ctx.out << line.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
        return true;
      }
      // One line an entry: control characters in a value (a --reason with a
      // newline) are shown escaped, so no entry can forge another.
      auto shown = [](const std::string& v) {
        std::string o;
        for (char ch : v) {
          if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(ch));
            o += buf;
          } else {
            o.push_back(ch);
          }
        }
        return o;
      };
      ctx.out << e.seq << " " << utc_timestamp(e.time);
      if (j.is_object()) {
        auto text = [&](const char* key) {
          return j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                       : std::string("?");
        };
        ctx.out << " " << shown(text("action"));
        for (const auto& [k, v] : j.items()) {
          if (k != "action" && k != "by") {
            ctx.out << " " << shown(k) << "="
                    << shown(v.is_string()
                                 ? v.get<std::string>()
                                 : v.dump(-1, ' ', false, json::error_handler_t::replace));
          }
        }
        ctx.out << " (" << shown(text("by")) << ")";
      } else {
        ctx.out << " " << shown(e.text);
      }
      ctx.out << "\n";
      return true;
    });
    if (!walked) {
      return fail_with(ctx, "admin log", walked.error());
    }
    return kExitOk;
  }
  auto fpr = openpgp::Fingerprint::from_hex(c.admin_fpr);
  if (!fpr) {
    ctx.err << "keydird admin: not a fingerprint: " << c.admin_fpr << "\n";
    return kExitUsage;
  }
  if (c.admin_publish->parsed() || c.admin_unpublish->parsed()) {
    auto e = openpgp::Email::parse(c.admin_email);
    if (!e) {
      ctx.err << "keydird admin: not an e-mail address: " << c.admin_email << "\n";
      return kExitUsage;
    }
    return run_admin_publish(c, ctx, *fpr, e->address(), c.admin_publish->parsed());
  }
  if (c.admin_delete->parsed()) {
    auto r = ctx.directory.remove(*fpr, c.admin_reason);
    if (!r) {
      if (r.error().code == ErrorCode::NotFound) {
        ctx.err << "keydird admin delete: no key " << fpr->to_hex() << " in the directory\n";
        return kExitFailure;
      }
      return fail_with(ctx, "admin delete", r.error());
    }
    if (auto a =
            audit(ctx, {{"action", "delete"}, {"key", fpr->to_hex()}, {"reason", c.admin_reason}});
        !a) {
      return fail_with(ctx, "admin delete", a.error());
    }
    ctx.out << "deleted " << fpr->to_hex() << " (it stays deleted: keydird admin restore lifts "
            << "that)\n";
    return kExitOk;
  }
  if (c.admin_restore->parsed()) {
    auto tomb = ctx.store.tombstone(*fpr);
    if (!tomb) {
      return fail_with(ctx, "admin restore", tomb.error());
    }
    if (!*tomb) {
      ctx.err << "keydird admin restore: " << fpr->to_hex() << " is not a deleted key\n";
      return kExitFailure;
    }
    if (auto r = ctx.store.clear_tombstone(*fpr); !r) {
      return fail_with(ctx, "admin restore", r.error());
    }
    if (auto a = audit(ctx, {{"action", "restore"}, {"key", fpr->to_hex()}}); !a) {
      return fail_with(ctx, "admin restore", a.error());
    }
    ctx.out << "lifted the tombstone of " << fpr->to_hex() << ": the key can be uploaded again\n";
    return kExitOk;
  }
  return kExitUsage;
}

}  // namespace keydir::server
