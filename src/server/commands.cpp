// keydird's maintenance commands: the dispatch (each command is in its own
// cmd_*.cpp, server/cmd.hpp), what they share (server/command_util.hpp), and
// the token key and the store's mode, which serve uses too.
#include "server/commands.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "openpgp/crypto/primitives.hpp"
#include "server/cmd.hpp"
#include "server/command_util.hpp"

namespace keydir::server {

namespace fs = std::filesystem;
using nlohmann::json;
using service::ModeSetting;

Result<void> audit_as(storage::KeyStore& store, service::KeyDirectory& directory,
                      const std::string& who, json entry) {
  entry["by"] = who;
  auto seq = store.append_audit(directory.now(),
                                entry.dump(-1, ' ', false, json::error_handler_t::replace));
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

bool runs_online(const Cli& c) {
  return !c.serve->parsed() && !c.restore->parsed() && !c.migrate->parsed();
}

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
                "the store in " + data +
                    " was written by an older keydird and does not record "
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
                                const std::string& who, std::ostream& log) {
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
  if (c.log_verify->parsed()) {
    return run_log_verify(ctx);
  }
  if (c.backup->parsed()) {
    return run_backup(c, ctx);
  }
  if (c.recon_status->parsed()) {
    return run_recon_status(ctx, c.json_output);
  }
  if (c.recon_rebuild->parsed()) {
    return run_recon_rebuild(ctx);
  }
  if (c.reindex->parsed()) {
    return run_reindex(ctx);
  }
  if (c.compact->parsed()) {
    return run_compact(ctx);
  }
  if (c.wkd_export->parsed()) {
    return run_wkd_export(c, ctx);
  }
  if (c.stats->parsed()) {
    return run_stats(ctx);
  }
  return kExitUsage;
}

}  // namespace keydir::server
