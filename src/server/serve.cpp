// `keydird serve`: HKP, HKPS, WKD, VKS, the web pages, SKS reconciliation and
// the admin socket, on one store.
#include "server/serve.hpp"

#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "api/router.hpp"
#include "common/port.hpp"
#include "common/version.hpp"
#include "openpgp/crypto/primitives.hpp"
#include "server/admin_socket.hpp"
#include "server/commands.hpp"
#include "server/config.hpp"
#include "server/recon_peer.hpp"
#include "service/transparency.hpp"
#include "service/verification.hpp"

namespace keydir::server {

namespace {

// --listen before the store is opened (nothing is created on refusal): the
// host resolves and the port can be bound now. Port 0 (any free one) is
// always free. Errors: one line.
Result<void> check_listen(const std::string& listen, const std::string& host, std::uint16_t port) {
  if (port == 0) {
    return {};
  }
  std::string name = host;
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int e = ::getaddrinfo(name.empty() ? nullptr : name.c_str(), service.c_str(), &hints, &found);
      e != 0) {
    return fail(ErrorCode::BadQuery,
                "--listen " + listen + ": cannot resolve " + name + ": " + ::gai_strerror(e));
  }
  int error = 0;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const int bound = ::bind(fd, a->ai_addr, a->ai_addrlen);
    error = bound == 0 ? 0 : errno;
    ::close(fd);
    if (bound == 0) {
      break;
    }
  }
  ::freeaddrinfo(found);
  switch (error) {
    case 0:
      return {};
    case EADDRINUSE:
      return fail(ErrorCode::BadQuery,
                  listen +
                      " is in use (another keydird or another server: `ss -ltnp` shows "
                      "which); stop it or set listen to another port");
    case EADDRNOTAVAIL:
      return fail(ErrorCode::BadQuery,
                  "--listen " + listen + ": " + name + " is not an address of this machine");
    case EACCES:
      return fail(ErrorCode::BadQuery,
                  "--listen " + listen +
                      ": ports below 1024 need root or CAP_NET_BIND_SERVICE; keydird listens "
                      "on 127.0.0.1:11372 behind nginx");
    default:
      return fail(ErrorCode::BadQuery, "--listen " + listen + ": " + std::strerror(error));
  }
}

}  // namespace

int run_serve(Cli& c) {
  using keydir::service::KeyDirectory;
  // The command line, the config file and the secrets, checked
  // (server/config.hpp).
  ProcessEnvironment environment;
  std::ostringstream warnings;
  auto loaded = load_serve_config(c, environment, warnings);
  {
    std::istringstream lines(warnings.str());
    for (std::string line; std::getline(lines, line);) {
      std::cerr << "keydird serve: " << line << "\n";
    }
  }
  if (!loaded) {
    std::cerr << "keydird serve: " << loaded.error().detail << "\n";
    return kExitUsage;
  }
  ServeConfig& cfg = *loaded;
  const std::string& data = cfg.data;
  if (auto ok = check_listen(cfg.listen, cfg.http.host, cfg.http.port); !ok) {
    std::cerr << "keydird serve: " << ok.error().detail << "\n";
    return kExitUsage;
  }
  if (cfg.requested_mode &&
      (*cfg.requested_mode != keydir::service::PublishMode::Managed || !cfg.wkd_domains.empty())) {
    // The mode asked for, checked before the store is opened (nothing is
    // created on refusal); the store's own mode is checked again below.
    ServeConfig copy = cfg;
    keydir::service::ModeSetting asked{*cfg.requested_mode, {}};
    if (asked.mode == keydir::service::PublishMode::Managed) {
      asked.managed_domains = cfg.sorted_domains;
    }
    if (auto ok = apply_mode(copy, asked); !ok) {
      std::cerr << "keydird serve: " << ok.error().detail << "\n";
      return kExitUsage;
    }
  }

  // The store, and the mode it records: the flag may only repeat it.
  keydir::storage::RocksOptions ro;
  ro.sync_writes = cfg.sync;
  ro.row_cache_bytes = cfg.row_cache_bytes;
  ro.program = "keydird " + std::string(keydir::version());
  ro.backup_files = {"token.key", "log.key"};  // a restored backup needs them (cmd_backup.cpp)
  auto opened_store = keydir::storage::RocksKeyStore::open(data, ro);
  if (!opened_store) {
    std::cerr << "keydird serve: " << opened_store.error().detail << "\n";
    return kExitFailure;
  }
  auto store = std::move(*opened_store);
  if (const auto& m = store->migration()) {
    std::cerr << "keydird: " << keydir::storage::describe(*m, data) << "\n";
  }
  std::optional<keydir::service::ModeSetting> requested;
  if (cfg.requested_mode) {
    requested = keydir::service::ModeSetting{*cfg.requested_mode, {}};
    if (requested->mode == keydir::service::PublishMode::Managed) {
      requested->managed_domains = cfg.sorted_domains;
    }
  }
  bool recorded = false;
  auto settled = settle_mode(*store, requested, true, data, false, &recorded);
  if (!settled) {
    std::cerr << "keydird serve: " << settled.error().detail << "\n";
    return kExitUsage;
  }
  const keydir::service::ModeSetting mode = *settled;
  {
    std::ostringstream mode_warnings;
    auto ok = apply_mode(cfg, mode, &mode_warnings);
    std::istringstream lines(mode_warnings.str());
    for (std::string line; std::getline(lines, line);) {
      std::cerr << "keydird serve: " << line << "\n";
    }
    if (!ok) {
      std::cerr << "keydird serve: " << ok.error().detail << "\n";
      return kExitUsage;
    }
  }
  const auto& wkd_domains = cfg.wkd_domains;
  const auto& smtp = cfg.smtp;
  const auto& operator_tokens = cfg.operator_tokens;
  const bool peering = cfg.peering;
  keydir::service::DirectoryOptions directory_options;
  directory_options.mode = mode.mode;
  directory_options.managed_domains = mode.managed_domains;
  directory_options.managed_uploads_by_token = cfg.managed_uploads_need_token;
  directory_options.policy.keep_third_party_certifications = cfg.keep_third_party;
  directory_options.policy.keep_user_attributes = cfg.keep_attributes;
  directory_options.policy.accept_sha1_self_signatures = !cfg.refuse_sha1;
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
    keydir::server::HttpOptions http = cfg.http;
    const std::string& access_log = cfg.access_log;
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
    api_options.hkp.max_results = cfg.max_results;
    api_options.answer_cache_bytes = cfg.answer_cache_bytes;
    api_options.answer_cache_ttl = cfg.answer_cache_ttl;
    api_options.wkd.domains = wkd_domains;
    api_options.wkd.submission_address = cfg.wkd_submission;
    api_options.wkd.max_results = cfg.max_results;
    if (cfg.wkd_policy) {
      api_options.wkd.policy = *cfg.wkd_policy;
    }
    // DATA/token.key signs VKS upload tokens. A read-only data folder (a
    // mounted snapshot) is served read-only: uploads are refused, so no
    // upload token is ever honoured, and a key for this run only will do.
    const bool read_only = ::access(data.c_str(), W_OK) != 0 && (errno == EROFS || errno == EACCES);
    auto secret = token_secret(data);
    const int key_errno = errno;
    const std::string key_path = data + "/token.key";
    std::error_code key_ec;
    const bool key_exists = std::filesystem::exists(key_path, key_ec);
    if (!secret && read_only && !key_exists) {
      if (auto random = keydir::openpgp::crypto::random_bytes(32)) {
        secret = std::string(reinterpret_cast<const char*>(random->data()), random->size());
      }
    }
    if (!secret) {
      std::cerr << "keydird serve: "
                << (key_exists ? key_path +
                                     ": cannot read it or it is damaged (not 32 bytes): make it "
                                     "readable by the user keydird runs as, or delete it (a new "
                                     "one is made; VKS upload tokens already given out stop "
                                     "working)"
                               : "cannot create " + key_path + ": " + std::strerror(key_errno) +
                                     " (the data folder must be writable by the user keydird "
                                     "runs as)")
                << "\n";
      return kExitFailure;
    }
    if (read_only) {
      spdlog::warn(
          "the data folder {} is read-only: lookups are served, uploads and confirmations get "
          "503{}",
          data, key_exists ? "" : "; no token.key in it: VKS upload tokens last this run only");
    }
    api_options.token_secret = *secret;
    const std::string& public_url = cfg.public_url;
    // The transparency log: started (and the certificates stored before it
    // entered) now rather than at the first write; DATA/log.key signs its
    // checkpoints. A read-only data folder serves the log it has, if the
    // key is there.
    std::optional<keydir::service::TransparencyLog> transparency;
    if (!read_only) {
      if (auto started = directory.start_log(); !started) {
        std::cerr << "keydird serve: the transparency log: " << started.error().detail << "\n";
        return kExitFailure;
      }
    }
    {
      const std::string log_key = data + "/log.key";
      auto signer = read_only ? keydir::service::read_log_key(log_key)
                              : keydir::service::load_or_create_log_key(
                                    log_key, keydir::service::default_log_origin(public_url))
                                    .map([](auto s) { return std::optional(std::move(s)); });
      if (!signer) {
        std::cerr << "keydird serve: " << signer.error().detail << "\n";
        return kExitFailure;
      }
      if (*signer) {
        transparency.emplace(*store, std::move(**signer), cfg.log);
        api_options.log = &*transparency;
        spdlog::info("transparency log {}: verifier key {}", transparency->origin(),
                     transparency->verifier().encode());
        for (const auto& w : cfg.log.witnesses) {
          spdlog::info("transparency log witness {} at {}", w.key.name, w.url);
        }
      }
    }
    keydir::service::SmtpMailer mailer(smtp);
    keydir::service::VerificationOptions vo;
    vo.public_url = public_url;
    vo.site_name = cfg.site_name;
    vo.token_lifetime = cfg.verify_token_seconds;
    keydir::service::Verification verification(directory, mailer, vo);
    // Always given: the pages and VKS use it while the mode verifies
    // addresses, and the mode may change while serving (admin set-mode).
    api_options.verification = &verification;
    api_options.operator_tokens = operator_tokens;
    api_options.managed_uploads_need_token = cfg.managed_uploads_need_token;
    api_options.auth_per_minute = cfg.auth_per_minute;
    api_options.auth_burst = cfg.auth_burst;
    api_options.pages.site_name = cfg.site_name;
    api_options.pages.tls = http.tls_cert.has_value();
    api_options.pages.wkd_domains = wkd_domains;
    api_options.pages.max_results = cfg.max_results;
    api_options.pages.contact = cfg.contact;
    api_options.version = std::string(keydir::version());
    api_options.git_describe = std::string(keydir::git_describe());
    api_options.pages.policy_text = cfg.policy_text;
    api_options.add_per_minute = cfg.add_per_minute;
    api_options.add_burst = cfg.add_burst;
    api_options.metrics_allow = cfg.metrics_allow;
    keydir::server::ReconOptions recon_options = cfg.recon;
    if (peering) {
      for (const auto& p : recon_options.peers) {
        const std::string host =
            p.host.find(':') != std::string::npos ? "[" + p.host + "]" : p.host;
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
      spdlog::warn(
          "publishing mode open: anyone can publish any address with any key "
          "(use --mode verified on a public server)");
    } else if (mode.mode == keydir::service::PublishMode::Verified) {
      spdlog::info(
          "publishing mode verified: an address is published once its owner confirms it; "
          "links go out through {} and point to {}",
          smtp.url, public_url);
    } else if (cfg.managed_uploads_need_token) {
      spdlog::info(
          "publishing mode {}: only operators upload (Authorization: Bearer TOKEN); their "
          "uploads publish the addresses of these domains at once, never others; nothing is "
          "mailed",
          keydir::service::describe(mode));
    } else {
      spdlog::info(
          "publishing mode {}: an operator's upload (Authorization: Bearer TOKEN) publishes the "
          "addresses of these domains at once, anyone else's once the owner of the address "
          "confirms it; never others; links go out through {} and point to {}",
          keydir::service::describe(mode), smtp.url, public_url);
    }
    spdlog::info("{}; {} HTTP worker threads", keydir::version_line("keydird"), http.threads);
    std::unique_ptr<keydir::server::ReconPeer> recon;
    if (peering) {
      if (!cfg.recon_http_port_given) {
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
        if (mails_confirmations(cfg, m.mode) && (smtp.url.empty() || smtp.from.empty())) {
          return fail(ErrorCode::UnsupportedOperation,
                      "it has no mail relay for confirmation links: stop it, change the mode, "
                      "start it with --smtp-url and --smtp-from");
        }
      }
      if (m.mode == PublishMode::Managed) {
        for (const auto& d : m.managed_domains) {
          if (std::find(wkd_domains.begin(), wkd_domains.end(), d) == wkd_domains.end()) {
            return fail(ErrorCode::UnsupportedOperation, "it does not serve the WKD of " + d +
                                                             ": stop it, change the mode, " +
                                                             "start it with --wkd-domain " + d);
          }
        }
        if (cfg.managed_uploads_need_token && operator_tokens.empty()) {
          return fail(ErrorCode::UnsupportedOperation,
                      "it has no operator token for managed uploads");
        }
      }
      return {};
    };
    keydir::server::AdminSocket admin_socket([&](const std::vector<std::string>& args,
                                                 const std::string& cwd,
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
      CommandContext ctx{*store,
                         directory,
                         data,
                         cwd,
                         out,
                         err,
                         "uid " + std::to_string(uid) + " (admin socket)",
                         true,
                         can_serve,
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
    std::cout << "keydird: serving " << (st ? st->certificates : 0) << " certificates from " << data
              << " on " << (http.tls_cert ? "https" : "http") << "://" << http.host << ":" << *port
              << std::endl;
    // The witnesses: every second, the current checkpoint to those that
    // have not cosigned it (a failure is logged when it starts and when it
    // ends, not every second).
    std::mutex witness_mutex;
    std::condition_variable witness_wake;
    bool witness_stop = false;
    std::thread witnessing;
    if (transparency && !cfg.log.witnesses.empty()) {
      witnessing = std::thread([&] {
        // Keyed by the witness ("witness NAME (URL)"): its reasons vary
        // (sizes, its own text), and must not flood the log.
        std::set<std::string> failing;
        std::unique_lock lock(witness_mutex);
        while (!witness_stop) {
          lock.unlock();
          auto failures = transparency->witness_round();
          std::set<std::string> now;
          for (const auto& f : failures) {
            const std::string witness = f.substr(0, f.find("): "));
            now.insert(witness);
            if (!failing.count(witness)) {
              spdlog::error("transparency log: {}", f);
            }
          }
          if (!failing.empty() && now.empty()) {
            spdlog::info("transparency log: every witness cosigns again");
          }
          failing = std::move(now);
          lock.lock();
          witness_wake.wait_for(lock, std::chrono::seconds(1), [&] { return witness_stop; });
        }
      });
    }
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {}: shutting down", sig);
    if (witnessing.joinable()) {
      {
        std::lock_guard lock(witness_mutex);
        witness_stop = true;
      }
      witness_wake.notify_all();
      witnessing.join();
    }
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
