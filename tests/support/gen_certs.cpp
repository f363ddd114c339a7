// gen_certs: writes N generated certificates (binary, concatenated: the
// keydump format) for scale tests and benchmarks.
//
// --mix ed25519 (the default) is the original generator: one Ed25519 user ID
// certificate after another from one random stream (--v6-every for v6 ones);
// its output for a given --seed and --count never changes.
// --mix realistic is RealisticMix (cert_generator.hpp): certificate i is a
// pure function of (seed, i), so --first, --threads and --out-dir/--per-file
// split the work without changing a byte of the concatenated output.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>

#include "cert_generator.hpp"
#include "openpgp/certificate.hpp"

namespace {

// Where certificates go: one file (--out), or DIR/keys-NNNNN.pgp with
// certificates [n*K, (n+1)*K) of the global index in file n (--out-dir).
class Sink {
 public:
  Sink(std::string out, std::string dir, std::size_t per_file)
      : out_(std::move(out)), dir_(std::move(dir)), per_file_(per_file) {}
  // --out is created at once (also for --count 0), --out-dir's files as they fill.
  bool open() {
    if (dir_.empty()) {
      f_.open(out_, std::ios::binary | std::ios::trunc);
      if (!f_) {
        std::cerr << "gen_certs: cannot write " << out_ << "\n";
        return false;
      }
      return true;
    }
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    return true;
  }
  bool write(std::uint64_t index, const keydir::Bytes& cert) {
    if (!f_.is_open() || (!dir_.empty() && index / per_file_ != file_)) {
      f_.close();
      std::string path = out_;
      if (!dir_.empty()) {
        file_ = index / per_file_;
        char name[32];
        std::snprintf(name, sizeof name, "/keys-%05llu.pgp",
                      static_cast<unsigned long long>(file_));
        path = dir_ + name;
      }
      f_.open(path, std::ios::binary | std::ios::trunc);
      if (!f_) {
        std::cerr << "gen_certs: cannot write " << path << "\n";
        return false;
      }
    }
    f_.write(reinterpret_cast<const char*>(cert.data()), static_cast<std::streamsize>(cert.size()));
    bytes_ += cert.size();
    return static_cast<bool>(f_);
  }
  bool close() {
    if (f_.is_open()) {
      f_.close();
      return !f_.fail();
    }
    return true;
  }
  std::uint64_t bytes() const { return bytes_; }

 private:
  std::string out_;
  std::string dir_;
  std::size_t per_file_;
  std::uint64_t file_ = 0;
  std::uint64_t bytes_ = 0;
  std::ofstream f_;
};

// The bench corpus lists (../shared/bench format, for hkp-load.sh).
class Corpus {
 public:
  Corpus(const std::string& dir, std::uint64_t seed) : on_(!dir.empty()) {
    if (!on_) {
      return;
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);  // an error shows below
    fprs_.open(dir + "/fingerprints.txt");
    keyids_.open(dir + "/keyids.txt");
    emails_.open(dir + "/emails.txt");
    std::ofstream misses(dir + "/misses.txt");
    if (!fprs_ || !keyids_ || !emails_ || !misses) {
      error_ = "cannot write the lists in " + dir +
               (ec ? " (" + ec.message() + ")" : std::string(" (not a writable folder)"));
      return;
    }
    keydir::test::CertGenerator other(seed + 1000003);
    for (int i = 0; i < 1000; ++i) {
      auto s = other.random_seed();
      misses << keydir::to_hex(keydir::ByteView(s.data(), 20)) << "\n";
    }
  }
  bool on() const { return on_; }
  // Why the lists cannot be written; empty when they can (or are not asked).
  const std::string& error() const { return error_; }
  // A v4 certificate; its first user ID's address, if it has one, to emails.txt.
  void list(const keydir::Bytes& cert) {
    auto parsed = keydir::openpgp::parse_certificates(cert);
    const auto& c = *parsed->front().cert;
    fprs_ << c.primary.fingerprint.to_hex() << "\n";
    keyids_ << c.primary.key_id.to_hex() << "\n";
    auto email = keydir::openpgp::Email::from_user_id(keydir::as_chars(c.user_ids[0].body));
    if (email) {
      emails_ << c.primary.key_id.to_hex() << " " << email->address() << "\n";
    }
  }

 private:
  bool on_;
  std::string error_;
  std::ofstream fprs_;
  std::ofstream keyids_;
  std::ofstream emails_;
};

// Certificates [first, first + count) of `mix`, made by `threads` threads in
// chunks and written in index order.
bool run_realistic(const keydir::test::RealisticMix& mix, std::uint64_t first, std::uint64_t count,
                   unsigned threads, Sink& sink, Corpus& corpus, std::size_t every) {
  constexpr std::uint64_t kChunk = 64;
  const std::uint64_t chunks = (count + kChunk - 1) / kChunk;
  std::mutex m;
  std::condition_variable cv;
  std::map<std::uint64_t, std::vector<keydir::Bytes>> done;
  std::uint64_t next_chunk = 0;
  std::uint64_t written = 0;  // chunks written
  bool failed = false;
  auto worker = [&] {
    for (;;) {
      std::uint64_t c = 0;
      {
        std::unique_lock lock(m);
        // At most 4 chunks per thread ahead of the writer.
        cv.wait(lock, [&] { return failed || next_chunk < written + 4 * threads; });
        if (failed || next_chunk >= chunks) {
          return;
        }
        c = next_chunk++;
      }
      std::vector<keydir::Bytes> certs;
      const std::uint64_t begin = c * kChunk;
      const std::uint64_t end = std::min(count, begin + kChunk);
      for (std::uint64_t i = begin; i < end; ++i) {
        certs.push_back(mix.make(first + i));
      }
      {
        std::lock_guard lock(m);
        done.emplace(c, std::move(certs));
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back(worker);
  }
  bool ok = true;
  for (std::uint64_t c = 0; c < chunks && ok; ++c) {
    std::vector<keydir::Bytes> certs;
    {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return done.count(c) > 0; });
      certs = std::move(done[c]);
      done.erase(c);
    }
    for (std::size_t j = 0; j < certs.size(); ++j) {
      const std::uint64_t index = first + c * kChunk + j;
      ok = ok && sink.write(index, certs[j]);
      if (corpus.on() && index % every == 0) {
        corpus.list(certs[j]);
      }
    }
    {
      std::lock_guard lock(m);
      written = c + 1;
      failed = !ok;
    }
    cv.notify_all();
  }
  for (auto& t : pool) {
    t.join();
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gen_certs — N valid, distinct certificates (test data)"};
  std::size_t count = 1000;
  std::uint64_t seed = 1;
  std::size_t v6_every = 0;
  std::string out;
  std::string out_dir;
  std::size_t per_file = 100000;
  std::string corpus_dir;
  std::size_t every = 1;
  std::string mix_name = "ed25519";
  unsigned threads = 1;
  std::uint64_t first = 0;
  std::size_t rsa_pool = 64;
  app.add_option("--corpus-dir", corpus_dir,
                 "Also write fingerprints.txt, keyids.txt, emails.txt and misses.txt there "
                 "(the format of ../shared/bench, for hkp-load.sh)");
  app.add_option("--corpus-every", every, "List every Nth certificate only")
      ->check(CLI::PositiveNumber);
  app.add_option("--count", count, "How many certificates")->capture_default_str();
  app.add_option("--seed", seed, "Random seed (same seed, same output)")->capture_default_str();
  app.add_option("--v6-every", v6_every,
                 "Make every Nth certificate a v6 one (0: none; --mix ed25519 only)");
  app.add_option("--mix", mix_name,
                 "ed25519: the original Ed25519 certificates, one user ID each (byte-identical "
                 "for a seed). realistic: certificate i a pure function of (seed, i); 60% "
                 "Ed25519+Cv25519, 30% RSA-2048, 8% RSA-3072, 2% RSA-4096 (each with an "
                 "encryption subkey of its algorithm); 1 (65%), 2 (25%) or 3 (10%) user IDs, 4% "
                 "of first ones without an e-mail; 20% with a signing subkey; 25% with 1-10 "
                 "third-party certifications (stripped by keydird); 5% with a superseded "
                 "self-signature. RSA keys come from a pool per size (--rsa-pool), certificates "
                 "differ by creation time")
      ->check(CLI::IsMember({"ed25519", "realistic"}))
      ->capture_default_str();
  app.add_option("--threads", threads,
                 "Threads (--mix realistic; the output does not depend on it)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--first", first,
                 "Index of the first certificate (--mix realistic): --first I --count N makes "
                 "certificates I..I+N-1 of the full set")
      ->capture_default_str();
  std::string rsa_cache;
  app.add_option("--rsa-cache", rsa_cache,
                 "Folder where the RSA pool keys are kept once made, and read from the next "
                 "time (--mix realistic; the output does not depend on it)");
  app.add_option("--rsa-pool", rsa_pool,
                 "RSA keys per size in the pool (--mix realistic; part of the output's identity)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bool rsa_multi_prime = false;
  app.add_flag("--rsa-multi-prime", rsa_multi_prime,
               "RSA-3072 pool keys of 3 primes, RSA-4096 of 4 (RFC 8017): signing 2-3 times "
               "faster, the public keys (n, e) of the same sizes (--mix realistic; part of the "
               "output's identity)");
  auto* out_opt = app.add_option("--out", out, "Output file");
  auto* dir_opt = app.add_option("--out-dir", out_dir,
                                 "Output folder instead of --out: DIR/keys-00000.pgp, "
                                 "keys-00001.pgp, ..., file n holding certificates "
                                 "[n*K, (n+1)*K) of the global index");
  app.add_option("--per-file", per_file, "K, certificates per file with --out-dir")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  out_opt->excludes(dir_opt);
  CLI11_PARSE(app, argc, argv);
  if (out.empty() == out_dir.empty()) {
    std::cerr << "gen_certs: give --out FILE or --out-dir DIR\n";
    return 2;
  }
  const bool realistic = mix_name == "realistic";
  if (!realistic && (first != 0 || threads != 1)) {
    std::cerr << "gen_certs: --first and --threads need --mix realistic\n";
    return 2;
  }
  if (realistic && v6_every != 0) {
    std::cerr << "gen_certs: --v6-every is for --mix ed25519 (the realistic mix is v4)\n";
    return 2;
  }
  Sink sink(out, out_dir, per_file);
  if (!sink.open()) {
    return 2;
  }
  Corpus corpus(corpus_dir, seed);
  if (!corpus.error().empty()) {
    std::cerr << "gen_certs: --corpus-dir: " << corpus.error() << "\n";
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  bool ok = true;
  if (realistic) {
    keydir::test::RealisticMix mix(seed,
                                   keydir::test::MixOptions{rsa_pool, rsa_cache, rsa_multi_prime});
    ok = run_realistic(mix, first, count, threads, sink, corpus, every);
    auto pool = mix.pool_stats();
    std::fprintf(stderr, "gen_certs: %zu RSA pool keys made in %.2f s (CPU, all threads)\n",
                 pool.keys, pool.seconds);
  } else {
    keydir::test::CertGenerator gen(seed);
    for (std::size_t i = 0; i < count && ok; ++i) {
      int version = v6_every && (i + 1) % v6_every == 0 ? 6 : 4;
      auto cert = gen.next(version);
      ok = sink.write(i, cert);
      if (corpus.on() && i % every == 0 && version == 4) {
        corpus.list(cert);
      }
    }
  }
  ok = sink.close() && ok;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "gen_certs: %zu certificates, %llu bytes, %.2f s, %.0f certs/s\n", count,
               static_cast<unsigned long long>(sink.bytes()), seconds,
               seconds > 0 ? static_cast<double>(count) / seconds : 0.0);
  return ok ? 0 : 1;
}
