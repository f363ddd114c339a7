// `keydird serve`: HKP, HKPS, WKD, VKS, the web pages, SKS reconciliation and
// the admin socket, on one store.
#include "server/serve.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <toml++/toml.h>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "api/router.hpp"
#include "common/port.hpp"
#include "server/admin_socket.hpp"
#include "server/commands.hpp"
#include "server/recon_peer.hpp"
#include "server/secrets.hpp"
#include "service/verification.hpp"

namespace keydir::server {

int run_serve(Cli& c) {
  using keydir::service::KeyDirectory;
  auto& data = c.data;
  auto& sync = c.sync;
  auto& listen = c.listen;
  auto& http = c.http;
  auto& tls_cert = c.tls_cert;
  auto& tls_key = c.tls_key;
  auto& wkd_domains = c.wkd_domains;
  auto& max_results = c.max_results;
  auto& row_cache_mb = c.row_cache_mb;
  auto& answer_cache_mb = c.answer_cache_mb;
  auto& answer_cache_ttl = c.answer_cache_ttl;
  auto& no_query_log = c.no_query_log;
  auto& access_log = c.access_log;
  auto& add_per_minute = c.add_per_minute;
  auto& add_burst = c.add_burst;
  auto& wkd_policy_file = c.wkd_policy_file;
  auto& wkd_submission = c.wkd_submission;
  auto& site_name = c.site_name;
  auto& mode_text = c.mode_text;
  auto& public_url = c.public_url;
  auto& smtp = c.smtp;
  auto& verify_token_hours = c.verify_token_hours;
  auto& operator_tokens = c.operator_tokens;
  auto& managed_uploads = c.managed_uploads;
  auto& smtp_password_file = c.smtp_password_file;
  auto& operator_token_file = c.operator_token_file;
  auto& auth_per_minute = c.auth_per_minute;
  auto& auth_burst = c.auth_burst;
  auto& keep_third_party = c.keep_third_party;
  auto& keep_attributes = c.keep_attributes;
  auto& refuse_sha1 = c.refuse_sha1;
  auto& config_path = c.config_path;
  auto& recon_listen = c.recon_listen;
  auto& peer_specs = c.peer_specs;
  auto& recon_allow = c.recon_allow;
  auto& gossip_interval = c.gossip_interval;
  CLI::App* serve = c.serve;
  const bool tokens_on_command_line = serve->get_option("--operator-token")->count() > 0;
  const bool smtp_password_on_command_line =
      serve->get_option("--smtp-password")->count() > 0;

  if (!config_path.empty()) {
    // Each key is an option's long name; a flag on the command line wins.
    toml::table config;
    try {
      config = toml::parse_file(config_path);
    } catch (const toml::parse_error& e) {
      std::cerr << "keydird serve: " << config_path << ": " << e.description() << " (line "
                << e.source().begin.line << ")\n";
      return kExitUsage;
    }
    for (const auto& [key, node] : config) {
      std::string name(key.str());
      if (name == "peer" && node.is_array_of_tables()) {
        // [[peer]] host = "..." recon-port = 11370 hkp-port = 11371
        if (serve->get_option("--peer")->count() > 0) {
          continue;
        }
        for (const auto& t : *node.as_array()) {
          const auto& tab = *t.as_table();
          auto host = tab["host"].value<std::string>();
          if (!host) {
            std::cerr << "keydird serve: " << config_path << ": a [[peer]] needs a host\n";
            return kExitUsage;
          }
          std::string spec = *host + ":" + std::to_string(tab["recon-port"].value_or(11370)) +
                             ":" + std::to_string(tab["hkp-port"].value_or(11371));
          if (auto f = tab["filters"].value<std::string>()) {
            spec += " filters=" + *f;
          }
          for (const auto& [k, v] : tab) {
            if (k.str() != "host" && k.str() != "recon-port" && k.str() != "hkp-port" &&
                k.str() != "filters") {
              std::cerr << "keydird serve: " << config_path << ": [[peer]] " << *host
                        << ": unknown setting '" << k.str()
                        << "' (host, recon-port, hkp-port, filters)\n";
              return kExitUsage;
            }
          }
          peer_specs.push_back(std::move(spec));
        }
        continue;
      }
      CLI::Option* opt = nullptr;
      try {
        opt = serve->get_option("--" + name);
      } catch (const CLI::OptionNotFound&) {
        std::cerr << "keydird serve: " << config_path << ": unknown setting '" << name << "'\n";
        return kExitUsage;
      }
      if (opt->count() > 0 || name == "config") {
        continue;
      }
      std::vector<std::string> values;
      if (auto* arr = node.as_array()) {
        for (const auto& v : *arr) {
          values.push_back(v.value_or(std::string()));
        }
      } else if (node.is_boolean()) {
        if (!node.value_or(false)) {
          continue;
        }
        values.push_back("true");
      } else if (node.is_integer()) {
        values.push_back(std::to_string(node.value_or(std::int64_t{0})));
      } else if (node.is_floating_point()) {
        values.push_back(std::to_string(node.value_or(0.0)));
      } else {
        values.push_back(node.value_or(std::string()));
      }
      try {
        opt->add_result(values);
        opt->run_callback();
      } catch (const CLI::Error& e) {
        std::cerr << "keydird serve: " << config_path << ": " << name << ": " << e.what() << "\n";
        return kExitUsage;
      }
    }
  }
  if (data.empty()) {
    data = "data";
  }
  if (tls_cert.empty() != tls_key.empty()) {
    std::cerr << "keydird serve: --tls-cert and --tls-key go together\n";
    return kExitUsage;
  }
  {
    // Secrets: operator tokens from the command line or config file, a token
    // file and the environment, each at least 128 bits (server/secrets.hpp);
    // the SMTP password from one place; a login only over TLS.
    const std::string token_source =
        tokens_on_command_line ? std::string("--operator-token")
                               : "operator-token in " + config_path;
    for (const auto& t : operator_tokens) {
      if (auto ok = keydir::server::check_operator_token(t, token_source); !ok) {
        std::cerr << "keydird serve: " << ok.error().detail << "\n";
        return kExitUsage;
      }
    }
    // A config file that holds a secret is as private as a token file.
    if (!config_path.empty() &&
        ((!tokens_on_command_line && !operator_tokens.empty()) ||
         (!smtp_password_on_command_line && !smtp.password.empty()))) {
      if (auto ok = keydir::server::check_private_file(config_path, "the config file"); !ok) {
        std::cerr << "keydird serve: " << ok.error().detail
                  << " (it holds an operator token or the SMTP password)\n";
        return kExitUsage;
      }
    }
    if (!operator_token_file.empty()) {
      auto read = keydir::server::read_token_file(operator_token_file);
      if (!read) {
        std::cerr << "keydird serve: " << read.error().detail << "\n";
        return kExitUsage;
      }
      operator_tokens.insert(operator_tokens.end(), read->begin(), read->end());
    }
    if (const char* env = std::getenv("KEYDIRD_OPERATOR_TOKEN")) {
      auto read = keydir::server::tokens_from_env(env, "KEYDIRD_OPERATOR_TOKEN");
      if (!read) {
        std::cerr << "keydird serve: " << read.error().detail << "\n";
        return kExitUsage;
      }
      operator_tokens.insert(operator_tokens.end(), read->begin(), read->end());
      unsetenv("KEYDIRD_OPERATOR_TOKEN");
    }
    if (tokens_on_command_line) {
      std::cerr << "keydird serve: warning: --operator-token on the command line is deprecated: "
                   "every local user could read it with ps until keydird hid it; use "
                   "--operator-token-file or KEYDIRD_OPERATOR_TOKEN\n";
    }
    const char* env_password = std::getenv("KEYDIRD_SMTP_PASSWORD");
    if (static_cast<int>(!smtp.password.empty()) + static_cast<int>(!smtp_password_file.empty()) +
            static_cast<int>(env_password != nullptr) > 1) {
      std::cerr << "keydird serve: give the SMTP password in one place: --smtp-password-file, "
                   "KEYDIRD_SMTP_PASSWORD or smtp-password in the config file\n";
      return kExitUsage;
    }
    if (!smtp_password_file.empty()) {
      auto read = keydir::server::read_secret_file(smtp_password_file);
      if (!read) {
        std::cerr << "keydird serve: " << read.error().detail << "\n";
        return kExitUsage;
      }
      smtp.password = *read;
    } else if (env_password) {
      smtp.password = env_password;
      unsetenv("KEYDIRD_SMTP_PASSWORD");
    }
    if (smtp_password_on_command_line) {
      std::cerr << "keydird serve: warning: --smtp-password on the command line is deprecated: "
                   "use --smtp-password-file or KEYDIRD_SMTP_PASSWORD\n";
    }
    if (!smtp.url.empty()) {
      if (auto ok = keydir::service::check_smtp_options(smtp); !ok) {
        std::cerr << "keydird serve: " << ok.error().detail << "\n";
        return kExitUsage;
      }
    } else if (smtp.insecure_loopback || !smtp.user.empty() || !smtp.password.empty()) {
      std::cerr << "keydird serve: an SMTP login or smtp-insecure-loopback without --smtp-url\n";
      return kExitUsage;
    }
  }
  for (auto& d : wkd_domains) {
    // The form every address's domain is compared in: lower-case A-labels.
    auto normal = keydir::openpgp::normalize_domain(d);
    if (!normal) {
      std::cerr << "keydird: --wkd-domain " << d << ": " << normal.error().detail << "\n";
      return kExitUsage;
    }
    d = *normal;
  }
  std::vector<std::string> sorted_domains = wkd_domains;
  std::sort(sorted_domains.begin(), sorted_domains.end());
  sorted_domains.erase(std::unique(sorted_domains.begin(), sorted_domains.end()),
                       sorted_domains.end());

  // The store, and the mode it records: the flag may only repeat it.
  keydir::storage::RocksOptions ro;
  ro.sync_writes = sync;
  ro.row_cache_bytes = row_cache_mb << 20;
  auto opened_store = keydir::storage::RocksKeyStore::open(data, ro);
  if (!opened_store) {
    std::cerr << "keydird serve: " << opened_store.error().detail << "\n";
    return kExitFailure;
  }
  auto store = std::move(*opened_store);
  std::optional<keydir::service::ModeSetting> requested;
  if (serve->get_option("--mode")->count() > 0) {
    requested = keydir::service::ModeSetting{*keydir::service::parse_mode(mode_text), {}};
    if (requested->mode == keydir::service::PublishMode::Managed) {
      requested->managed_domains = sorted_domains;
    }
  }
  bool recorded = false;
  auto settled = settle_mode(*store, requested, true, data, false, &recorded);
  if (!settled) {
    std::cerr << "keydird serve: " << settled.error().detail << "\n";
    return kExitUsage;
  }
  const keydir::service::ModeSetting mode = *settled;
  if (mode.mode == keydir::service::PublishMode::Managed) {
    if (wkd_domains.empty()) {
      wkd_domains = mode.managed_domains;
    } else if (sorted_domains != mode.managed_domains) {
      std::cerr << "keydird serve: the store in " << data << " manages "
                << keydir::service::describe(mode) << "; --wkd-domain names other domains: to "
                << "change them, keydird admin set-mode managed --domain D... --data " << data
                << "\n";
      return kExitUsage;
    }
  }
  mode_text = std::string(keydir::service::mode_name(mode.mode));
  if (mode_text != "open") {
    if (smtp.url.empty() || smtp.from.empty()) {
      std::cerr << "keydird serve: mode " << mode_text
                << " mails confirmation links: set --smtp-url and --smtp-from\n";
      return kExitUsage;
    }
    if (mode_text == "managed" && wkd_domains.empty()) {
      std::cerr << "keydird serve: --mode managed serves the organization's domains: set "
                   "--wkd-domain\n";
      return kExitUsage;
    }
    if (mode_text == "managed" && managed_uploads == "token" && operator_tokens.empty()) {
      std::cerr << "keydird serve: --mode managed with --managed-uploads token needs an "
                   "operator token: --operator-token-file, KEYDIRD_OPERATOR_TOKEN or "
                   "operator-token in the config file\n";
      return kExitUsage;
    }
  }
  keydir::service::DirectoryOptions directory_options;
  directory_options.mode = mode.mode;
  directory_options.managed_domains = mode.managed_domains;
  directory_options.policy.keep_third_party_certifications = keep_third_party;
  directory_options.policy.keep_user_attributes = keep_attributes;
  directory_options.policy.accept_sha1_self_signatures = !refuse_sha1;
  KeyDirectory directory(*store, directory_options, keydir::service::system_clock());
  const std::string who = "uid " + std::to_string(::getuid()) + " (serve)";
  if (!recorded) {
    // A new store records the mode; one of an earlier keydird is re-indexed
    // under it too (its index follows whatever mode it was served in).
    if (auto r = adopt_mode(*store, directory, who, std::cerr); !r) {
      std::cerr << "keydird serve: " << r.error().detail << "\n";
      return kExitFailure;
    }
  } else if (auto r = resume_mode_change(*store, directory, who, std::cerr); !r) {
    std::cerr << "keydird serve: " << r.error().detail << "\n";
    return kExitFailure;
  }
  {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
      std::cerr << "keydird serve: --listen takes HOST:PORT\n";
      return kExitUsage;
    }
    http.host = listen.substr(0, colon);
    if (http.threads == 0) {
      // With one reactor thread per core, a thread preempted in send()
      // (which wakes the client on the same core) stalls its connections;
      // twice as many served 20-25% more lookups (README, issue #4).
      http.threads = static_cast<int>(std::max(2u, 2 * std::thread::hardware_concurrency()));
    }
    if (auto port = keydir::parse_port(std::string_view(listen).substr(colon + 1), true)) {
      http.port = *port;
    } else {
      std::cerr << "keydird serve: bad port in --listen " << listen << "\n";
      return kExitUsage;
    }
    if (!tls_cert.empty()) {
      http.tls_cert = tls_cert;
      http.tls_key = tls_key;
    }
    http.log_queries = !no_query_log;
    // Access lines go through AccessLog (no lock shared by the workers);
    // everything else through spdlog, to the same file when one is given.
    std::unique_ptr<keydir::server::AccessLog> access;
    if (access_log == "off") {
      spdlog::set_level(spdlog::level::warn);
    } else {
      if (access_log != "-") {
        try {
          spdlog::set_default_logger(spdlog::basic_logger_mt("keydird", access_log));
          spdlog::flush_every(std::chrono::seconds(1));
        } catch (const spdlog::spdlog_ex& e) {
          std::cerr << "keydird serve: cannot open the access log " << access_log << "\n";
          return kExitUsage;
        }
      }
      auto opened = keydir::server::AccessLog::open(access_log);
      if (!opened) {
        std::cerr << "keydird serve: " << opened.error().detail << "\n";
        return kExitUsage;
      }
      access = std::move(*opened);
      http.access_log = access.get();
    }
    // SIGINT/SIGTERM are taken by sigwait below, in this thread only.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    keydir::api::ApiOptions api_options;
    api_options.hkp.max_results = max_results;
    api_options.answer_cache_bytes = answer_cache_mb << 20;
    api_options.answer_cache_ttl = answer_cache_ttl;
    api_options.wkd.domains = wkd_domains;
    api_options.wkd.submission_address = wkd_submission;
    api_options.wkd.max_results = max_results;
    if (!wkd_policy_file.empty()) {
      auto policy = read_small_file(wkd_policy_file);
      if (!policy) {
        std::cerr << "keydird serve: cannot read --wkd-policy " << wkd_policy_file << "\n";
        return kExitUsage;
      }
      api_options.wkd.policy = *policy;
    }
    auto secret = token_secret(data);
    if (!secret) {
      std::cerr << "keydird serve: cannot keep the token key in " << data << "\n";
      return kExitFailure;
    }
    api_options.token_secret = *secret;
    if (public_url.empty()) {
      public_url = std::string(http.tls_cert ? "https://" : "http://") + listen;
    }
    while (!public_url.empty() && public_url.back() == '/') {
      public_url.pop_back();
    }
    keydir::service::SmtpMailer mailer(smtp);
    keydir::service::VerificationOptions vo;
    vo.public_url = public_url;
    vo.site_name = site_name;
    vo.token_lifetime = static_cast<std::uint64_t>(verify_token_hours * 3600);
    keydir::service::Verification verification(directory, mailer, vo);
    // Always given: the pages and VKS use it while the mode verifies
    // addresses, and the mode may change while serving (admin set-mode).
    api_options.verification = &verification;
    api_options.operator_tokens = operator_tokens;
    api_options.managed_uploads_need_token = managed_uploads == "token";
    api_options.auth_per_minute = auth_per_minute;
    api_options.auth_burst = auth_burst;
    api_options.pages.site_name = site_name;
    api_options.pages.tls = !tls_cert.empty();
    api_options.pages.wkd_domains = wkd_domains;
    api_options.pages.max_results = max_results;
    api_options.add_per_minute = add_per_minute;
    api_options.add_burst = add_burst;
    const bool peering = !recon_listen.empty() || !peer_specs.empty();
    keydir::server::ReconOptions recon_options;
    if (peering) {
      if (directory_options.mode != keydir::service::PublishMode::Open) {
        std::cerr << "keydird serve: SKS reconciliation (--recon-listen, --peer) needs --mode "
                     "open: peers would receive addresses whose owners have not confirmed them\n";
        return kExitUsage;
      }
      auto filters = keydir::recon::parse_filters(c.recon_filters);
      if (!filters) {
        std::cerr << "keydird serve: --recon-filters: " << filters.error().detail << "\n";
        return kExitUsage;
      }
      recon_options.filters = *filters;
      for (const auto& spec : peer_specs) {
        auto p = keydir::server::parse_peer(spec);
        if (!p) {
          std::cerr << "keydird serve: " << p.error().detail << "\n";
          return kExitUsage;
        }
        recon_options.peers.push_back(*p);
      }
      // A filter is a promise about the set: refuse one the settings break.
      std::vector<keydir::recon::Filters> announced{recon_options.filters};
      for (const auto& p : recon_options.peers) {
        if (p.filters) {
          announced.push_back(*p.filters);
        }
      }
      for (const auto& f : announced) {
        for (const auto& t : f.terms) {
          if (t == "drop:UAT" && keep_attributes) {
            std::cerr << "keydird serve: the filter drop:UAT says user attributes are dropped, "
                         "but --keep-user-attributes keeps them: announce other filters or "
                         "leave out --keep-user-attributes\n";
            return kExitUsage;
          }
          if (t == "drop:implausible" && keep_third_party) {
            std::cerr << "keydird serve: the filter drop:implausible says implausible "
                         "third-party certifications are dropped, but --keep-third-party keeps "
                         "them unchecked: announce other filters or leave out "
                         "--keep-third-party\n";
            return kExitUsage;
          }
        }
      }
      recon_options.listen = !recon_listen.empty();
      if (recon_options.listen) {
        auto rcolon = recon_listen.rfind(':');
        auto rport = rcolon == std::string::npos
                         ? std::nullopt
                         : keydir::parse_port(std::string_view(recon_listen).substr(rcolon + 1), true);
        if (!rport) {
          std::cerr << "keydird serve: --recon-listen takes HOST:PORT\n";
          return kExitUsage;
        }
        recon_options.listen_host = recon_listen.substr(0, rcolon);
        if (recon_options.listen_host.starts_with("[")) {
          recon_options.listen_host =
              recon_options.listen_host.substr(1, recon_options.listen_host.size() - 2);
        }
        recon_options.listen_port = *rport;
      }
      recon_options.gossip_interval_seconds = gossip_interval;
      if (c.recon_hkp_port != 0) {
        recon_options.http_port = static_cast<std::uint16_t>(c.recon_hkp_port);
      }
      recon_options.allow = recon_allow;
      for (const auto& p : recon_options.peers) {
        const std::string host = p.host.find(':') != std::string::npos ? "[" + p.host + "]" : p.host;
        api_options.hkp.peers.push_back(
            {host + ":" + std::to_string(p.hkp_port), host + ":" + std::to_string(p.recon_port)});
      }
    }
    std::atomic<keydir::server::ReconPeer*> recon_live{nullptr};
    api_options.extra_metrics = [&recon_live] {
      auto* r = recon_live.load();
      return r ? r->metrics() : std::string();
    };
    keydir::api::Api api(directory, api_options);
    keydir::server::HttpServer server(api, http);
    auto port = server.start();
    if (!port) {
      std::cerr << "keydird serve: " << port.error().detail << "\n";
      return kExitFailure;
    }
    if (directory_options.mode == keydir::service::PublishMode::Open) {
      spdlog::warn("publishing mode open: anyone can publish any address with any key "
                   "(use --mode verified on a public server)");
    } else {
      spdlog::info("publishing mode {}: an address is published once its owner confirms it; "
                   "links go out through {} and point to {}",
                   mode_text, smtp.url, public_url);
    }
    spdlog::info("{} HTTP worker threads", http.threads);
    std::unique_ptr<keydir::server::ReconPeer> recon;
    if (peering) {
      if (c.recon_hkp_port == 0) {
        recon_options.http_port = *port;
      }
      recon = std::make_unique<keydir::server::ReconPeer>(directory, *store, recon_options);
      auto rport = recon->start();
      if (!rport) {
        std::cerr << "keydird serve: " << rport.error().detail << "\n";
        server.stop();
        return kExitFailure;
      }
      recon_live = recon.get();
      if (recon_options.listen) {
        std::cout << "keydird: recon on " << recon_options.listen_host << ":" << *rport
                  << std::endl;
      }
      spdlog::info("recon: {} peers, gossip every {} s", recon_options.peers.size(),
                   recon_options.gossip_interval_seconds);
    }
    // Online administration (server/admin_socket.hpp): the same commands,
    // on this process's store.
    const std::string canonical_data = std::filesystem::weakly_canonical(data).string();
    auto can_serve = [&](const keydir::service::ModeSetting& m) -> Result<void> {
      using keydir::service::PublishMode;
      if (m.mode != PublishMode::Open) {
        if (peering) {
          return fail(ErrorCode::UnsupportedOperation,
                      "it peers (SKS reconciliation needs open mode): restart it without "
                      "--recon-listen and --peer");
        }
        if (smtp.url.empty() || smtp.from.empty()) {
          return fail(ErrorCode::UnsupportedOperation,
                      "it has no mail relay for confirmation links: stop it, change the mode, "
                      "start it with --smtp-url and --smtp-from");
        }
      }
      if (m.mode == PublishMode::Managed) {
        for (const auto& d : m.managed_domains) {
          if (std::find(wkd_domains.begin(), wkd_domains.end(), d) == wkd_domains.end()) {
            return fail(ErrorCode::UnsupportedOperation,
                        "it does not serve the WKD of " + d + ": stop it, change the mode, " +
                            "start it with --wkd-domain " + d);
          }
        }
        if (managed_uploads == "token" && operator_tokens.empty()) {
          return fail(ErrorCode::UnsupportedOperation,
                      "it has no operator token for managed uploads");
        }
      }
      return {};
    };
    keydir::server::AdminSocket admin_socket(
        [&](const std::vector<std::string>& args, const std::string& cwd,
            uid_t uid) -> keydir::server::AdminReply {
          std::ostringstream out;
          std::ostringstream err;
          auto cli = make_cli();
          std::vector<std::string> reversed(args.rbegin(), args.rend());
          try {
            cli->app.parse(reversed);
          } catch (const CLI::ParseError& e) {
            int code = cli->app.exit(e, out, err);
            return {code == 0 ? kExitOk : kExitUsage, out.str(), err.str()};
          }
          if (!runs_online(*cli)) {
            return {kExitUsage, "",
                    "keydird: " + cli->command_name() + " does not run through the admin socket\n"};
          }
          std::string target = cli->data;
          if (!target.empty() && !std::filesystem::path(target).is_absolute()) {
            target = (std::filesystem::path(cwd) / target).string();
          }
          if (std::filesystem::weakly_canonical(target).string() != canonical_data) {
            return {kExitUsage, "", "keydird: this admin socket serves " + canonical_data + "\n"};
          }
          CommandContext ctx{*store, directory, data, cwd, out, err,
                             "uid " + std::to_string(uid) + " (admin socket)", true, can_serve,
                             [&recon_live](bool as_json) {
                               auto* r = recon_live.load();
                               return r ? r->peer_status(as_json) : std::string();
                             }};
          spdlog::info("admin socket: uid {}: {}", uid, cli->command_name());
          int code = kExitFailure;
          try {
            code = run_command(*cli, ctx);
          } catch (const std::exception& e) {
            err << "keydird: " << e.what() << "\n";
          }
          return {code, out.str(), err.str()};
        });
    const std::string socket_path = keydir::server::admin_socket_path(data);
    if (auto a = admin_socket.start(socket_path); !a) {
      spdlog::warn("no online administration: {}", a.error().detail);
    } else {
      spdlog::info("admin socket {} (its own user and root only)", socket_path);
    }
    auto st = store->stats();
    std::cout << "keydird: serving " << (st ? st->certificates : 0) << " certificates from "
              << data << " on " << (http.tls_cert ? "https" : "http") << "://" << http.host
              << ":" << *port << std::endl;
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {}: shutting down", sig);
    admin_socket.stop();
    if (recon) {
      recon_live = nullptr;
      recon->stop();
    }
    server.stop();
    std::cout << "keydird: stopped" << std::endl;
    return kExitOk;
  }
}

}  // namespace keydir::server
