// `keydird serve`'s configuration (server/config.hpp): the TOML file merged
// into the command line, and every check that needs neither the store nor a
// port, each with the one-line message serve prints.
#include "server/config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace keydir::server {
namespace {

namespace fs = std::filesystem;

const std::string kGood = "0123456789abcdef0123456789abcdef";   // 128 bits
const std::string kGood2 = "fedcba9876543210fedcba9876543210";  // another

// A self-signed P-256 certificate for keydir.test, valid until 2126, and its key.
const std::string kCert =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBgjCCASmgAwIBAgIUL6i5Wn3RGtLRJf1ruT5RGCcDP3QwCgYIKoZIzj0EAwIw\n"
    "FjEUMBIGA1UEAwwLa2V5ZGlyLnRlc3QwIBcNMjYxMTMwMTkxMTAwWhgPMjEyNjEx\n"
    "MDYxOTExMDBaMBYxFDASBgNVBAMMC2tleWRpci50ZXN0MFkwEwYHKoZIzj0CAQYI\n"
    "KoZIzj0DAQcDQgAEDzAlS9HrN1fOP9IJgYZPrpTbkipV8YgKF/rqjYuZOS/277TK\n"
    "NQSqYdffsDc6kPFpuvhX5hNJ9fiFlmWUn5U3laNTMFEwHQYDVR0OBBYEFBZ/HaRZ\n"
    "XZc34dW2680VVroxpZpqMB8GA1UdIwQYMBaAFBZ/HaRZXZc34dW2680VVroxpZpq\n"
    "MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgQSuU+6xGf+fuwa8h\n"
    "8CYeXyUO6GsFAPfvYxVpia9ldBMCIF+K49msBrprBiT4+WX0DtGrG2R4mw8sWSTM\n"
    "5JJJJSFb\n"
    "-----END CERTIFICATE-----\n";
const std::string kKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgTHuiLEy60pIw5U15\n"
    "jxzvGiBhDr4aQyAuAwfmohvl8EmhRANCAAQPMCVL0es3V84/0gmBhk+ulNuSKlXx\n"
    "iAoX+uqNi5k5L/bvtMo1BKph19+wNzqQ8Wm6+FfmE0n1+IWWZZSflTeV\n"
    "-----END PRIVATE KEY-----\n";
// Another key (not the certificate's).
const std::string kOtherKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHokBkIRAT+pupE2o\n"
    "3+7yBYzYhxHpCTjVkCg7VlD4+iKhRANCAASG8oX4HgH65djU2sMiU6QGQyAmvnfN\n"
    "1vtkhytbz1G1DQ2ZWHwpvOIZ5iCh7KKNKBrGfmIarkicPN36JpkKFBuh\n"
    "-----END PRIVATE KEY-----\n";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

class ServeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keydir_config_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    write("cert.pem", kCert, 0600);
    write("key.pem", kKey, 0600);
    write("other-key.pem", kOtherKey, 0600);
    write("junk.pem", "not a PEM file\n", 0600);
    write("tokens", kGood2 + "\n", 0600);
    write("open-tokens", kGood2 + "\n", 0644);
    write("smtp.pw", "s3cret\n", 0600);
    write("policy", "# policy\n", 0600);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
  }
  [[nodiscard]] std::string sub(const std::string& s) const {
    return replace_all(replace_all(s, "@DIR@", dir_), "@TOKEN@", kGood);
  }

  // `keydird serve [--listen 127.0.0.1:0] FLAGS [--config DIR/config.toml]`,
  // the file holding `toml` (mode `mode`).
  Result<ServeConfig> load(const std::string& toml, const std::vector<std::string>& flags,
                           const std::map<std::string, std::string>& env = {}, mode_t mode = 0600) {
    cli_ = make_cli();
    std::vector<std::string> args = {"keydird", "serve"};
    if (std::find(flags.begin(), flags.end(), "--listen") == flags.end() &&
        ("\n" + toml).find("\nlisten =") == std::string::npos) {
      args.insert(args.end(), {"--listen", "127.0.0.1:0"});
    }
    for (const auto& f : flags) {
      args.push_back(sub(f));
    }
    if (!toml.empty()) {
      write("config.toml", sub(toml), mode);
      args.push_back("--config");
      args.push_back(dir_ + "/config.toml");
    }
    std::vector<const char*> argv;
    for (const auto& a : args) {
      argv.push_back(a.c_str());
    }
    try {
      cli_->app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
      return fail(ErrorCode::BadQuery, std::string("command line: ") + e.what());
    }
    env_.vars = env;
    warnings_.str("");
    return load_serve_config(*cli_, env_, warnings_);
  }

  std::string dir_;
  std::unique_ptr<Cli> cli_;
  MapEnvironment env_;
  std::ostringstream warnings_;
};

struct Bad {
  std::string name;
  std::string toml;                // "": no --config
  std::vector<std::string> flags;  // after `serve --listen 127.0.0.1:0`
  std::map<std::string, std::string> env;
  std::string message;  // a part of the error (@DIR@: the temp folder)
  mode_t mode = 0600;   // of the config file
};

TEST_F(ServeConfigTest, EveryBadConfigurationIsRefusedWithItsMessage) {
  const std::vector<Bad> cases = {
      // The file itself.
      {"toml syntax",
       "listen = \"127.0.0.1:1\"\n[[peer]\n",
       {},
       {},
       "@DIR@/config.toml:2:8: Error while parsing table header: expected ']', saw '\\n'"},
      {"unquoted address",
       "sync = true\nlisten = 127.0.0.1:1\n",
       {},
       {},
       "@DIR@/config.toml:2:10: listen: not a number, true/false or a quoted string (strings must "
       "be quoted: listen = \"127.0.0.1:1\")"},
      {
          "unquoted word",
          "site-name = keydir\n",
          {},
          {},
          "@DIR@/config.toml:1:13: site-name: not a number, true/false or a quoted string (strings "
          "must be quoted: site-name = \"keydir\")",
      },
      {"unquoted word hint",
       "site-name = keydir\n",
       {},
       {},
       "(strings must be quoted: site-name = \"keydir\")"},
      {"unknown key",
       "listen = \"127.0.0.1:0\"\nbogus = 1\n",
       {},
       {},
       "@DIR@/config.toml:2:1: unknown setting 'bogus'"},
      {"a date",
       "data = 2024-01-01\n",
       {},
       {},
       "@DIR@/config.toml:1:8: data: a date or time, not a value of this setting (strings must be "
       "quoted: data = \"2024-01-01\")"},
      {"true for a number",
       "max-results = true\n",
       {},
       {},
       "@DIR@/config.toml:1:15: max-results: true or false, but it takes a value"},
      {"a string for a switch",
       "sync = \"yes\"\n",
       {},
       {},
       "@DIR@/config.toml:1:8: sync: a switch: true or false"},
      {"a number for a switch",
       "refuse-sha1 = 1\n",
       {},
       {},
       "@DIR@/config.toml:1:15: refuse-sha1: a switch: true or false"},
      {"a list for one value",
       "listen = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n",
       {},
       {},
       "@DIR@/config.toml:1:10: listen: takes one value, not a list"},
      {"a list of switches",
       "wkd-domain = [true]\n",
       {},
       {},
       "@DIR@/config.toml:1:15: wkd-domain: true or false, but it takes a value"},
      {"a table for a value",
       "[listen]\nport = 1\n",
       {},
       {},
       "@DIR@/config.toml:1:1: listen: a table, but it takes a value"},
      {"not a number",
       "add-rate = \"fast\"\n",
       {},
       {},
       "@DIR@/config.toml:1:12: add-rate: \"fast\" is not a number (numbers take no quotes: "
       "add-rate = 30)"},
      {"bad mode name",
       "mode = \"public\"\n",
       {},
       {},
       "@DIR@/config.toml:1:8: mode: public not in {open,verified,managed}"},
      {"bad managed-uploads",
       "managed-uploads = \"maybe\"\n",
       {},
       {},
       "@DIR@/config.toml:1:19: managed-uploads: maybe not in {token,verify}"},
      {"gossip interval below 0",
       "gossip-interval = -1\n",
       {},
       {},
       "@DIR@/config.toml:1:19: gossip-interval: Value -1 not in range 0 to 86400"},
      {"too many threads",
       "threads = 1000\n",
       {},
       {},
       "@DIR@/config.toml:1:11: threads: Value 1000 not in range 0 to 256"},
      // [[peer]] tables.
      {"peer without host",
       "[[peer]]\nrecon-port = 11370\n",
       {},
       {},
       "@DIR@/config.toml:1:1: a [[peer]] needs a host"},
      {"peer host a number",
       "[[peer]]\nhost = 5\n",
       {},
       {},
       "@DIR@/config.toml:2:8: [[peer]] host: a host name or address (strings must be quoted: host "
       "= \"5\")"},
      {"unknown peer key",
       "[[peer]]\nhost = \"keys.example.org\"\nport = 1\n",
       {},
       {},
       "@DIR@/config.toml:3:1: [[peer]] keys.example.org: unknown setting 'port' (host, "
       "recon-port, hkp-port, filters)"},
      {"peer port out of range",
       "[[peer]]\nhost = \"h\"\nrecon-port = 70000\n",
       {},
       {},
       "@DIR@/config.toml:3:14: [[peer]] h: recon-port: a port number, 1 to 65535"},
      {"peer port a string",
       "[[peer]]\nhost = \"h\"\nhkp-port = \"x\"\n",
       {},
       {},
       "@DIR@/config.toml:3:12: [[peer]] h: hkp-port: a port number, 1 to 65535"},
      {"peer filters a number",
       "[[peer]]\nhost = \"h\"\nfilters = 3\n",
       {},
       {},
       "@DIR@/config.toml:3:11: [[peer]] h: filters: a quoted string (filters = \"sks\")"},
      {"peer bad filters",
       "[[peer]]\nhost = \"h\"\nfilters = \"nonsense\"\n",
       {},
       {},
       "peer h:11370:11371: "},
      // TLS.
      {"tls cert without key",
       "",
       {"--tls-cert", "@DIR@/cert.pem"},
       {},
       "--tls-cert and --tls-key go together"},
      {"tls key without cert",
       "tls-key = \"@DIR@/key.pem\"\n",
       {},
       {},
       "--tls-cert and --tls-key go together"},
      {"tls key missing",
       "",
       {"--tls-cert", "@DIR@/cert.pem", "--tls-key", "@DIR@/nokey.pem"},
       {},
       "--tls-key @DIR@/nokey.pem: cannot read: No such file or directory"},
      {"tls cert a folder",
       "",
       {"--tls-cert", "@DIR@", "--tls-key", "@DIR@/key.pem"},
       {},
       "--tls-cert @DIR@: cannot read: Is a directory"},
      {"tls cert not PEM",
       "",
       {"--tls-cert", "@DIR@/junk.pem", "--tls-key", "@DIR@/key.pem"},
       {},
       "--tls-cert @DIR@/junk.pem: no PEM certificate in it"},
      {"tls key not PEM",
       "",
       {"--tls-cert", "@DIR@/cert.pem", "--tls-key", "@DIR@/junk.pem"},
       {},
       "--tls-key @DIR@/junk.pem: no PEM private key in it"},
      {"tls key and cert swapped",
       "",
       {"--tls-cert", "@DIR@/cert.pem", "--tls-key", "@DIR@/cert.pem"},
       {},
       "--tls-key @DIR@/cert.pem: holds a certificate, not the private key"},
      {"tls key of another certificate",
       "tls-cert = \"@DIR@/cert.pem\"\ntls-key = \"@DIR@/other-key.pem\"\n",
       {},
       {},
       "config.toml:2:11: tls-key = @DIR@/other-key.pem: not the private key of the certificate "
       "in @DIR@/cert.pem"},
      // Numbers.
      {"negative add-rate",
       "add-rate = -5\n",
       {},
       {},
       "@DIR@/config.toml:1:12: add-rate = -5: a number a minute, 0 (no limit) to 1000000"},
      {"zero add-burst",
       "add-burst = 0\n",
       {},
       {},
       "@DIR@/config.toml:1:13: add-burst = 0: 1 to 1000000 (fewer than 1 lets a client send "
       "nothing at all)"},
      {"negative add-burst with no limit",
       "add-rate = 0\nadd-burst = -1\n",
       {},
       {},
       "@DIR@/config.toml:2:13: add-burst = -1: 1 to 1000000 (fewer than 1 lets a client send "
       "nothing at all)"},
      {"negative auth-rate", "", {"--auth-rate", "-1"}, {}, "--auth-rate -1: a number a minute"},
      {"auth-burst below 1",
       "auth-burst = 0.5\n",
       {},
       {},
       "@DIR@/config.toml:1:14: auth-burst = 0.5: 1 to 1000000 (fewer than 1 lets a client send "
       "nothing at all)"},
      {"zero max-results",
       "max-results = 0\n",
       {},
       {},
       "@DIR@/config.toml:1:15: max-results = 0: 1 to 1000000"},
      {"huge row cache",
       "row-cache-mb = 2000000\n",
       {},
       {},
       "@DIR@/config.toml:1:16: row-cache-mb = 2000000: 0 to 1048576 (MiB)"},
      {"zero token lifetime",
       "verify-token-hours = 0\n",
       {},
       {},
       "@DIR@/config.toml:1:22: verify-token-hours = 0: more than 0.0003 (a second) and at most "
       "8760 (a year)"},
      {"negative token lifetime",
       "",
       {"--verify-token-hours", "-2"},
       {},
       "--verify-token-hours -2: "},
      {"negative idle timeout",
       "idle-timeout = -1\n",
       {},
       {},
       "@DIR@/config.toml:1:16: idle-timeout = -1: 0 (never) to 86400 seconds"},
      // Where to listen.
      {"listen without port", "", {"--listen", "localhost"}, {}, "--listen takes HOST:PORT"},
      {"listen bad port",
       "",
       {"--listen", "127.0.0.1:99999"},
       {},
       "bad port in --listen 127.0.0.1:99999"},
      {"listen in the file without port",
       "listen = \"localhost\"\n",
       {},
       {},
       "--listen takes HOST:PORT"},
      // Secrets.
      {"token too short (file)",
       "operator-token = [\"0123456789abcdef\"]\n",
       {},
       {},
       "too short: 16 characters carry at most 64 bits; at least 128 are needed"},
      {"token too short (env)",
       "",
       {},
       {{"KEYDIRD_OPERATOR_TOKEN", "0123456789abcdef"}},
       "too short: 16 characters carry at most 64 bits"},
      {"token in a world-readable config",
       "operator-token = [\"@TOKEN@\"]\n",
       {},
       {},
       "(it holds an operator token or the SMTP password)",
       0644},
      {"smtp password in a world-readable config",
       "smtp-url = \"smtp://127.0.0.1:25\"\nsmtp-user = \"u\"\nsmtp-password = \"pw\"\n",
       {},
       {},
       "(it holds an operator token or the SMTP password)",
       0644},
      {"token file open to everyone",
       "",
       {"--operator-token-file", "@DIR@/open-tokens"},
       {},
       "@DIR@/open-tokens"},
      {"token file missing", "operator-token-file = \"@DIR@/none\"\n", {}, {}, "@DIR@/none"},
      {"smtp password in two places",
       "smtp-url = \"smtp://127.0.0.1:25\"\nsmtp-user = \"u\"\n",
       {"--smtp-password-file", "@DIR@/smtp.pw"},
       {{"KEYDIRD_SMTP_PASSWORD", "pw"}},
       "give the SMTP password in one place: --smtp-password-file, KEYDIRD_SMTP_PASSWORD or "
       "smtp-password in the config file"},
      {"smtp password in the file and the env",
       "smtp-url = \"smtp://127.0.0.1:25\"\nsmtp-user = \"u\"\nsmtp-password = \"pw\"\n",
       {},
       {{"KEYDIRD_SMTP_PASSWORD", "pw"}},
       "give the SMTP password in one place"},
      {"smtp-url with a login",
       "smtp-url = \"smtp://user:pw@127.0.0.1:25\"\n",
       {},
       {},
       "--smtp-url must not hold a login (it is logged)"},
      {"smtp-url not smtp",
       "smtp-url = \"http://127.0.0.1:25\"\n",
       {},
       {},
       "--smtp-url must start with smtp:// (STARTTLS) or smtps:// (TLS)"},
      {"insecure loopback, remote relay",
       "smtp-url = \"smtp://192.0.2.25:25\"\nsmtp-user = \"u\"\nsmtp-insecure-loopback = true\n",
       {"--smtp-password-file", "@DIR@/smtp.pw"},
       {},
       "allowed only for a relay on 127.0.0.1, ::1 or localhost, not 192.0.2.25"},
      {"smtp password without user",
       "smtp-url = \"smtp://127.0.0.1:25\"\n",
       {},
       {{"KEYDIRD_SMTP_PASSWORD", "pw"}},
       "an SMTP password without --smtp-user"},
      {"smtp login without url",
       "smtp-user = \"u\"\n",
       {},
       {},
       "an SMTP login or smtp-insecure-loopback without --smtp-url"},
      {"insecure loopback without url",
       "smtp-insecure-loopback = true\n",
       {},
       {},
       "an SMTP login or smtp-insecure-loopback without --smtp-url"},
      // Typos, numbers out of range, the data folder.
      {"a typo, with the closest setting",
       "add-rate = 30\nadd-burts = 5\n",
       {},
       {},
       "@DIR@/config.toml:2:1: unknown setting 'add-burts' (did you mean add-burst?)"},
      {"a negative number for an unsigned one",
       "",
       {"--max-results", "-1"},
       {},
       "--max-results -1: 1 to 1000000"},
      {"a huge rate",
       "add-rate = 1e300\n",
       {},
       {},
       "add-rate = 1e+300: a number a minute, 0 (no limit) to 1000000"},
      {"a fraction for a whole number",
       "idle-timeout = 1.5\n",
       {},
       {},
       "@DIR@/config.toml:1:16: idle-timeout: 1.5 is not a whole number"},
      {"data is a file", "", {"--data", "@DIR@/policy"}, {}, "--data @DIR@/policy: not a folder"},
      {"data without its parent",
       "data = \"@DIR@/no/such/data\"\n",
       {},
       {},
       "@DIR@/config.toml:1:8: data = @DIR@/no/such/data: its parent @DIR@/no/such does not exist"},
      {"config file missing",
       "",
       {"--config", "@DIR@/none.toml"},
       {},
       "--config @DIR@/none.toml: cannot read: No such file or directory"},
      // WKD.
      {"bad wkd-domain",
       "wkd-domain = [\"not a domain\"]\n",
       {},
       {},
       "--wkd-domain not a domain: "},
      {"unreadable wkd-policy",
       "wkd-policy = \"@DIR@/none\"\n",
       {},
       {},
       "cannot read --wkd-policy @DIR@/none"},
      // Peering.
      {"bad recon-filters",
       "recon-listen = \"127.0.0.1:0\"\nrecon-filters = \"nonsense\"\n",
       {},
       {},
       "--recon-filters: "},
      {"bad peer spec", "", {"--peer", "nohostport"}, {}, "peer nohostport"},
      {"recon-listen without port",
       "recon-listen = \"127.0.0.1\"\n",
       {},
       {},
       "--recon-listen takes HOST:PORT"},
      {"drop:UAT but keeping photo IDs",
       "recon-listen = \"127.0.0.1:0\"\nrecon-filters = \"drop:UAT\"\nkeep-user-attributes = "
       "true\n",
       {},
       {},
       "the filter drop:UAT says user attributes are dropped"},
      {"drop:implausible but keeping third-party certifications",
       "[[peer]]\nhost = \"h\"\nfilters = \"drop:implausible\"\n",
       {"--keep-third-party"},
       {},
       "the filter drop:implausible says implausible third-party certifications are dropped"},
  };
  ASSERT_GE(cases.size(), 20U);
  for (const auto& c : cases) {
    auto r = load(c.toml, c.flags, c.env, c.mode);
    const std::string want = sub(c.message);
    if (r) {
      ADD_FAILURE() << c.name << ": accepted; expected: " << want;
      std::cout << "FAIL " << c.name << "\n";
      continue;
    }
    const std::string& got = r.error().detail;
    const bool ok = got.find(want) != std::string::npos && got.find('\n') == std::string::npos;
    EXPECT_TRUE(ok) << c.name << ":\n  got:  " << got << "\n  want: " << want;
    std::cout << (ok ? "ok   " : "FAIL ") << c.name << ": " << got << "\n";
  }
}

TEST_F(ServeConfigTest, DefaultsWithoutAFile) {
  auto r = load("", {});
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->data, "data");
  EXPECT_EQ(r->http.host, "127.0.0.1");
  EXPECT_EQ(r->http.port, 0);
  EXPECT_GE(r->http.threads, 2);
  EXPECT_FALSE(r->http.tls_cert);
  EXPECT_TRUE(r->http.log_queries);
  EXPECT_EQ(r->max_results, 100U);
  EXPECT_EQ(r->row_cache_bytes, 256ULL << 20);
  EXPECT_EQ(r->answer_cache_bytes, 64ULL << 20);
  EXPECT_EQ(r->add_per_minute, 30);
  EXPECT_EQ(r->add_burst, 40);
  EXPECT_EQ(r->verify_token_seconds, 24U * 3600);
  EXPECT_EQ(r->public_url, "http://127.0.0.1:0");
  EXPECT_FALSE(r->requested_mode);
  EXPECT_FALSE(r->peering);
  EXPECT_TRUE(r->operator_tokens.empty());
  EXPECT_TRUE(r->managed_uploads_need_token);
  EXPECT_EQ(r->access_log, "-");
  EXPECT_EQ(warnings_.str(), "");
}

TEST_F(ServeConfigTest, TheFileBeatsTheDefaultAndTheFlagBeatsTheFile) {
  auto r = load(
      "data = \"@DIR@/file-data\"\nmax-results = 50\nadd-rate = 0\nadd-burst = 0\n"
      "site-name = \"from the file\"\nwkd-domain = [\"Example.ORG\", \"b.example\"]\n"
      "mode = \"verified\"\nverify-token-hours = 0.5\nno-query-log = true\nsync = false\n"
      "tls-cert = \"@DIR@/cert.pem\"\ntls-key = \"@DIR@/key.pem\"\n"
      "public-url = \"https://keys.example.org//\"\nidle-timeout = 0\n",
      {"--max-results", "7", "--site-name", "from the flag", "--wkd-domain", "flag.example"});
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->data, dir_ + "/file-data");  // file beats default
  EXPECT_EQ(r->max_results, 7U);            // flag beats file
  EXPECT_EQ(r->site_name, "from the flag");
  EXPECT_EQ(r->wkd_domains, std::vector<std::string>{"flag.example"});  // a list too
  EXPECT_EQ(r->add_per_minute, 0);                                      // 0: no limit, any burst
  EXPECT_EQ(r->add_burst, 0);
  EXPECT_EQ(r->auth_per_minute, 30);  // default
  ASSERT_TRUE(r->requested_mode);
  EXPECT_EQ(*r->requested_mode, service::PublishMode::Verified);
  EXPECT_EQ(r->verify_token_seconds, 1800U);
  EXPECT_FALSE(r->http.log_queries);
  EXPECT_FALSE(r->sync);
  ASSERT_TRUE(r->http.tls_cert);
  EXPECT_EQ(*r->http.tls_key, dir_ + "/key.pem");
  EXPECT_EQ(r->public_url, "https://keys.example.org");
  EXPECT_EQ(r->http.idle_timeout_seconds, 0);
}

TEST_F(ServeConfigTest, DomainsAreNormalizedAndSorted) {
  auto r = load("wkd-domain = [\"B.Example\", \"a.example\", \"b.example\"]\n", {});
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->wkd_domains, (std::vector<std::string>{"b.example", "a.example", "b.example"}));
  EXPECT_EQ(r->sorted_domains, (std::vector<std::string>{"a.example", "b.example"}));
}

TEST_F(ServeConfigTest, TlsMakesTheDefaultPublicUrlHttps) {
  auto r = load("", {"--tls-cert", "@DIR@/cert.pem", "--tls-key", "@DIR@/key.pem"});
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->public_url, "https://127.0.0.1:0");
}

TEST_F(ServeConfigTest, TokensFromFileTokenFileAndEnvironmentTheEnvironmentUnset) {
  auto r =
      load("operator-token = [\"@TOKEN@\"]\n", {"--operator-token-file", "@DIR@/tokens"},
           {{"KEYDIRD_OPERATOR_TOKEN", "abcdefabcdef0123456789abcdef0123, "}, {"OTHER", "stays"}});
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->operator_tokens,
            (std::vector<std::string>{kGood, kGood2, "abcdefabcdef0123456789abcdef0123"}));
  EXPECT_FALSE(env_.get("KEYDIRD_OPERATOR_TOKEN"));
  EXPECT_EQ(env_.get("OTHER"), "stays");
  EXPECT_EQ(warnings_.str(), "");
}

TEST_F(ServeConfigTest, TheDeprecatedFlagsWarn) {
  auto r = load("", {"--operator-token", kGood, "--smtp-url", "smtp://127.0.0.1:25", "--smtp-user",
                     "u", "--smtp-password", "pw"});
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->smtp.password, "pw");
  const std::string w = warnings_.str();
  EXPECT_NE(w.find("warning: --operator-token on the command line is deprecated"),
            std::string::npos);
  EXPECT_NE(w.find("warning: --smtp-password on the command line is deprecated"),
            std::string::npos);
}

TEST_F(ServeConfigTest, TheSmtpPasswordFromItsFileOrTheEnvironment) {
  const std::string smtp = "smtp-url = \"smtps://relay.example:465\"\nsmtp-user = \"u\"\n";
  auto f = load(smtp, {"--smtp-password-file", "@DIR@/smtp.pw"});
  ASSERT_TRUE(f) << f.error().detail;
  EXPECT_EQ(f->smtp.password, "s3cret");
  EXPECT_EQ(f->smtp.url, "smtps://relay.example:465");
  auto e = load(smtp, {}, {{"KEYDIRD_SMTP_PASSWORD", "from-env"}});
  ASSERT_TRUE(e) << e.error().detail;
  EXPECT_EQ(e->smtp.password, "from-env");
  EXPECT_FALSE(env_.get("KEYDIRD_SMTP_PASSWORD"));
}

TEST_F(ServeConfigTest, PeersFromTablesUnlessTheFlagGivesThem) {
  const std::string toml =
      "recon-listen = \"[::1]:11370\"\ngossip-interval = 0\nrecon-hkp-port = 443\n"
      "[[peer]]\nhost = \"a.example\"\nrecon-port = 1\nhkp-port = 2\n"
      "[[peer]]\nhost = \"b.example\"\nfilters = \"hockeypuck-2.3\"\n";
  auto r = load(toml, {});
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_TRUE(r->peering);
  EXPECT_TRUE(r->recon.listen);
  EXPECT_EQ(r->recon.listen_host, "::1");
  EXPECT_EQ(r->recon.listen_port, 11370);
  EXPECT_EQ(r->recon.gossip_interval_seconds, 0);
  EXPECT_TRUE(r->recon_http_port_given);
  EXPECT_EQ(r->recon.http_port, 443);
  ASSERT_EQ(r->recon.peers.size(), 2U);
  EXPECT_EQ(r->recon.peers[0].host, "a.example");
  EXPECT_EQ(r->recon.peers[0].recon_port, 1);
  EXPECT_EQ(r->recon.peers[0].hkp_port, 2);
  EXPECT_EQ(r->recon.peers[1].recon_port, 11370);
  EXPECT_EQ(r->recon.peers[1].hkp_port, 11371);
  EXPECT_TRUE(r->recon.peers[1].filters);
  auto flag = load(toml, {"--peer", "c.example:5:6"});
  ASSERT_TRUE(flag) << flag.error().detail;
  ASSERT_EQ(flag->recon.peers.size(), 1U);
  EXPECT_EQ(flag->recon.peers[0].host, "c.example");
}

TEST_F(ServeConfigTest, TheStoresModeDecidesWhatElseIsNeeded) {
  using service::ModeSetting;
  using service::PublishMode;
  auto cfg = load("", {});
  ASSERT_TRUE(cfg);
  EXPECT_TRUE(apply_mode(*cfg, ModeSetting{PublishMode::Open, {}}));
  auto r = apply_mode(*cfg, ModeSetting{PublishMode::Verified, {}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            "mode verified mails confirmation links: set --smtp-url and --smtp-from");

  auto smtp = load("smtp-url = \"smtp://127.0.0.1:25\"\nsmtp-from = \"k@example.org\"\n", {});
  ASSERT_TRUE(smtp);
  EXPECT_TRUE(apply_mode(*smtp, ModeSetting{PublishMode::Verified, {}}));
  // The example's placeholder public-url: refused where links are mailed,
  // a warning elsewhere; an unset one is a warning where links are mailed.
  std::ostringstream warned;
  EXPECT_TRUE(apply_mode(*smtp, ModeSetting{PublishMode::Verified, {}}, &warned));
  EXPECT_NE(warned.str().find("warning: public-url is not set: confirmation mails link to "
                              "http://127.0.0.1:0"),
            std::string::npos)
      << warned.str();
  auto placeholder = load(
      "smtp-url = \"smtp://127.0.0.1:25\"\nsmtp-from = \"k@example.org\"\n"
      "public-url = \"https://keys.example.org/\"\n",
      {});
  ASSERT_TRUE(placeholder);
  r = apply_mode(*placeholder, ModeSetting{PublishMode::Verified, {}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            dir_ +
                "/config.toml:3:14: public-url = https://keys.example.org/: the example's "
                "placeholder; confirmation mails would link there: set public-url to this "
                "server's address as users reach it (https://keys.DOMAIN)");
  warned.str("");
  EXPECT_TRUE(apply_mode(*placeholder, ModeSetting{PublishMode::Open, {}}, &warned));
  EXPECT_NE(warned.str().find("the example's placeholder; set public-url"), std::string::npos);
  auto real = load("public-url = \"https://keys.example.net.au\"\n", {"--mode", "open"});
  ASSERT_TRUE(real);
  EXPECT_TRUE(real->public_url_placeholder.empty());
  r = apply_mode(*smtp, ModeSetting{PublishMode::Managed, {}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail, "--mode managed serves the organization's domains: set --wkd-domain");
  // An empty --wkd-domain takes the managed store's domains.
  r = apply_mode(*smtp, ModeSetting{PublishMode::Managed, {"example.org"}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("needs an operator token"), std::string::npos);
  EXPECT_EQ(smtp->wkd_domains, std::vector<std::string>{"example.org"});

  auto other = load(
      "smtp-url = \"smtp://127.0.0.1:25\"\nsmtp-from = \"k@example.org\"\n"
      "wkd-domain = [\"other.example\"]\n",
      {"--data", "D"});
  ASSERT_TRUE(other);
  r = apply_mode(*other, ModeSetting{PublishMode::Managed, {"example.org"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            "the store in D manages managed (example.org); --wkd-domain names other domains: to "
            "change them, keydird admin set-mode managed --domain D... --data D");

  auto peers = load("smtp-url = \"smtp://127.0.0.1:25\"\nsmtp-from = \"k@example.org\"\n",
                    {"--peer", "h:1:2"});
  ASSERT_TRUE(peers);
  r = apply_mode(*peers, ModeSetting{PublishMode::Verified, {}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("needs --mode open"), std::string::npos);
}

TEST_F(ServeConfigTest, ManagedModeByTokenNeedsNoRelay) {
  using service::ModeSetting;
  using service::PublishMode;
  const ModeSetting managed{PublishMode::Managed, {"example.org"}};
  // --managed-uploads token (the default) mails nothing: no --smtp-*.
  auto token = load("operator-token = [\"@TOKEN@\"]\n", {});
  ASSERT_TRUE(token) << token.error().detail;
  EXPECT_FALSE(mails_confirmations(*token, PublishMode::Managed));
  EXPECT_TRUE(mails_confirmations(*token, PublishMode::Verified));
  EXPECT_FALSE(mails_confirmations(*token, PublishMode::Open));
  auto ok = apply_mode(*token, managed);
  EXPECT_TRUE(ok) << ok.error().detail;
  // Verified mode still does.
  auto verified = apply_mode(*token, ModeSetting{PublishMode::Verified, {}});
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().detail,
            "mode verified mails confirmation links: set --smtp-url and --smtp-from");
  // --managed-uploads verify mails confirmation links.
  auto verify = load("operator-token = [\"@TOKEN@\"]\nmanaged-uploads = \"verify\"\n", {});
  ASSERT_TRUE(verify) << verify.error().detail;
  EXPECT_TRUE(mails_confirmations(*verify, PublishMode::Managed));
  auto r = apply_mode(*verify, managed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail,
            "mode managed with --managed-uploads verify mails confirmation links: set --smtp-url "
            "and --smtp-from (or --managed-uploads token, which mails nothing)");
}

}  // namespace
}  // namespace keydir::server
