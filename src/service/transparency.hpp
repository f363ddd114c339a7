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

class TransparencyLog {
 public:
  TransparencyLog(storage::KeyStore& store, tlog::NoteSigner signer);

  [[nodiscard]] const tlog::NoteVerifier& verifier() const { return verifier_; }
  [[nodiscard]] std::string origin() const { return signer_.name; }

  // The signed checkpoint of the tree as it is now (signed again only when
  // the tree grew; the store keeps the last one signed).
  struct Signed {
    tlog::Checkpoint checkpoint;
    std::string note;
  };
  Result<Signed> checkpoint();
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

  storage::KeyStore& store_;
  tlog::NoteSigner signer_;
  tlog::NoteVerifier verifier_;
  std::mutex mutex_;
  std::optional<Signed> signed_;  // mutex_
};

}  // namespace keydir::service
