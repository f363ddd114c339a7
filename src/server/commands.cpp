#include "server/commands.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/time_format.hpp"
#include "openpgp/crypto/primitives.hpp"
#include "server/recon_peer.hpp"
#include "service/backup.hpp"
#include "service/check.hpp"
#include "service/dump.hpp"
#include "service/importer.hpp"
#include "service/wkd.hpp"

namespace keydir::server {

namespace fs = std::filesystem;
using nlohmann::json;
using service::ModeSetting;
using service::PublishMode;

namespace {

// Imports that store at least this many certificates end with a compaction.
constexpr std::uint64_t kCompactAfterImport = 50000;

// An admin action, kept in the store's audit log.
Result<void> audit_as(storage::KeyStore& store, service::KeyDirectory& directory,
                      const std::string& who, json entry) {
  entry["by"] = who;
  auto seq = store.append_audit(
      directory.now(), entry.dump(-1, ' ', false, json::error_handler_t::replace));
  if (!seq) {
    return tl::unexpected(seq.error());
  }
  return {};
}
Result<void> audit(CommandContext& ctx, json entry) {
  return audit_as(ctx.store, ctx.directory, ctx.who, std::move(entry));
}

int fail_with(CommandContext& ctx, std::string_view command, const Error& e) {
  ctx.err << "keydird " << command << ": " << e.detail << "\n";
  return e.code == ErrorCode::BadQuery ? kExitUsage : kExitFailure;
}

std::string address_list(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& a : v) {
    out += (out.empty() ? "" : ", ") + a;
  }
  return out;
}

Result<std::vector<std::string>> normal_domains(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& d : in) {
    auto n = openpgp::normalize_domain(d);
    if (!n) {
      return fail(ErrorCode::BadQuery, "--domain " + d + ": " + n.error().detail);
    }
    if (std::find(out.begin(), out.end(), *n) == out.end()) {
      out.push_back(*n);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

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
      ctx.out << "  the running server could not switch to it: " << servable.error().detail
              << "\n";
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

int run_admin(Cli& c, CommandContext& ctx) {
  if (c.admin_pending->parsed()) {
    std::uint64_t n = 0;
    auto walked = ctx.store.for_each_token([&](ByteView, const storage::VerifyToken& t) {
      if (t.kind == storage::VerifyToken::Kind::Verify) {
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
                    << shown(v.is_string() ? v.get<std::string>()
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
    if (auto a = audit(ctx, {{"action", "delete"}, {"key", fpr->to_hex()}, {"reason", c.admin_reason}});
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
    ctx.out << "lifted the tombstone of " << fpr->to_hex()
            << ": the key can be uploaded again\n";
    return kExitOk;
  }
  return kExitUsage;
}

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
          << " index entries"
          << (c.deep ? ", " + std::to_string(r->verified) + " re-verified" : "") << ": "
          << (r->ok() && missing == 0 ? "consistent" : "PROBLEMS FOUND")
          << (missing ? " (" + std::to_string(missing) + " expected certificates missing)" : "")
          << "\n";
  return r->ok() && missing == 0 ? kExitOk : kExitFailure;
}

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
                          " mode (owners confirm their addresses, an operator publishes them, or import with --publish-addresses)\n");
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
    if (auto a = audit(ctx, {{"action", "dump --full"}, {"out", out},
                             {"certificates", r->certificates}});
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
  ctx.out << "dumped " << r->certificates << " certificates in " << r->files << " files to "
          << out << (r->deleted ? ", " + std::to_string(r->deleted) + " deleted" : "")
          << "; next incremental dump: --since " << r->last_seq << "\n";
  if (ctx.directory.mode() != PublishMode::Open) {
    ctx.out << "only published user IDs are in it (" << service::mode_name(ctx.directory.mode())
            << " mode); keydird dump --full makes a complete backup\n";
  }
  return kExitOk;
}

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
  if (auto a = audit(ctx, {{"action", "backup"}, {"out", out}}); !a) {
    return fail_with(ctx, "backup", a.error());
  }
  ctx.out << "backup written to " << out << " (restore: use it as --data)\n";
  return kExitOk;
}

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
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
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

}  // namespace

std::optional<std::string> read_small_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (text.size() > 64 * 1024) {
    return std::nullopt;
  }
  return text;
}

std::string CommandContext::path(const std::string& p) const {
  if (p.empty() || fs::path(p).is_absolute() || cwd.empty()) {
    return p;
  }
  return (fs::path(cwd) / p).lexically_normal().string();
}

bool runs_online(const Cli& c) { return !c.serve->parsed() && !c.restore->parsed(); }

std::optional<std::string> token_secret(const std::string& data_dir) {
  const std::string path = data_dir + "/token.key";
  if (auto existing = read_small_file(path); existing && existing->size() == 32) {
    return existing;
  }
  auto random = openpgp::crypto::random_bytes(32);
  if (!random) {
    return std::nullopt;
  }
  std::string key(as_chars(*random));
  return write_token_secret(data_dir, key) ? std::optional<std::string>(key) : std::nullopt;
}

bool write_token_secret(const std::string& data_dir, std::string_view key) {
  const std::string path = data_dir + "/token.key";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    return false;
  }
  bool ok = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  return ok;
}

Result<ModeSetting> settle_mode(storage::KeyStore& store,
                                const std::optional<ModeSetting>& requested, bool legacy_ok,
                                const std::string& data, bool record, bool* recorded_before) {
  KEYDIR_TRY(auto recorded, service::stored_mode(store));
  if (recorded_before) {
    *recorded_before = recorded.has_value();
  }
  if (recorded) {
    if (requested && !(*requested == *recorded)) {
      return fail(ErrorCode::UnsupportedOperation,
                  "the store in " + data + " is in mode " + service::describe(*recorded) +
                      ", not " + service::describe(*requested) +
                      "; to change it: keydird admin set-mode " +
                      std::string(service::mode_name(requested->mode)) + " --data " + data +
                      " (it says what the change publishes or withdraws first)");
    }
    return *recorded;
  }
  KEYDIR_TRY(auto stats, store.stats());
  if (stats.certificates > 0 && !legacy_ok) {
    return fail(ErrorCode::UnsupportedOperation,
                "the store in " + data + " was written by an older keydird and does not record "
                "its publishing mode: record it once with keydird admin set-mode MODE --data " +
                    data + " (or start keydird serve on it with its --mode)");
  }
  ModeSetting m = requested.value_or(ModeSetting{});
  if (record) {
    KEYDIR_CHECK(service::record_mode(store, m));
  }
  return m;
}

Result<void> adopt_mode(storage::KeyStore& store, service::KeyDirectory& directory,
                        const std::string& who, std::ostream& log) {
  KEYDIR_TRY(auto stats, store.stats());
  const ModeSetting mode = directory.mode_setting();
  if (stats.certificates == 0) {
    return service::record_mode(store, mode);
  }
  log << "keydird: the store records no publishing mode (an earlier keydird wrote it): "
      << "recording " << service::describe(mode) << " and re-indexing its keys\n";
  KEYDIR_CHECK(audit_as(store, directory, who,
                        {{"action", "set-mode"},
                         {"from", "not recorded (a store of an earlier keydird)"},
                         {"to", service::describe(mode)}}));
  KEYDIR_TRY(auto change, directory.set_mode(mode));
  log << "keydird: " << change.certificates << " keys re-indexed, " << change.withdrawn
      << " addresses no longer findable, " << change.now_published << " now findable\n";
  return {};
}

Result<void> resume_mode_change(storage::KeyStore& store, service::KeyDirectory& directory,
                                const std::string& who,
                                std::ostream& log) {
  KEYDIR_TRY(auto resumed, directory.resume_mode_change());
  if (resumed) {
    log << "keydird: finished an interrupted change to mode "
        << service::describe(directory.mode_setting()) << "\n";
    KEYDIR_CHECK(audit_as(store, directory, who,
                          {{"action", "set-mode resumed"},
                           {"to", service::describe(directory.mode_setting())},
                           {"rewritten", resumed->certificates}}));
  }
  return {};
}

int run_command(Cli& c, CommandContext& ctx) {
  if (c.admin->parsed()) {
    return run_admin(c, ctx);
  }
  if (c.import->parsed()) {
    return run_import(c, ctx);
  }
  if (c.dump->parsed()) {
    return run_dump(c, ctx);
  }
  if (c.check->parsed()) {
    return run_check(c, ctx);
  }
  if (c.backup->parsed()) {
    return run_backup(c, ctx);
  }
  if (c.recon_status->parsed()) {
    return run_recon_status(ctx, c.json_output);
  }
  if (c.recon_rebuild->parsed()) {
    auto t0 = std::chrono::steady_clock::now();
    auto n = ctx.store.rebuild_recon_tree();
    if (!n) {
      return fail_with(ctx, "recon rebuild", n.error());
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count();
    ctx.out << "rebuilt the prefix tree of " << *n << " elements in " << ms << " ms\n";
    return kExitOk;
  }
  if (c.reindex->parsed()) {
    auto n = ctx.directory.reindex_claims();
    if (!n) {
      return fail_with(ctx, "reindex", n.error());
    }
    ctx.out << "rewrote the key index of " << *n << " certificates\n";
    return kExitOk;
  }
  if (c.compact->parsed()) {
    if (auto r = ctx.store.compact(); !r) {
      return fail_with(ctx, "compact", r.error());
    }
    ctx.out << "compacted " << ctx.data << "\n";
    return kExitOk;
  }
  if (c.wkd_export->parsed()) {
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
    ctx.out << "wrote " << r->addresses << " addresses (" << r->certificates
            << " certificates) of " << c.wkd_export_domain << " to " << ctx.path(c.out) << " ("
            << service::mode_name(ctx.directory.mode()) << " mode: what the live WKD answers)\n";
    return kExitOk;
  }
  if (c.stats->parsed()) {
    auto r = ctx.store.stats();
    if (!r) {
      return fail_with(ctx, "stats", r.error());
    }
    auto recorded = service::stored_mode(ctx.store);
    ctx.out << "certificates " << r->certificates << "\nlast_seq " << r->last_seq
            << "\ndisk_bytes " << r->disk_bytes << "\nmode "
            << (recorded && *recorded ? service::describe(**recorded)
                                      : std::string("not recorded (keydird admin set-mode)"))
            << "\n";
    return kExitOk;
  }
  return kExitUsage;
}

}  // namespace keydir::server
