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

// Signature types of a verifier key: a signed-note Ed25519 signature, or a
// C2SP tlog-cosignature/v1 (Ed25519 over a timestamped statement).
inline constexpr std::uint8_t kSigEd25519 = 0x01;
inline constexpr std::uint8_t kSigCosignatureV1 = 0x04;

// A verifier key: name, 4-octet key hash, Ed25519 public key, and the
// signature type it verifies.
struct NoteVerifier {
  std::string name;
  std::uint32_t key_hash = 0;
  Bytes public_key;
  std::uint8_t type = kSigEd25519;

  // "<name>+<8 hex>+<base64(type || key)>"
  [[nodiscard]] std::string encode() const;
  // Either type; `want` (when given) is the only one accepted.
  static Result<NoteVerifier> parse(std::string_view vkey,
                                    std::optional<std::uint8_t> want = kSigEd25519);
  static Result<NoteVerifier> of(const NoteSigner& signer, std::uint8_t type = kSigEd25519);
};

// A name may hold no white space and no '+' (signed-note).
bool valid_key_name(std::string_view name);
std::uint32_t key_hash(std::string_view name, ByteView public_key, std::uint8_t type = kSigEd25519);

// "<text>\n— <name> <base64 sig>\n"; `text` ends in a newline.
Result<std::string> sign_note(std::string_view text, const NoteSigner& signer);
// Checks `note` against `verifier`: its text (returned) must carry a valid
// signature by that key. Signatures by other keys are ignored (witnesses'
// cosignatures). Errors: AnswerDidNotVerify.
Result<std::string> open_note(std::string_view note, const NoteVerifier& verifier);

// C2SP tlog-cosignature/v1: the signature line by which `signer` states
// that, as of `time` (seconds since the epoch), `checkpoint` (a body,
// ending in a newline) is the largest consistent tree it has seen. The log
// signs one with its own key (type 0x04) to date its checkpoints; witnesses
// sign them after checking consistency.
Result<std::string> cosign(std::string_view checkpoint, const NoteSigner& signer,
                           std::uint64_t time);
// The time of `note`'s cosignature by `verifier` (type 0x04) over its text;
// nullopt when it carries none; AnswerDidNotVerify when one with that name
// and key hash does not verify, or a time past 2^63-1.
Result<std::optional<std::uint64_t>> open_cosignature(std::string_view note,
                                                      const NoteVerifier& verifier);
// A note split into its text (ending in a newline) and its signature lines
// (without their newlines): bounded (64 KiB, 100 lines), every line
// well-formed. AnswerDidNotVerify otherwise.
struct SplitNote {
  std::string_view text;
  std::vector<std::string_view> lines;
};
Result<SplitNote> split_note(std::string_view note);
// A signature line's name and its decoded blob (key hash first).
struct SignatureLine {
  std::string_view name;
  std::uint32_t key_hash = 0;
  Bytes blob;  // without the key hash
};
Result<SignatureLine> parse_signature_line(std::string_view line);
// "— <name> <base64(key hash || blob)>\n": a signature line in canonical form.
std::string format_signature_line(std::string_view name, std::uint32_t key_hash, ByteView blob);

}  // namespace keydir::tlog
