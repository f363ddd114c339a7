// The entry point of each of keydird's maintenance commands, one file each
// (cmd_*.cpp); run_command (server/commands.hpp) picks one. Private to keydird.
#pragma once

#include <optional>

#include "server/cli.hpp"
#include "server/commands.hpp"

namespace keydir::server {

// admin publish, unpublish, delete, restore, list-pending, set-mode, log
// (cmd_admin.cpp).
int run_admin(Cli& c, CommandContext& ctx);
int run_import(Cli& c, CommandContext& ctx);  // cmd_import.cpp
int run_dump(Cli& c, CommandContext& ctx);    // cmd_dump.cpp
int run_backup(Cli& c, CommandContext& ctx);  // cmd_backup.cpp
int run_check(Cli& c, CommandContext& ctx);   // cmd_check.cpp
int run_log_verify(CommandContext& ctx);      // cmd_check.cpp
// recon status, recon rebuild (cmd_recon.cpp).
int run_recon_status(CommandContext& ctx, bool as_json);
int run_recon_rebuild(CommandContext& ctx);
// compact, reindex, stats, wkd-export (cmd_maintenance.cpp).
int run_compact(CommandContext& ctx);
int run_reindex(CommandContext& ctx);
int run_stats(CommandContext& ctx);
int run_wkd_export(Cli& c, CommandContext& ctx);

// `keydird restore`: a full backup into a new data folder; it opens no
// existing store and never runs online (cmd_restore.cpp).
int run_restore(Cli& c);

// `keydird migrate`: what opening the store did to its schema; offline only
// (cmd_migrate.cpp).
int run_migrate(Cli& c, const storage::RocksKeyStore& store);

// A command from the command line (offline.cpp). Through the running
// server's admin socket when it has one: the command's exit status, or
// nullopt when no server listens (the store is free).
std::optional<int> run_through_socket(Cli& c, int argc, char** argv);
// On the stopped store, opened here (restore: its own way).
int run_offline(Cli& c);

}  // namespace keydir::server
