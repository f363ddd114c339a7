// SKS reconciliation cost: two prefix trees of about N elements that differ
// by D (half on each side), reconciled over a Unix socket pair with the
// real session code. Prints, per D, the wall time, the rounds of requests,
// the protocol bytes both ways and what a full transfer would be.
//   recon_bench [N] [D...]      (default 1000000 and 1000 10000 100000)
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "recon/poly.hpp"
#include "recon/session.hpp"

using namespace keydir;
using namespace keydir::recon;

namespace {

Zp random_hash(std::mt19937_64& rng) { return random_element(rng); }

using FdStream = SocketStream;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  std::vector<std::size_t> diffs;
  for (int i = 2; i < argc; ++i) {
    diffs.push_back(std::strtoull(argv[i], nullptr, 10));
  }
  if (diffs.empty()) {
    diffs = {1000, 10000, 100000};
  }
  std::printf("| difference | tree build (each side) | reconciliation | request batches | bytes (both ways) | bytes per difference | recovered (server / client) |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (std::size_t d : diffs) {
    std::mt19937_64 rng(42 + d);
    std::vector<Zp> common(n - d / 2);
    for (auto& z : common) {
      z = random_hash(rng);
    }
    std::vector<Zp> a_only(d / 2), b_only(d - d / 2);
    for (auto& z : a_only) {
      z = random_hash(rng);
    }
    for (auto& z : b_only) {
      z = random_hash(rng);
    }
    PrefixTree a, b;
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& z : common) {
      a.insert(z);
    }
    for (const auto& z : a_only) {
      a.insert(z);
    }
    double build = seconds_since(t0);
    for (const auto& z : common) {
      b.insert(z);
    }
    for (const auto& z : b_only) {
      b.insert(z);
    }
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
      return 1;
    }
    SessionLimits limits;
    limits.max_recover = d * 2 + 1000;
    Result<Outcome> served = fail(ErrorCode::Internal, "");
    Result<Outcome> answered = fail(ErrorCode::Internal, "");
    t0 = std::chrono::steady_clock::now();
    std::thread server([&] {
      FdStream s(fds[0]);
      served = serve_session(s, a, limits);
    });
    {
      FdStream s(fds[1]);
      std::mt19937_64 r(7);
      answered = answer_session(s, b, limits, r);
    }
    server.join();
    double took = seconds_since(t0);
    ::close(fds[0]);
    ::close(fds[1]);
    if (!served || !answered) {
      std::fprintf(stderr, "session failed: %s\n",
                   (!served ? served.error().detail : answered.error().detail).c_str());
      return 1;
    }
    std::uint64_t bytes = served->bytes_out + answered->bytes_out;
    std::uint64_t batches = 0;
    // Each batch the serving side sends ends with one Flush; messages_out
    // counts requests + Flushes + Elements + Done; the answers are one per
    // request, so requests = answered->messages_out and batches follow.
    batches = served->messages_out - answered->messages_out;
    std::printf("| %zu | %.1f s | %.2f s | %llu | %.1f MB | %.0f | %zu / %zu |\n", d, build, took,
                static_cast<unsigned long long>(batches), static_cast<double>(bytes) / 1e6,
                static_cast<double>(bytes) / static_cast<double>(d), served->recover.size(),
                answered->recover.size());
    std::fflush(stdout);
  }
  std::printf("\nA list of all %zu hashes alone is %.1f MB; a full keydump of %zu certificates at "
              "the Debian corpus's 3.4 KB average (after stripping) is %.1f GB.\n",
              n, static_cast<double>(n) * 16 / 1e6, n, static_cast<double>(n) * 3400 / 1e9);
  return 0;
}
