#include "service/transparency.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "net/http.hpp"
#include "openpgp/crypto/primitives.hpp"

namespace keydir::service {

namespace {
constexpr std::string_view kKeyHeader = "keydir transparency log key v1";
constexpr std::string_view kCheckpointSetting = "log.checkpoint";
}  // namespace

std::string default_log_origin(std::string_view url) {
  if (auto p = url.find("://"); p != std::string_view::npos) {
    url.remove_prefix(p + 3);
  }
  url = url.substr(0, url.find('/'));
  std::string host;
  for (char ch : url) {
    if (ch > 0x20 && ch != '+' && ch != 0x7F) {
      host.push_back(ch);
    }
  }
  return (host.empty() ? std::string("keydir") : host) + "/log";
}

Result<std::optional<tlog::NoteSigner>> read_log_key(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return std::optional<tlog::NoteSigner>{};
  }
  KEYDIR_TRY(auto key, load_or_create_log_key(path, ""));
  return std::optional<tlog::NoteSigner>(std::move(key));
}

Result<tlog::NoteSigner> load_or_create_log_key(const std::string& path,
                                                const std::string& origin) {
  std::ifstream in(path);
  if (!in && std::filesystem::exists(path)) {
    return fail(ErrorCode::StorageIo, "cannot read " + path);
  }
  if (in) {
    std::string header;
    std::string name;
    std::string seed;
    std::getline(in, header);
    std::getline(in, name);
    std::getline(in, seed);
    auto raw = base64_decode(seed);
    if (header != kKeyHeader || !tlog::valid_key_name(name) || !raw || raw->size() != 32) {
      return fail(ErrorCode::StorageCorruption, path + " is not a transparency log key");
    }
    return tlog::NoteSigner{name, std::move(*raw)};
  }
  if (!tlog::valid_key_name(origin)) {
    return fail(ErrorCode::BadQuery,
                "the log's origin \"" + origin + "\" holds white space or '+'");
  }
  KEYDIR_TRY(auto seed, openpgp::crypto::random_bytes(32));
  // Durable before it signs anything: a key lost to a power cut would start
  // a new log that every pinned client refuses.
  const std::string tmp = path + ".new";
  const std::string text =
      std::string(kKeyHeader) + "\n" + origin + "\n" + base64_encode(seed) + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    return fail(ErrorCode::StorageIo, "cannot write " + tmp + ": " + std::strerror(errno));
  }
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = written && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(ErrorCode::StorageIo, "cannot write " + path + ": " + std::strerror(errno));
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return tlog::NoteSigner{origin, std::move(seed)};
}

TransparencyLog::TransparencyLog(storage::KeyStore& store, tlog::NoteSigner signer,
                                 LogOptions options)
    : store_(store),
      signer_(std::move(signer)),
      options_(std::move(options)),
      witness_(options_.witnesses.size()) {
  if (auto v = tlog::NoteVerifier::of(signer_); v) {
    verifier_ = std::move(*v);
  }
  if (auto v = tlog::NoteVerifier::of(signer_, tlog::kSigCosignatureV1); v) {
    time_verifier_ = std::move(*v);
  }
}

Result<tlog::Hash> TransparencyLog::read_hash(tlog::NodeId id) const {
  return store_.log_hash(id);
}

std::string TransparencyLog::served_note() const {
  std::string note = signed_->note;
  const std::string body = signed_->checkpoint.body();
  for (const auto& w : witness_) {
    if (!w.line.empty() && w.for_body == body) {
      note += w.line;
    }
  }
  return note;
}

Result<TransparencyLog::Signed> TransparencyLog::checkpoint() {
  std::lock_guard lock(mutex_);
  // Read under the lock: a thread that read a smaller tree must not replace
  // a larger checkpoint already signed (clients would see a rollback).
  KEYDIR_TRY(auto state, store_.log_state());
  const auto now = static_cast<std::uint64_t>(std::time(nullptr));
  // A clock set back re-dates at once rather than keep a future time.
  if (signed_ && signed_->checkpoint.size == state.size && now >= signed_->time &&
      now - signed_->time < options_.checkpoint_interval) {
    Signed out = *signed_;
    out.note = served_note();
    return out;
  }
  tlog::Checkpoint c{signer_.name, state.size, state.root};
  KEYDIR_TRY(auto note, tlog::sign_note(c.body(), signer_));
  KEYDIR_TRY(auto dated, tlog::cosign(c.body(), signer_, now));
  note += dated;
  // Kept for `keydird log verify`; a failure to keep it does not stop the
  // answer (the tree, not this copy, is what the checkpoint commits to).
  (void)store_.put_setting(kCheckpointSetting, note);
  signed_ = Signed{c, std::move(note), now};
  Signed out = *signed_;
  out.note = served_note();
  return out;
}

Result<std::string> TransparencyLog::witnessed() const {
  std::lock_guard lock(mutex_);
  if (witnessed_.empty()) {
    return fail(ErrorCode::NotFound, options_.witnesses.empty()
                                         ? "this log has no witnesses"
                                         : "no witness has cosigned a checkpoint yet");
  }
  return witnessed_;
}

namespace {
// "<size>\n": a witness's answer 409 (text/x.tlog.size).
std::optional<std::uint64_t> parse_size_line(std::string_view s) {
  if (s.empty() || s.back() != '\n' || s.size() > 21) {
    return std::nullopt;
  }
  s.remove_suffix(1);
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || (s.size() > 1 && s[0] == '0')) {
    return std::nullopt;
  }
  return v;
}
}  // namespace

std::vector<std::string> TransparencyLog::witness_round() {
  std::vector<std::string> failures;
  if (options_.witnesses.empty()) {
    return failures;
  }
  auto c = checkpoint();
  if (!c) {
    failures.push_back("the checkpoint: " + c.error().detail);
    return failures;
  }
  const std::string body = c->checkpoint.body();
  // What a witness reads: the checkpoint with the log's signature only.
  std::string plain;
  {
    auto split = tlog::split_note(c->note);
    if (!split || split->lines.empty()) {
      failures.push_back("the checkpoint's note does not split");
      return failures;
    }
    plain = std::string(split->text) + "\n" + std::string(split->lines.front()) + "\n";
  }
  // The witnesses in parallel: a slow one does not hold the others back.
  std::vector<std::string> why_of(options_.witnesses.size());
  auto submit = [&](std::size_t i) {
    const auto& w = options_.witnesses[i];
    WitnessState state;
    {
      std::lock_guard lock(mutex_);
      state = witness_[i];
    }
    // A size a witness claims (409) holds for this round only: a false one
    // must not stop the next rounds.
    const WitnessState before = state;
    if (state.for_body == body && state.for_time == c->time && !state.line.empty()) {
      return;  // already cosigned this one, as dated now
    }
    net::HttpOptions http;
    http.connect_timeout = 3;
    http.timeout = 5;
    http.max_body = 1 << 16;
    http.follow_redirects = false;
    std::string why;
    // Twice at most: a witness that has seen another size says which (409).
    for (int attempt = 0; attempt < 2; ++attempt) {
      const std::uint64_t old = state.size.value_or(0);
      if (old > c->checkpoint.size) {
        why = "it has seen " + std::to_string(old) + " entries and the log has " +
              std::to_string(c->checkpoint.size) + " (a rolled-back or forked log)";
        break;
      }
      std::string req = "old " + std::to_string(old) + "\n";
      if (old != 0 && old != c->checkpoint.size) {
        auto proof = consistency(old, c->checkpoint.size);
        if (!proof) {
          why = "no consistency proof from " + std::to_string(old) + ": " + proof.error().detail;
          break;
        }
        for (const auto& h : *proof) {
          req += tlog::hash_base64(h) + "\n";
        }
      }
      req += "\n" + plain;
      auto r = net::http_post(w.url + "/add-checkpoint", "text/plain; charset=utf-8", req, http);
      if (r.error != net::NetError::None) {
        why = r.message;
        break;
      }
      if (r.status == 409) {
        auto size = parse_size_line(r.body);
        if (!size || attempt == 1) {
          why = "409 with no usable size";
          break;
        }
        state.size = *size;
        continue;
      }
      if (r.status != 200) {
        // Its reason: the first line, printable, bounded.
        std::string reason;
        for (char ch : std::string_view(r.body).substr(0, 200)) {
          if (ch == '\n') {
            break;
          }
          reason.push_back(ch >= 0x20 && ch < 0x7F ? ch : '?');
        }
        why = "HTTP " + std::to_string(r.status) + (reason.empty() ? "" : " (" + reason + ")") +
              (r.status == 422 ? ": the consistency proof did not convince it (a fork?)" : "");
        break;
      }
      // The answer: cosignature lines; the one by this witness's key must
      // verify over this checkpoint. Served rebuilt in canonical form (a
      // lenient base64 could make strict parsers refuse the whole note).
      std::string line;
      std::string_view rest = r.body;
      while (!rest.empty() && line.empty()) {
        auto nl = rest.find('\n');
        if (nl == std::string_view::npos) {
          break;
        }
        std::string_view l = rest.substr(0, nl + 1);
        rest.remove_prefix(nl + 1);
        auto t = tlog::open_cosignature(body + "\n" + std::string(l), w.key);
        auto parsed = tlog::parse_signature_line(l.substr(0, l.size() - 1));
        if (t && t->has_value() && parsed) {
          line = tlog::format_signature_line(w.key.name, parsed->key_hash, parsed->blob);
        }
      }
      if (line.empty()) {
        why = "its answer holds no valid cosignature by " + w.key.name;
        break;
      }
      state.size = c->checkpoint.size;
      state.line = std::move(line);
      state.for_body = body;
      state.for_time = c->time;
      why.clear();
      break;
    }
    if (!why.empty()) {
      state = before;  // nothing learnt from a failed round
      why_of[i] = "witness " + w.key.name + " (" + w.url + "): " + why;
    }
    {
      std::lock_guard lock(mutex_);
      witness_[i] = state;
    }
  };
  {
    std::vector<std::thread> threads;
    threads.reserve(options_.witnesses.size());
    for (std::size_t i = 0; i < options_.witnesses.size(); ++i) {
      threads.emplace_back(submit, i);
    }
    for (auto& t : threads) {
      t.join();
    }
  }
  for (auto& w : why_of) {
    if (!w.empty()) {
      failures.push_back(std::move(w));
    }
  }
  // The newest checkpoint cosigned: this one, if a witness cosigned it.
  {
    std::lock_guard lock(mutex_);
    std::string note;
    for (const auto& w : witness_) {
      if (!w.line.empty() && w.for_body == body) {
        note += w.line;
      }
    }
    if (!note.empty() && signed_ && signed_->checkpoint.body() == body) {
      witnessed_ = signed_->note + note;
    }
  }
  return failures;
}

Result<Bytes> TransparencyLog::tile(const tlog::Tile& t) const {
  KEYDIR_TRY(auto state, store_.log_state());
  const std::uint64_t first = t.index * tlog::kTileWidth;
  if (t.index > (UINT64_MAX - tlog::kTileWidth) / tlog::kTileWidth) {
    return fail(ErrorCode::NotFound, "no such tile");
  }
  Bytes out;
  if (t.entries) {
    if (first + t.width > state.size) {
      return fail(ErrorCode::NotFound, "the log does not reach that tile yet");
    }
    KEYDIR_TRY(auto entries, store_.log_entries(first, t.width));
    if (entries.size() != t.width) {
      return fail(ErrorCode::StorageCorruption, "the log lacks entries it counts");
    }
    for (const auto& e : entries) {
      out.push_back(static_cast<std::uint8_t>(e.size() >> 8));
      out.push_back(static_cast<std::uint8_t>(e.size()));
      out.insert(out.end(), e.begin(), e.end());
    }
    return out;
  }
  // Level L holds hashes of tree level 8L: hash k covers leaves
  // [k << 8L, (k + 1) << 8L).
  const unsigned shift = tlog::kTileHeight * t.level;
  if (shift >= 64 || ((first + t.width) > (state.size >> shift))) {
    return fail(ErrorCode::NotFound, "the log does not reach that tile yet");
  }
  KEYDIR_TRY(auto hashes, store_.log_hashes(static_cast<std::uint8_t>(shift), first, t.width));
  if (hashes.size() != t.width) {
    return fail(ErrorCode::StorageCorruption, "the log lacks hashes it counts");
  }
  out.reserve(hashes.size() * 32);
  for (const auto& h : hashes) {
    out.insert(out.end(), h.begin(), h.end());
  }
  return out;
}

Result<std::vector<tlog::Hash>> TransparencyLog::inclusion(std::uint64_t index,
                                                           std::uint64_t size) const {
  KEYDIR_TRY(auto state, store_.log_state());
  if (size > state.size) {
    return fail(ErrorCode::BadQuery, "the log has only " + std::to_string(state.size) + " entries");
  }
  return tlog::inclusion_proof(index, size, [this](tlog::NodeId id) { return read_hash(id); });
}

Result<std::vector<tlog::Hash>> TransparencyLog::consistency(std::uint64_t old_size,
                                                             std::uint64_t new_size) const {
  KEYDIR_TRY(auto state, store_.log_state());
  if (new_size > state.size) {
    return fail(ErrorCode::BadQuery, "the log has only " + std::to_string(state.size) + " entries");
  }
  return tlog::consistency_proof(old_size, new_size,
                                 [this](tlog::NodeId id) { return read_hash(id); });
}

Result<std::pair<std::uint64_t, Bytes>> TransparencyLog::latest_entry(
    const openpgp::Fingerprint& fpr) const {
  KEYDIR_TRY(auto index, store_.log_index(fpr));
  if (!index) {
    return fail(ErrorCode::NotFound, "no log entry for " + fpr.to_hex());
  }
  KEYDIR_TRY(auto entries, store_.log_entries(*index, 1));
  if (entries.empty()) {
    return fail(ErrorCode::StorageCorruption, "the log lacks an entry it points to");
  }
  return std::make_pair(*index, std::move(entries[0]));
}

Result<TransparencyLog::AnswerProof> TransparencyLog::prove(
    const std::vector<openpgp::Fingerprint>& fprs) {
  AnswerProof out;
  // A write between reading the checkpoint and a certificate's entry puts
  // that entry past the checkpoint: read the checkpoint again (twice at
  // most; each write makes the tree larger).
  for (int attempt = 0; attempt < 3; ++attempt) {
    KEYDIR_TRY(out.checkpoint, checkpoint());
    out.proofs.clear();
    bool behind = false;
    for (const auto& f : fprs) {
      KEYDIR_TRY(auto latest, latest_entry(f));
      if (latest.first >= out.checkpoint.checkpoint.size) {
        behind = true;
        break;
      }
      KEYDIR_TRY(auto path, inclusion(latest.first, out.checkpoint.checkpoint.size));
      out.proofs.push_back(Proof{latest.first, std::move(latest.second), std::move(path)});
    }
    if (!behind) {
      return out;
    }
  }
  return fail(ErrorCode::Internal, "the log grew faster than a proof could be made");
}

Result<storage::ConsistencyReport> TransparencyLog::verify() const {
  KEYDIR_TRY(auto report, store_.verify_log());
  KEYDIR_TRY(auto note, store_.setting(kCheckpointSetting));
  if (!note) {
    return report;
  }
  auto problem = [&](std::string p) {
    report.problems.push_back(std::move(p));
    ++report.problem_count;
  };
  auto text = tlog::open_note(*note, verifier_);
  if (!text) {
    problem("transparency log: the last checkpoint does not verify with the log key: " +
            text.error().detail);
    return report;
  }
  auto c = tlog::Checkpoint::parse(*text);
  if (!c) {
    problem("transparency log: the last checkpoint does not parse");
    return report;
  }
  KEYDIR_TRY(auto state, store_.log_state());
  if (c->size > state.size) {
    problem("transparency log: the last checkpoint has " + std::to_string(c->size) +
            " entries and the log " + std::to_string(state.size) +
            " (a store rolled back behind a checkpoint it signed)");
    return report;
  }
  auto root = tlog::tree_root(c->size, [this](tlog::NodeId id) { return read_hash(id); });
  if (!root || *root != c->root) {
    problem("transparency log: the tree of " + std::to_string(c->size) +
            " entries does not have the root of the last checkpoint");
  }
  return report;
}

}  // namespace keydir::service
