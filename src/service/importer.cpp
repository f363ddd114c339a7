#include "service/importer.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <ostream>
#include <sstream>
#include <thread>

#include "common/bounded_queue.hpp"
#include "common/limits.hpp"
#include "openpgp/armor.hpp"
#include "openpgp/packet_reader.hpp"

namespace keydir::service {

namespace {

// A certificate's raw bytes, or a refusal decided before parsing.
struct RawCert {
  Bytes bytes;
  std::optional<Error> error;
};

struct Verdict {
  std::optional<openpgp::VerifiedCertificate> cert;
  std::vector<openpgp::Finding> stripped;
  std::optional<Error> error;
};

// Cuts a binary packet stream into certificates at every primary key (tag 6)
// or secret key (tag 5) packet, without reading packet bodies.
class CertSplitter {
 public:
  explicit CertSplitter(BoundedQueue<RawCert>& out) : out_(out) {}

  // Appends a chunk; false (with `error`) on a framing error: the rest of the
  // stream cannot be trusted to start on a packet boundary.
  bool feed(ByteView chunk, std::string& error) {
    buffer_.insert(buffer_.end(), chunk.begin(), chunk.end());
    std::size_t pos = 0;
    while (pos < buffer_.size()) {
      auto header = openpgp::peek_packet_header(ByteView(buffer_).subspan(pos), offset_ + pos);
      if (!header) {
        error = header.error().detail;
        return false;
      }
      if (!*header) {
        break;  // need more bytes for the header
      }
      std::size_t total = (*header)->header_len + (*header)->body_len;
      if ((*header)->body_len > limits::kMaxPacketBytes) {
        error = "packet of " + std::to_string((*header)->body_len) + " octets at offset " +
                std::to_string(offset_ + pos) + " exceeds the limit";
        return false;
      }
      if (buffer_.size() - pos < total) {
        break;  // need more bytes for the body
      }
      std::uint8_t tag = (*header)->tag;
      if (tag == 6 || tag == 5) {
        flush();
      }
      if (!oversized_) {
        if (current_.size() + total > limits::kMaxImportCertBytes) {
          oversized_ = true;
          current_.clear();
        } else {
          current_.insert(current_.end(), buffer_.begin() + static_cast<std::ptrdiff_t>(pos),
                          buffer_.begin() + static_cast<std::ptrdiff_t>(pos + total));
        }
      }
      pos += total;
    }
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(pos));
    offset_ += pos;
    return true;
  }

  // End of the stream: a partial packet left over is an error.
  bool finish(std::string& error) {
    flush();
    if (!buffer_.empty()) {
      error = "truncated packet at offset " + std::to_string(offset_);
      buffer_.clear();
      return false;
    }
    return true;
  }

  void flush() {
    if (oversized_) {
      out_.push(RawCert{{},
                        Error{ErrorCode::CertificateTooLarge,
                              "certificate larger than " +
                                  std::to_string(limits::kMaxImportCertBytes) + " octets"}});
    } else if (!current_.empty()) {
      out_.push(RawCert{std::move(current_), std::nullopt});
    }
    current_.clear();
    oversized_ = false;
  }

 private:
  BoundedQueue<RawCert>& out_;
  Bytes buffer_;
  Bytes current_;
  bool oversized_ = false;
  std::size_t offset_ = 0;
};

bool starts_armored(std::istream& in) {
  while (true) {
    int c = in.peek();
    if (c == EOF) {
      return false;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      in.get();
      continue;
    }
    return (c & 0x80) == 0;
  }
}

// Reads one file into the splitter; returns an error text or "".
std::string read_file(const std::string& path, BoundedQueue<RawCert>& out,
                      std::atomic<std::uint64_t>& bytes_read) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return path + ": cannot open";
  }
  CertSplitter splitter(out);
  std::string error;
  if (!starts_armored(in)) {
    std::vector<char> chunk(1 << 20);
    while (in && !out.closed()) {
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      auto got = static_cast<std::size_t>(in.gcount());
      bytes_read += got;
      if (!splitter.feed(as_bytes(std::string_view(chunk.data(), got)), error)) {
        splitter.flush();
        return path + ": " + error + " (rest of the file skipped)";
      }
    }
    if (!splitter.finish(error)) {
      return path + ": " + error;
    }
    return "";
  }
  // Armored: one block at a time (bounded), each decoded and split.
  std::string line;
  std::string block;
  bool in_block = false;
  std::size_t blocks = 0;
  while (!out.closed() && std::getline(in, line)) {
    bytes_read += line.size() + 1;
    if (!in_block) {
      if (line.rfind("-----BEGIN PGP", 0) == 0) {
        in_block = true;
        block = line + "\n";
      }
      continue;
    }
    block += line;
    block += "\n";
    if (block.size() > limits::kMaxImportCertBytes * 2) {
      return path + ": armor block larger than " + std::to_string(limits::kMaxImportCertBytes * 2) +
             " octets (rest skipped)";
    }
    if (line.rfind("-----END PGP", 0) == 0) {
      in_block = false;
      ++blocks;
      auto binary = openpgp::decode_key_input(as_bytes(block), limits::kMaxImportCertBytes * 2);
      block.clear();
      if (!binary) {
        out.push(RawCert{{}, binary.error()});
        continue;
      }
      if (!splitter.feed(*binary, error) || !splitter.finish(error)) {
        splitter.flush();
        out.push(RawCert{{}, Error{ErrorCode::MalformedPacket, error}});
      }
    }
  }
  if (in_block) {
    return path + ": armor block is not terminated";
  }
  if (blocks == 0) {
    return path + ": no OpenPGP data";
  }
  return "";
}

Verdict check(const RawCert& raw, const KeyDirectory& directory, std::uint64_t now) {
  const openpgp::Policy& policy = directory.options().policy;
  if (raw.error) {
    return Verdict{std::nullopt, {}, raw.error};
  }
  auto parsed = openpgp::parse_certificates(raw.bytes);
  if (!parsed) {
    return Verdict{std::nullopt, {}, parsed.error()};
  }
  auto& p = parsed->front();
  if (!p.cert) {
    return Verdict{std::nullopt, {}, p.cert.error()};
  }
  // A key already stored (a dump imported again, a key in two dumps): its
  // stored signatures were verified when they were stored.
  openpgp::SignatureMemo known;
  if (auto stored = directory.stored_summary(p.cert->primary.fingerprint)) {
    known = stored->memo();
  }
  auto v = openpgp::verify(std::move(*p.cert), policy, now, known);
  if (!v.accepted()) {
    return Verdict{std::nullopt, std::move(v.stripped), v.refusal};
  }
  return Verdict{std::move(v.cert), std::move(v.stripped), std::nullopt};
}

std::string duration(double s) {
  auto t = static_cast<long>(s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  return buf;
}

}  // namespace

ImportSummary import_files(KeyDirectory& directory, const std::vector<std::string>& files,
                           const ImportOptions& options) {
  using SteadyClock = std::chrono::steady_clock;
  const auto start = SteadyClock::now();
  ImportSummary summary;
  std::uint64_t total_bytes = 0;
  for (const auto& f : files) {
    std::error_code ec;
    total_bytes += std::filesystem::file_size(f, ec);
  }
  const unsigned threads =
      std::clamp(options.threads ? options.threads : std::thread::hardware_concurrency(), 1u,
                 limits::kMaxWorkerThreads);

  BoundedQueue<RawCert> raw_queue(4096);
  BoundedQueue<Verdict> verdicts(4096);
  std::atomic<std::uint64_t> bytes_read{0};
  std::mutex errors_mu;
  const std::uint64_t now = directory.now();
  std::atomic<unsigned> workers_left{threads};
  std::atomic<bool> stopping{false};         // a way out by an exception: drain, verify no more
  std::atomic<std::uint64_t> unreported{0};  // failures that could not even be queued
  // The reader, then the workers. On any way out, an exception included,
  // both queues close (so that no thread waits on them) and all are joined
  // (everything they use is declared above).
  std::vector<std::thread> pipeline;
  pipeline.reserve(threads + 1);
  JoinOnExit join(pipeline, [&] {
    stopping = true;
    raw_queue.close();
    verdicts.close();
  });
  pipeline.emplace_back([&] {
    for (const auto& f : files) {
      if (raw_queue.closed()) {
        break;
      }
      std::string err;
      try {
        err = read_file(f, raw_queue, bytes_read);
      } catch (const std::exception& e) {
        err = f + ": " + e.what();
      }
      if (!err.empty()) {
        std::lock_guard lock(errors_mu);
        summary.file_errors.push_back(err);
      }
    }
    raw_queue.close();
  });
  for (unsigned t = 0; t < threads; ++t) {
    pipeline.emplace_back([&] {
      while (auto raw = raw_queue.pop()) {
        if (stopping) {
          continue;
        }
        try {
          verdicts.push(check(*raw, directory, now));
        } catch (const std::exception& e) {
          try {
            verdicts.push(Verdict{std::nullopt, {}, Error{ErrorCode::Internal, e.what()}});
          } catch (...) {
            ++unreported;  // out of memory even for that
          }
        }
      }
      if (--workers_left == 0) {
        verdicts.close();
      }
    });
  }

  auto refuse = [&](const Error& e) {
    ++summary.refused;
    auto& r = summary.refusals[std::string(error_code_name(e.code))];
    if (r.count++ == 0) {
      r.example = e.detail;
    }
  };
  auto last_report = SteadyClock::now();
  auto report = [&](bool final) {
    if (!options.progress) {
      return;
    }
    auto t = SteadyClock::now();
    auto interval =
        options.progress_is_tty ? std::chrono::milliseconds(500) : std::chrono::milliseconds(10000);
    if (!final && t - last_report < interval) {
      return;
    }
    last_report = t;
    double secs = std::chrono::duration<double>(t - start).count();
    double rate = secs > 0 ? static_cast<double>(summary.read) / secs : 0;
    std::ostringstream line;
    line << "imported " << summary.read << " certificates, " << static_cast<std::uint64_t>(rate)
         << "/s (new " << summary.created << ", merged " << summary.updated << ", unchanged "
         << summary.unchanged << ", refused " << summary.refused << ")";
    std::uint64_t done = bytes_read.load();
    if (total_bytes > 0 && done > 0 && !final) {
      double left = secs * static_cast<double>(total_bytes - std::min(done, total_bytes)) /
                    static_cast<double>(done);
      line << ", " << (100 * std::min(done, total_bytes) / total_bytes) << "%, ETA "
           << duration(left);
    }
    if (options.progress_is_tty) {
      *options.progress << "\r" << line.str() << "\x1b[K" << (final ? "\n" : "") << std::flush;
    } else {
      *options.progress << line.str() << "\n" << std::flush;
    }
  };

  // The writer: batches of verified certificates, merge on write.
  std::vector<openpgp::VerifiedCertificate> batch;
  std::vector<std::vector<openpgp::Finding>> batch_stripped;
  auto write = [&] {
    if (batch.empty()) {
      return;
    }
    auto results =
        directory.store(std::move(batch), std::move(batch_stripped), options.publish_addresses);
    batch.clear();
    batch_stripped.clear();
    for (auto& r : results) {
      if (!r) {
        refuse(r.error());
        continue;
      }
      switch (r->outcome) {
        case Outcome::New:
          ++summary.created;
          break;
        case Outcome::Updated:
          ++summary.updated;
          break;
        case Outcome::Unchanged:
          ++summary.unchanged;
          break;
      }
      if (options.ack) {
        *options.ack << r->fingerprint.to_hex() << "\n";
      }
    }
    if (options.ack) {
      options.ack->flush();
    }
  };
  while (auto v = verdicts.pop()) {
    ++summary.read;
    if (v->error) {
      refuse(*v->error);
    } else if (options.verify_only) {
      ++summary.verified_only;
    } else {
      batch.push_back(std::move(*v->cert));
      batch_stripped.push_back(std::move(v->stripped));
    }
    // A full batch is written; so is a smaller one when no verified
    // certificate is waiting (verification is the slower side, so writing
    // now overlaps with it instead of waiting for a full batch).
    if (batch.size() >= options.batch || (batch.size() >= options.batch / 8 && verdicts.empty())) {
      write();
    }
    report(false);
  }
  write();
  for (auto& t : pipeline) {
    t.join();
  }
  if (const auto n = unreported.load(); n > 0) {
    summary.read += n;
    summary.refused += n;
    summary.refusals[std::string(error_code_name(ErrorCode::Internal))].count += n;
  }
  summary.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  report(true);
  return summary;
}

void print_summary(std::ostream& out, const ImportSummary& s) {
  double rate = s.seconds > 0 ? static_cast<double>(s.read) / s.seconds : 0;
  out << "read " << s.read << " certificates in " << std::fixed << std::setprecision(1) << s.seconds
      << " s (" << static_cast<std::uint64_t>(rate) << "/s)\n"
      << "  new        " << s.created << "\n"
      << "  merged     " << s.updated << "\n"
      << "  unchanged  " << s.unchanged << "\n"
      << "  refused    " << s.refused << "\n";
  if (s.verified_only) {
    out << "  verified   " << s.verified_only << " (--verify-only: nothing stored)\n";
  }
  for (const auto& [code, r] : s.refusals) {
    out << "    " << std::setw(7) << r.count << "  " << code << " (e.g. " << r.example << ")\n";
  }
  for (const auto& e : s.file_errors) {
    out << "  file skipped: " << e << "\n";
  }
}

}  // namespace keydir::service
