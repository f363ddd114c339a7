// C2SP signed-note and tlog-checkpoint: the text a log signs, its Ed25519
// signature lines, and the verifier key format ("<name>+<hash>+<key>") that
// Go's golang.org/x/mod/sumdb/note reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "tlog/merkle.hpp"

namespace keydir::tlog {

// A checkpoint body: "<origin>\n<size>\n<base64 root>\n" (extension lines
// are refused: keydird writes none).
struct Checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  Hash root{};

  [[nodiscard]] std::string body() const;
  static Result<Checkpoint> parse(std::string_view body);
  bool operator==(const Checkpoint&) const = default;
};

// A signing key: a name (the log's origin) and an Ed25519 private seed.
struct NoteSigner {
  std::string name;
  Bytes seed;  // 32 octets
};

// A verifier key: name, 4-octet key hash, Ed25519 public key.
struct NoteVerifier {
  std::string name;
  std::uint32_t key_hash = 0;
  Bytes public_key;

  // "<name>+<8 hex>+<base64(0x01 || key)>"
  [[nodiscard]] std::string encode() const;
  static Result<NoteVerifier> parse(std::string_view vkey);
  static Result<NoteVerifier> of(const NoteSigner& signer);
};

// A name may hold no white space and no '+' (signed-note).
bool valid_key_name(std::string_view name);
std::uint32_t key_hash(std::string_view name, ByteView public_key);

// "<text>\n— <name> <base64 sig>\n"; `text` ends in a newline.
Result<std::string> sign_note(std::string_view text, const NoteSigner& signer);
// Checks `note` against `verifier`: its text (returned) must carry a valid
// signature by that key. Signatures by other keys are ignored (witnesses'
// cosignatures). Errors: AnswerDidNotVerify.
Result<std::string> open_note(std::string_view note, const NoteVerifier& verifier);

}  // namespace keydir::tlog
