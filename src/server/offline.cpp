// A maintenance command as the command line gives it: through the running
// server's admin socket when there is one (the command runs inside it), or on
// the stopped store, opened here with its recorded mode.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "common/version.hpp"
#include "server/admin_socket.hpp"
#include "server/cmd.hpp"
#include "service/backup.hpp"

namespace keydir::server {

namespace {

// The files and folders a command names (the folder an output goes into,
// the inputs), as this process sees them, with the working directory.
std::vector<AdminSocket::SeenFile> seen_files(const Cli& c, const std::string& cwd) {
  std::vector<AdminSocket::SeenFile> out;
  auto add = [&](std::filesystem::path p, bool parent) {
    if (p.empty()) {
      return;
    }
    if (p.is_relative()) {
      p = std::filesystem::path(cwd) / p;
    }
    p = p.lexically_normal();
    if (parent) {
      p = p.has_filename() ? p.parent_path() : p.parent_path().parent_path();
    }
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      out.push_back({p.string(), static_cast<std::uint64_t>(st.st_dev),
                     static_cast<std::uint64_t>(st.st_ino)});
    }
  };
  add(c.out, true);
  add(c.expect, false);
  add(c.wkd_policy_file, false);
  add(c.ack_path, true);
  for (const auto& f : c.files) {
    add(f, false);
  }
  return out;
}

}  // namespace

std::optional<int> run_through_socket(Cli& c, int argc, char** argv) {
  const std::string name = c.command_name();
  // A running server's admin socket: the command runs inside it.
  const std::string socket = admin_socket_path(c.data);
  std::error_code ec;
  const bool there = std::filesystem::exists(socket, ec);
  if (ec == std::errc::permission_denied) {
    std::cerr
        << "keydird " << name << ": permission denied on the data folder " << c.data
        << " (run as the user that owns it, the one keydird runs as: keydir for the package)\n";
    return kExitFailure;
  }
  if (there) {
    std::vector<std::string> args(argv + 1, argv + argc);
    const std::string cwd = std::filesystem::current_path(ec).string();
    struct stat data_st {};
    ::stat(c.data.c_str(), &data_st);
    auto reply = admin_request(socket, args, cwd, data_st.st_uid, seen_files(c, cwd));
    if (reply) {
      std::cout << reply->out << std::flush;
      std::cerr << reply->err << std::flush;
      return reply->exit;
    }
    if (reply.error().code == keydir::ErrorCode::Unauthorized) {
      std::cerr << "keydird " << name << ": " << reply.error().detail << "\n";
      return kExitFailure;
    }
    if (reply.error().code != keydir::ErrorCode::NotFound) {
      std::cerr << "keydird " << name << ": " << reply.error().detail << "\n";
      return kExitFailure;
    }
    // A socket nobody listens on (a server that died): the store is free.
  }
  return std::nullopt;
}

int run_offline(Cli& c) {
  if (c.restore->parsed()) {
    return run_restore(c);
  }
  const std::string name = c.command_name();
  const bool create = c.import->parsed() || c.restore->parsed();
  keydir::storage::RocksOptions o;
  o.sync_writes = c.sync;
  o.create_if_missing = create;
  // Bulk import reads little back: a small cache keeps its memory bounded.
  o.block_cache_bytes = (c.import->parsed() ? 64u : 256u) << 20;
  std::error_code ec;
  if (!create && !std::filesystem::exists(c.data + "/CURRENT", ec)) {
    std::cerr << "keydird " << name << ": "
              << (ec == std::errc::permission_denied
                      ? "permission denied on the data folder " + c.data +
                            " (run as the user that owns it, the one keydird runs as: keydir for "
                            "the package)"
                      : "no store in " + c.data)
              << "\n";
    return kExitFailure;
  }
  o.program = "keydird " + std::string(keydir::version());
  o.backup_files = {"token.key", "log.key"};  // a restored backup needs them (cmd_backup.cpp)
  auto opened = keydir::storage::RocksKeyStore::open(c.data, o);
  if (!opened) {
    std::cerr << "keydird " << name << ": " << opened.error().detail;
    if (opened.error().detail.find("in use by another keydird") != std::string::npos &&
        !std::filesystem::exists(admin_socket_path(c.data), ec)) {
      std::cerr << " that has no admin socket (" << admin_socket_path(c.data)
                << "): a keydird older than this one, or one that could not make the socket "
                   "(its log says why); stop it to run this command";
    }
    std::cerr << "\n";
    return kExitFailure;
  }
  auto& store = **opened;
  if (const auto& m = store.migration()) {
    std::cerr << "keydird " << name << ": " << keydir::storage::describe(*m, c.data) << "\n";
  }
  if (c.migrate->parsed()) {
    return run_migrate(c, store);
  }

  // The mode: recorded in the store; a new store takes import's --mode.
  service::ModeSetting mode;
  bool recorded_before = true;
  if (c.import->parsed() || c.dump->parsed() || c.wkd_export->parsed() || c.check->parsed() ||
      (c.admin->parsed() && !c.admin_set_mode->parsed() && !c.admin_log->parsed())) {
    std::optional<service::ModeSetting> requested;
    if (c.import->parsed() && !c.import_mode.empty()) {
      requested = service::ModeSetting{*service::parse_mode(c.import_mode), {}};
      for (const auto& d : c.import_domains) {
        auto n = keydir::openpgp::normalize_domain(d);
        if (!n) {
          std::cerr << "keydird import: --domain " << d << ": " << n.error().detail << "\n";
          return kExitUsage;
        }
        requested->managed_domains.push_back(*n);
      }
      std::sort(requested->managed_domains.begin(), requested->managed_domains.end());
      if ((requested->mode == service::PublishMode::Managed) !=
          !requested->managed_domains.empty()) {
        std::cerr << "keydird import: --domain goes with --mode managed, and managed mode needs "
                     "its domains\n";
        return kExitUsage;
      }
    } else if (!c.import_domains.empty()) {
      std::cerr << "keydird import: --domain goes with --mode managed\n";
      return kExitUsage;
    }
    auto settled =
        settle_mode(store, requested, requested.has_value(), c.data, false, &recorded_before);
    if (!settled) {
      std::cerr << "keydird " << name << ": " << settled.error().detail << "\n";
      return kExitUsage;
    }
    mode = *settled;
  } else if (auto recorded = service::stored_mode(store); recorded && *recorded) {
    mode = **recorded;
  }
  service::DirectoryOptions options;
  options.mode = mode.mode;
  options.managed_domains = mode.managed_domains;
  service::KeyDirectory directory(store, options, service::system_clock());
  const std::string who = "uid " + std::to_string(::getuid()) + " (offline)";
  if (c.import->parsed() && !c.verify_only && !recorded_before) {
    if (auto r = adopt_mode(store, directory, who, std::cerr); !r) {
      std::cerr << "keydird import: " << r.error().detail << "\n";
      return kExitFailure;
    }
  } else if (!c.restore->parsed()) {
    if (auto r = resume_mode_change(store, directory, who, std::cerr); !r) {
      std::cerr << "keydird " << name
                << ": finishing an interrupted mode change: " << r.error().detail << "\n";
      return kExitFailure;
    }
  }
  CommandContext ctx{store, directory, c.data, "", std::cout, std::cerr, who, false, {}, {}};
  return run_command(c, ctx);
}

}  // namespace keydir::server
