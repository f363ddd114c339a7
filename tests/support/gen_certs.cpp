// gen_certs: writes N generated certificates (binary, concatenated: the
// keydump format) for scale tests and benchmarks.
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cert_generator.hpp"
#include "openpgp/certificate.hpp"

int main(int argc, char** argv) {
  CLI::App app{"gen_certs — N valid, distinct Ed25519 certificates (test data)"};
  std::size_t count = 1000;
  std::uint64_t seed = 1;
  std::size_t v6_every = 0;
  std::string out;
  std::string corpus;
  std::size_t every = 1;
  app.add_option("--corpus-dir", corpus,
                 "Also write fingerprints.txt, keyids.txt, emails.txt and misses.txt there "
                 "(the format of ../shared/bench, for hkp-load.sh)");
  app.add_option("--corpus-every", every, "List every Nth certificate only");
  app.add_option("--count", count, "How many certificates");
  app.add_option("--seed", seed, "Random seed (same seed, same output)");
  app.add_option("--v6-every", v6_every, "Make every Nth certificate a v6 one (0: none)");
  app.add_option("--out", out, "Output file")->required();
  CLI11_PARSE(app, argc, argv);
  std::ofstream f(out, std::ios::binary);
  if (!f) {
    std::cerr << "gen_certs: cannot write " << out << "\n";
    return 2;
  }
  keydir::test::CertGenerator gen(seed);
  std::ofstream fprs;
  std::ofstream keyids;
  std::ofstream emails;
  if (!corpus.empty()) {
    fprs.open(corpus + "/fingerprints.txt");
    keyids.open(corpus + "/keyids.txt");
    emails.open(corpus + "/emails.txt");
    std::ofstream misses(corpus + "/misses.txt");
    keydir::test::CertGenerator other(seed + 1000003);
    for (int i = 0; i < 1000; ++i) {
      auto s = other.random_seed();
      misses << keydir::to_hex(keydir::ByteView(s.data(), 20)) << "\n";
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    int version = v6_every && (i + 1) % v6_every == 0 ? 6 : 4;
    auto cert = gen.next(version);
    f.write(reinterpret_cast<const char*>(cert.data()), static_cast<std::streamsize>(cert.size()));
    if (!corpus.empty() && i % every == 0 && version == 4) {
      auto parsed = keydir::openpgp::parse_certificates(cert);
      const auto& c = *parsed->front().cert;
      std::string fpr = c.primary.fingerprint.to_hex();
      fprs << fpr << "\n";
      keyids << c.primary.key_id.to_hex() << "\n";
      auto email = keydir::openpgp::Email::from_user_id(keydir::as_chars(c.user_ids[0].body));
      emails << c.primary.key_id.to_hex() << " " << email->address() << "\n";
    }
  }
  return f ? 0 : 1;
}
