// The transparency log as the public reads it (docs/transparency.md): the
// signed checkpoint, tiles, proofs, and the proofs that go with a lookup's
// answer. The store writes the log (storage/rocksdb/rocks_log.cpp); this
// class only reads it and signs checkpoints with the log's key.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "openpgp/identifiers.hpp"
#include "storage/key_store.hpp"
#include "tlog/merkle.hpp"
#include "tlog/note.hpp"
#include "tlog/tiles.hpp"

namespace keydir::service {

// The log's signing key, kept in the data folder: its origin (the name in
// checkpoints and the verifier key) and its Ed25519 seed. `load_or_create`
// makes one (0600) when the file is absent; the origin of an existing file
// is kept, whatever `origin` says.
Result<tlog::NoteSigner> load_or_create_log_key(const std::string& path, const std::string& origin);
// The key if the file exists (nullopt if not).
Result<std::optional<tlog::NoteSigner>> read_log_key(const std::string& path);
// The origin keydird gives a new log: the host (and port) of its public URL
// and "/log" ("keys.example.org/log").
std::string default_log_origin(std::string_view public_url);

// A witness (C2SP tlog-witness): where its add-checkpoint endpoint is, and
// its cosignature key (a verifier key of type 0x04).
struct WitnessConfig {
  std::string url;  // prefix: "<url>/add-checkpoint" is posted to
  tlog::NoteVerifier key;
};

struct LogOptions {
  // A checkpoint is dated (the log's own cosignature/v1, with the time) when
  // signed, and signed again once it is older than this, even when nothing
  // changed: a client can tell a current view from a replayed one.
  std::uint64_t checkpoint_interval = 300;  // seconds
  std::vector<WitnessConfig> witnesses;
};

class TransparencyLog {
 public:
  TransparencyLog(storage::KeyStore& store, tlog::NoteSigner signer, LogOptions options = {});

  [[nodiscard]] const tlog::NoteVerifier& verifier() const { return verifier_; }
  // The key of the log's own dating cosignatures (same key, type 0x04).
  [[nodiscard]] const tlog::NoteVerifier& time_verifier() const { return time_verifier_; }
  [[nodiscard]] std::string origin() const { return signer_.name; }
  [[nodiscard]] const LogOptions& options() const { return options_; }

  // The signed checkpoint of the tree as it is now: signed again when the
  // tree grew or the last one is older than checkpoint_interval (the store
  // keeps the last one signed). `note` holds the log's signature, its
  // dating cosignature, and the witnesses' cosignatures of this checkpoint
  // received so far.
  struct Signed {
    tlog::Checkpoint checkpoint;
    std::string note;
    std::uint64_t time = 0;  // of the log's dating cosignature
  };
  Result<Signed> checkpoint();

  // The newest checkpoint witnesses have cosigned (every witness that
  // cosigned it, and the log's signature and dating); NotFound when no
  // witness is configured or none has cosigned yet. On a log that changes
  // every second the current checkpoint is rarely cosigned yet; this one
  // catches up within a round.
  Result<std::string> witnessed() const;

  // One round of witnessing: the current checkpoint to every witness that
  // has not cosigned it (C2SP tlog-witness add-checkpoint, with the
  // consistency proof from the size the witness last saw). Returns one line
  // per witness that failed (a witness that saw another tree says so: a
  // fork). keydird serve runs it every second when witnesses are set.
  std::vector<std::string> witness_round();
  // A tile's bytes; NotFound when the tree does not reach it yet.
  Result<Bytes> tile(const tlog::Tile& tile) const;
  Result<std::vector<tlog::Hash>> inclusion(std::uint64_t index, std::uint64_t size) const;
  Result<std::vector<tlog::Hash>> consistency(std::uint64_t old_size, std::uint64_t new_size) const;
  // A certificate's latest entry: its index and bytes. NotFound if none.
  Result<std::pair<std::uint64_t, Bytes>> latest_entry(const openpgp::Fingerprint& fpr) const;

  // The proofs of an answer: one checkpoint, and for each certificate its
  // latest entry with its inclusion proof against that checkpoint.
  struct Proof {
    std::uint64_t index = 0;
    Bytes entry;
    std::vector<tlog::Hash> path;
  };
  struct AnswerProof {
    Signed checkpoint;
    std::vector<Proof> proofs;
  };
  Result<AnswerProof> prove(const std::vector<openpgp::Fingerprint>& fprs);

  // keydird log verify: every stored hash recomputed from the entries, and
  // the last checkpoint signed checked against the tree.
  Result<storage::ConsistencyReport> verify() const;

 private:
  Result<tlog::Hash> read_hash(tlog::NodeId id) const;

  std::string served_note() const;  // mutex_ held

  struct WitnessState {
    std::optional<std::uint64_t> size;  // the size it last cosigned or told us
    std::string line;                   // its cosignature line of `for_body`
    std::string for_body;
    std::uint64_t for_time = 0;  // the log's dating it was sent with
  };

  storage::KeyStore& store_;
  tlog::NoteSigner signer_;
  tlog::NoteVerifier verifier_;
  tlog::NoteVerifier time_verifier_;
  LogOptions options_;
  mutable std::mutex mutex_;
  std::optional<Signed> signed_;       // mutex_; its note without witnesses' lines
  std::vector<WitnessState> witness_;  // mutex_; one per options_.witnesses
  std::string witnessed_;              // mutex_; see witnessed()
};

}  // namespace keydir::service
