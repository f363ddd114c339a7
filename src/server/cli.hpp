// keydird's command line: every subcommand and option, parsed into one
// struct. main() parses the process's arguments with it; the admin socket
// parses a forwarded request's arguments with a fresh one, so that a command
// means the same online and offline.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "server/http_server.hpp"
#include "service/verification.hpp"

namespace keydir::server {

struct Cli {
  CLI::App app{"keydird — OpenPGP key directory server"};
  std::string data;
  bool sync = false;
  std::string listen = "127.0.0.1:11371";
  keydir::server::HttpOptions http;
  std::string tls_cert;
  std::string tls_key;
  std::vector<std::string> wkd_domains;
  std::uint64_t log_checkpoint_interval = 300;
  std::vector<std::string> log_witnesses;
  std::size_t max_results = 100;
  std::size_t row_cache_mb = 256;
  std::size_t answer_cache_mb = 64;
  std::uint64_t answer_cache_ttl = 60;
  bool no_query_log = false;
  std::string access_log = "-";
  double add_per_minute = 30;
  double add_burst = 40;
  std::string wkd_policy_file;
  std::string wkd_submission;
  std::string site_name = "keydir";
  std::string contact;      // who runs the directory (the pages)
  std::string policy_file;  // the /policy page's text
  std::string mode_text = "open";
  std::string public_url;
  keydir::service::SmtpOptions smtp;
  double verify_token_hours = 24;
  std::vector<std::string> operator_tokens;
  std::string managed_uploads = "token";
  std::string smtp_password_file;
  std::string operator_token_file;
  double auth_per_minute = 30;
  double auth_burst = 10;
  bool keep_third_party = false;
  bool keep_attributes = false;
  bool refuse_sha1 = false;
  std::string config_path;
  std::string recon_listen;
  std::vector<std::string> peer_specs;
  std::vector<std::string> recon_allow;
  std::vector<std::string> metrics_allow;  // besides loopback
  int gossip_interval = 60;
  std::string recon_filters = "sks";
  int recon_hkp_port = 0;  // 0: the --listen port
  std::vector<std::string> files;
  unsigned threads = 0;
  std::string ack_path;
  bool verify_only = false;
  std::string out;
  std::size_t per_file = 15000;
  std::optional<std::uint64_t> since;
  bool deep = false;
  std::string expect;
  std::string wkd_export_domain;
  std::string admin_fpr;
  std::string admin_email;
  std::string admin_reason = "deleted by the operator";
  // subcommands
  CLI::App* serve = nullptr;
  CLI::App* import = nullptr;
  CLI::App* dump = nullptr;
  CLI::App* check = nullptr;
  CLI::App* log_verify = nullptr;
  CLI::App* backup = nullptr;
  CLI::App* compact = nullptr;
  CLI::App* reindex = nullptr;
  CLI::App* wkd_export = nullptr;
  CLI::App* admin = nullptr;
  CLI::App* admin_pending = nullptr;
  CLI::App* admin_publish = nullptr;
  CLI::App* admin_unpublish = nullptr;
  CLI::App* admin_delete = nullptr;
  CLI::App* admin_restore = nullptr;
  CLI::App* recon_cmd = nullptr;
  CLI::App* recon_status = nullptr;
  CLI::App* recon_rebuild = nullptr;
  CLI::App* stats = nullptr;
  CLI::App* migrate = nullptr;  // the on-disk schema (storage/rocksdb/schema.hpp)
  // added with the store's mode and online administration
  std::string import_mode;
  std::vector<std::string> import_domains;
  bool publish_addresses = false;
  bool full = false;
  std::string restore_from;
  std::string set_mode_name;
  std::vector<std::string> set_mode_domains;
  bool yes = false;
  bool dry_run = false;
  bool json_output = false;
  CLI::App* restore = nullptr;
  CLI::App* admin_set_mode = nullptr;
  CLI::App* admin_log = nullptr;
  // admin list and admin roster (issue #20)
  CLI::App* admin_list = nullptr;
  CLI::App* admin_roster = nullptr;
  std::vector<std::string> list_domains;
  std::string list_state = "all";
  std::string list_match;
  std::size_t list_limit = 100;
  std::string list_after;
  std::string list_format = "text";

  // The subcommand given, as the user typed it: "dump", "admin unpublish",
  // "recon status".
  [[nodiscard]] std::string command_name() const;
};

std::unique_ptr<Cli> make_cli();

}  // namespace keydir::server
