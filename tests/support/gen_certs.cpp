// gen_certs: writes N generated certificates (binary, concatenated: the
// keydump format) for scale tests and benchmarks.
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cert_generator.hpp"

int main(int argc, char** argv) {
  CLI::App app{"gen_certs — N valid, distinct Ed25519 certificates (test data)"};
  std::size_t count = 1000;
  std::uint64_t seed = 1;
  std::size_t v6_every = 0;
  std::string out;
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
  for (std::size_t i = 0; i < count; ++i) {
    int version = v6_every && (i + 1) % v6_every == 0 ? 6 : 4;
    auto cert = gen.next(version);
    f.write(reinterpret_cast<const char*>(cert.data()), static_cast<std::streamsize>(cert.size()));
  }
  return f ? 0 : 1;
}
