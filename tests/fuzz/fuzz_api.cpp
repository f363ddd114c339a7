// libFuzzer target: the HTTP API behind the network, without Pistache.
// Every byte a client controls reaches the handlers through an HttpRequest:
// the input is cut at NUL octets into method selector, path, query string
// (percent-decoded the way the server adapter does), Content-Type,
// Authorization and body. One store (a few fixture keys, verified mode with
// a mailer that drops mail) lives for the whole run. Covers the HKP query
// parser, form and multipart bodies, HKPv2 paths, VKS JSON and tokens, WKD
// paths and hosts, the pages' forms and the verification links.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "api/router.hpp"
#include "openpgp/armor.hpp"
#include "service/verification.hpp"
#include "storage/rocksdb/rocks_key_store.hpp"

namespace {

using namespace keydir;

class NoMail final : public service::Mailer {
 public:
  Result<void> send(const service::MailMessage&) override { return {}; }
};

struct World {
  std::unique_ptr<storage::RocksKeyStore> store;
  std::unique_ptr<service::KeyDirectory> directory;
  NoMail mailer;
  std::unique_ptr<service::Verification> verification;
  std::unique_ptr<api::Api> api;

  World() {
    auto dir =
        std::filesystem::temp_directory_path() / ("keydir-fuzz-api-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    storage::RocksOptions ro;
    ro.row_cache_bytes = 0;
    store = std::move(*storage::RocksKeyStore::open(dir.string(), ro));
    service::DirectoryOptions o;
    o.mode = service::PublishMode::Verified;
    directory = std::make_unique<service::KeyDirectory>(*store, o,
                                                        [] { return std::uint64_t{1893456000}; });
    verification =
        std::make_unique<service::Verification>(*directory, mailer, service::VerificationOptions{});
    for (const char* f : {"gpg-multi.asc", "gpg-rsa2048.asc", "gpg-ed25519.asc"}) {
      std::FILE* in = std::fopen((std::string(KEYDIR_SOURCE_DIR "/tests/data/") + f).c_str(), "rb");
      if (!in) {
        continue;
      }
      std::string text;
      char buf[4096];
      for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, in)) > 0;) {
        text.append(buf, n);
      }
      std::fclose(in);
      (void)directory->upload(as_bytes(text));
    }
    (void)directory->set_published(
        *openpgp::Fingerprint::from_hex("FC5D7A6980F7E484468DB87F65C71B0D2BE692AA"),
        {"multi@keydir.test"}, {});
    api::ApiOptions ao;
    ao.add_per_minute = 0;
    // Small, so that fuzzed lookups fill it and reach eviction and admission.
    ao.answer_cache_bytes = std::size_t{1} << 20;
    ao.token_secret = std::string(32, 's');
    ao.verification = verification.get();
    ao.wkd.domains = {"keydir.test"};
    ao.pages.wkd_domains = ao.wkd.domains;
    api = std::make_unique<api::Api>(*directory, ao);
  }
};

World& world() {
  static World w;
  return w;
}

std::string_view next(std::string_view& in) {
  auto nul = in.find('\0');
  std::string_view part = in.substr(0, nul);
  in = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  return part;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  static const char* const kMethods[] = {"GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE"};
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  api::HttpRequest r;
  r.method = kMethods[data[0] % 6];
  r.path = std::string(next(in));
  std::string_view query = next(in);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = kv.find('=');
    auto k = api::form_decode(kv.substr(0, eq));
    auto v =
        api::form_decode(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1));
    if (k && v) {
      r.query.emplace_back(std::move(*k), std::move(*v));
    }
  }
  r.content_type = std::string(next(in));
  r.host = std::string(next(in));
  r.authorization = std::string(next(in));
  r.body = std::string(in);
  r.client = "192.0.2.1";
  r.address = "127.0.0.1";  // a loopback client: /metrics is rendered too
  api::Reply reply = world().api->dispatch(r);
  if (reply.status < 200 || reply.status > 599) {
    __builtin_trap();
  }
  return 0;
}
