#include "service/check.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <utility>

#include "common/bounded_queue.hpp"
#include "common/limits.hpp"
#include "openpgp/canonical.hpp"
#include "service/store_access.hpp"

namespace keydir::service {

namespace {

// The problems one stored certificate has today, or none.
std::vector<std::string> recheck(const KeyDirectory& directory, const storage::CertRecord& r,
                                 std::uint64_t now) {
  std::vector<std::string> problems;
  const std::string name = r.fingerprint.to_hex();
  auto parsed = openpgp::parse_certificates(r.cert);
  if (!parsed || parsed->size() != 1 || !parsed->front().cert) {
    problems.push_back(name + ": stored bytes do not parse");
    return problems;
  }
  if (openpgp::content_digest(*parsed->front().cert) != r.digest) {
    problems.push_back(name + ": digest does not match the stored bytes");
  }
  auto v = openpgp::verify(*parsed->front().cert, directory.options().policy, now);
  if (!v.accepted()) {
    problems.push_back(name + ": no longer accepted: " + v.refusal->detail);
    return problems;
  }
  if (v.cert->fingerprint() != r.fingerprint) {
    problems.push_back(name + ": stored under another fingerprint");
  }
  // Open mode indexes every current user ID; Verified and Managed mode
  // the published addresses' ones (the store records its mode).
  if (directory.mode() == PublishMode::Managed) {
    auto published = directory.store_ref(StoreAccess{}).published(r.fingerprint);
    const auto domains = directory.mode_setting().managed_domains;
    for (const auto& a : published ? *published : std::vector<std::string>{}) {
      auto at = a.rfind('@');
      if (std::find(domains.begin(), domains.end(),
                    at == std::string::npos ? std::string() : a.substr(at + 1)) == domains.end()) {
        problems.push_back(name + ": " + a + " is published outside the managed domains");
      }
    }
  }
  auto expected = directory.index_for(*v.cert);
  if (!expected) {
    problems.push_back(name + ": " + expected.error().detail);
  } else if (*expected != r.index) {
    problems.push_back(name + ": index differs from what the certificate implies in " +
                       std::string(mode_name(directory.mode())) + " mode");
  }
  return problems;
}

}  // namespace

Result<CheckReport> check(const KeyDirectory& directory, bool deep, unsigned threads) {
  CheckReport report;
  KEYDIR_TRY(report.store, directory.store_ref(StoreAccess{}).check());
  if (!deep) {
    return report;
  }
  // One reader walks the store and hands batches of records to `threads`
  // workers, which parse and re-verify (nearly all of the time goes to
  // signature verification). The queue's bound (2 batches a worker, a batch
  // at most 64 records or about 1 MiB) keeps memory flat. What a worker or
  // the reader throws (out of memory) ends the check, every thread joined,
  // as a problem in the report.
  constexpr std::size_t kMaxProblems = 100;
  constexpr std::size_t kBatch = 64;            // records,
  constexpr std::size_t kBatchBytes = 1 << 20;  // or fewer when they are large
  threads = std::clamp(threads ? threads : std::thread::hardware_concurrency(), 1u,
                       limits::kMaxWorkerThreads);
  using Batch = std::vector<storage::CertRecord>;
  BoundedQueue<Batch> queue(2 * threads);
  std::mutex mu;
  std::multiset<std::string> problems;  // the first kMaxProblems by fingerprint
  std::atomic<std::uint64_t> problem_count{0};
  std::exception_ptr failure;  // the first one, under mu (copying it allocates nothing)
  auto failed = [&] {
    std::lock_guard lock(mu);
    if (!failure) {
      failure = std::current_exception();
    }
    queue.close();  // the reader stops at its next push
  };
  const auto now = directory.now();
  std::vector<std::thread> workers;
  workers.reserve(threads);
  Result<void> walked;
  {
    JoinOnExit join(workers, [&] { queue.close(); });
    try {
      auto work = [&] {
        while (auto batch = queue.pop()) {
          try {
            for (const auto& r : *batch) {
              auto found = recheck(directory, r, now);
              if (found.empty()) {
                continue;
              }
              problem_count += found.size();
              std::lock_guard lock(mu);
              for (auto& p : found) {
                problems.insert(std::move(p));
                if (problems.size() > kMaxProblems) {
                  problems.erase(std::prev(problems.end()));
                }
              }
            }
          } catch (...) {
            failed();
          }
        }
      };
      for (unsigned t = 0; t < threads; ++t) {
        try {
          workers.emplace_back(work);
        } catch (const std::system_error&) {
          if (workers.empty()) {
            throw;
          }
          break;  // a thread the system will not start: go on with those it did
        }
      }
      Batch batch;
      std::size_t batch_bytes = 0;
      walked = directory.store_ref(StoreAccess{}).for_each([&](const storage::CertRecord& r) {
        ++report.verified;
        batch_bytes += r.cert.size();
        batch.push_back(r);
        if (batch.size() == kBatch || batch_bytes >= kBatchBytes) {
          batch_bytes = 0;
          return queue.push(std::exchange(batch, Batch{}));
        }
        return true;
      });
      if (!batch.empty()) {
        queue.push(std::move(batch));
      }
    } catch (...) {
      failed();
    }
  }  // the queue closes, the workers finish and are joined
  // Workers finish in any order: the report lists problems by fingerprint.
  report.problems.assign(problems.begin(), problems.end());
  report.problem_count = problem_count.load();
  // A check that could not finish is a problem too, reported with what it
  // found so far and with the store's own report.
  std::string stopped;
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      stopped = e.what();
    } catch (...) {
      stopped = "unknown exception";
    }
  } else if (!walked) {
    stopped = walked.error().detail;
  }
  if (!stopped.empty()) {
    report.problems.insert(report.problems.begin(), "check --deep stopped: " + stopped);
    ++report.problem_count;
  }
  return report;
}

}  // namespace keydir::service
