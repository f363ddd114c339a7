#include "tlog/note.hpp"

#include <charconv>

#include "openpgp/crypto/primitives.hpp"

namespace keydir::tlog {

namespace {
constexpr std::string_view kDash = "\xE2\x80\x94 ";  // "— "

tl::unexpected<Error> bad(std::string what) {
  return fail(ErrorCode::AnswerDidNotVerify, std::move(what));
}

std::optional<std::uint64_t> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}
}  // namespace

std::string Checkpoint::body() const {
  return origin + "\n" + std::to_string(size) + "\n" + hash_base64(root) + "\n";
}

Result<Checkpoint> Checkpoint::parse(std::string_view body) {
  std::vector<std::string_view> lines;
  while (!body.empty()) {
    auto nl = body.find('\n');
    if (nl == std::string_view::npos) {
      return bad("a checkpoint line without its newline");
    }
    lines.push_back(body.substr(0, nl));
    body.remove_prefix(nl + 1);
  }
  if (lines.size() != 3) {
    return bad("a checkpoint has three lines (origin, size, root), this one " +
               std::to_string(lines.size()));
  }
  Checkpoint c;
  c.origin = std::string(lines[0]);
  if (c.origin.empty()) {
    return bad("a checkpoint without an origin");
  }
  auto size = parse_decimal(lines[1]);
  auto root = hash_from_base64(lines[2]);
  if (!size || !root) {
    return bad("a checkpoint whose size or root hash does not parse");
  }
  c.size = *size;
  c.root = *root;
  return c;
}

bool valid_key_name(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (unsigned char ch : name) {
    if (ch <= 0x20 || ch == '+' || ch == 0x7F) {
      return false;
    }
  }
  return true;
}

std::uint32_t key_hash(std::string_view name, ByteView public_key, std::uint8_t type) {
  Bytes in(name.begin(), name.end());
  in.push_back('\n');
  in.push_back(type);
  in.insert(in.end(), public_key.begin(), public_key.end());
  auto h = openpgp::crypto::sha256(in);
  return std::uint32_t{h[0]} << 24 | std::uint32_t{h[1]} << 16 | std::uint32_t{h[2]} << 8 | h[3];
}

std::string NoteVerifier::encode() const {
  static const char* const kHex = "0123456789abcdef";
  std::string hex;
  for (int shift = 28; shift >= 0; shift -= 4) {
    hex.push_back(kHex[(key_hash >> shift) & 0xF]);
  }
  Bytes key{type};
  key.insert(key.end(), public_key.begin(), public_key.end());
  return name + "+" + hex + "+" + base64_encode(key);
}

Result<NoteVerifier> NoteVerifier::parse(std::string_view vkey, std::optional<std::uint8_t> want) {
  auto p1 = vkey.find('+');
  auto p2 = p1 == std::string_view::npos ? p1 : vkey.find('+', p1 + 1);
  if (p2 == std::string_view::npos) {
    return bad("a verifier key reads <name>+<hash>+<key>");
  }
  NoteVerifier v;
  v.name = std::string(vkey.substr(0, p1));
  auto hex = vkey.substr(p1 + 1, p2 - p1 - 1);
  auto key = vkey.substr(p2 + 1);
  if (!valid_key_name(v.name) || hex.size() != 8) {
    return bad("a verifier key with a bad name or key hash");
  }
  std::uint32_t h = 0;
  auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), h, 16);
  if (ec != std::errc() || ptr != hex.data() + hex.size()) {
    return bad("a verifier key with a bad key hash");
  }
  for (char c : key) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      return bad("a verifier key with white space in its key");
    }
  }
  auto raw = base64_decode(key);
  if (!raw || raw->size() != 33 || ((*raw)[0] != kSigEd25519 && (*raw)[0] != kSigCosignatureV1)) {
    return bad("a verifier key that is not an Ed25519 key");
  }
  if (want && (*raw)[0] != *want) {
    return bad(*want == kSigEd25519
                   ? "a cosignature (type 0x04) key where a log's signing key was expected"
                   : "a signed-note key where a cosignature (type 0x04) key was expected");
  }
  v.type = (*raw)[0];
  v.public_key.assign(raw->begin() + 1, raw->end());
  v.key_hash = h;
  if (tlog::key_hash(v.name, v.public_key, v.type) != h) {
    return bad("a verifier key whose hash does not match its name and key");
  }
  return v;
}

Result<NoteVerifier> NoteVerifier::of(const NoteSigner& signer, std::uint8_t type) {
  KEYDIR_TRY(auto pub, openpgp::crypto::ed25519_public_key(signer.seed));
  NoteVerifier v;
  v.name = signer.name;
  v.public_key = std::move(pub);
  v.type = type;
  v.key_hash = tlog::key_hash(v.name, v.public_key, type);
  return v;
}

Result<std::string> sign_note(std::string_view text, const NoteSigner& signer) {
  if (text.empty() || text.back() != '\n') {
    return fail(ErrorCode::Internal, "a note's text ends in a newline");
  }
  if (!valid_key_name(signer.name)) {
    return fail(ErrorCode::Internal, "the log's name holds white space or '+'");
  }
  KEYDIR_TRY(auto v, NoteVerifier::of(signer));
  KEYDIR_TRY(auto sig, openpgp::crypto::ed25519_sign(
                           signer.seed, ByteView(reinterpret_cast<const std::uint8_t*>(text.data()),
                                                 text.size())));
  return std::string(text) + "\n" + format_signature_line(signer.name, v.key_hash, sig);
}

std::string format_signature_line(std::string_view name, std::uint32_t key_hash, ByteView blob) {
  Bytes all;
  all.reserve(4 + blob.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    all.push_back(static_cast<std::uint8_t>(key_hash >> shift));
  }
  all.insert(all.end(), blob.begin(), blob.end());
  return std::string(kDash) + std::string(name) + " " + base64_encode(all) + "\n";
}

Result<SplitNote> split_note(std::string_view note) {
  constexpr std::size_t kMaxNote = 1 << 16;
  if (note.size() > kMaxNote) {
    return bad("a note larger than 64 KiB");
  }
  // The text ends at the last blank line ("\n\n"); signature lines follow.
  auto split = note.rfind("\n\n");
  if (split == std::string_view::npos) {
    return bad("a note without signatures");
  }
  SplitNote out;
  out.text = note.substr(0, split + 1);
  std::string_view sigs = note.substr(split + 2);
  for (unsigned char ch : out.text) {
    if ((ch < 0x20 && ch != '\n') || ch == 0x7F) {
      return bad("a note whose text holds control characters");
    }
  }
  while (!sigs.empty()) {
    auto nl = sigs.find('\n');
    if (nl == std::string_view::npos) {
      return bad("a note signature line without its newline");
    }
    if (out.lines.size() == 100) {
      return bad("a note with more than 100 signatures");
    }
    out.lines.push_back(sigs.substr(0, nl));
    sigs.remove_prefix(nl + 1);
  }
  return out;
}

Result<SignatureLine> parse_signature_line(std::string_view line) {
  if (!line.starts_with(kDash)) {
    return bad("a note signature line that does not start with an em dash");
  }
  line.remove_prefix(kDash.size());
  auto sp = line.find(' ');
  if (sp == std::string_view::npos) {
    return bad("a malformed note signature line");
  }
  SignatureLine out;
  out.name = line.substr(0, sp);
  auto blob = base64_decode(line.substr(sp + 1));
  if (!blob || blob->size() < 5 || line.substr(sp + 1).find(' ') != std::string_view::npos) {
    return bad("a note signature that is not base64");
  }
  out.key_hash = std::uint32_t{(*blob)[0]} << 24 | std::uint32_t{(*blob)[1]} << 16 |
                 std::uint32_t{(*blob)[2]} << 8 | (*blob)[3];
  out.blob.assign(blob->begin() + 4, blob->end());
  return out;
}

Result<std::string> open_note(std::string_view note, const NoteVerifier& verifier) {
  if (verifier.type != kSigEd25519) {
    return fail(ErrorCode::Internal, "a note's signature is checked with a type 0x01 key");
  }
  KEYDIR_TRY(auto split, split_note(note));
  bool verified = false;
  for (auto line : split.lines) {
    KEYDIR_TRY(auto sig, parse_signature_line(line));
    if (sig.name != verifier.name || sig.key_hash != verifier.key_hash) {
      continue;  // somebody else's (a witness's) signature, or a cosignature
    }
    if (sig.blob.size() != 64 ||
        !openpgp::crypto::ed25519_verify(
            verifier.public_key,
            ByteView(reinterpret_cast<const std::uint8_t*>(split.text.data()), split.text.size()),
            sig.blob)) {
      return bad("the note's signature by " + verifier.name + " does not verify");
    }
    verified = true;
  }
  if (!verified) {
    return bad("the note carries no signature by " + verifier.name);
  }
  return std::string(split.text);
}

namespace {
std::string cosigned_message(std::string_view checkpoint, std::uint64_t time) {
  return "cosignature/v1\ntime " + std::to_string(time) + "\n" + std::string(checkpoint);
}
}  // namespace

Result<std::string> cosign(std::string_view checkpoint, const NoteSigner& signer,
                           std::uint64_t time) {
  if (checkpoint.empty() || checkpoint.back() != '\n' || time > (std::uint64_t{1} << 63) - 1) {
    return fail(ErrorCode::Internal, "a cosigned checkpoint ends in a newline");
  }
  if (!valid_key_name(signer.name)) {
    return fail(ErrorCode::Internal, "the cosigner's name holds white space or '+'");
  }
  KEYDIR_TRY(auto v, NoteVerifier::of(signer, kSigCosignatureV1));
  const std::string msg = cosigned_message(checkpoint, time);
  KEYDIR_TRY(auto sig, openpgp::crypto::ed25519_sign(
                           signer.seed, ByteView(reinterpret_cast<const std::uint8_t*>(msg.data()),
                                                 msg.size())));
  Bytes blob;
  for (int shift = 56; shift >= 0; shift -= 8) {
    blob.push_back(static_cast<std::uint8_t>(time >> shift));
  }
  blob.insert(blob.end(), sig.begin(), sig.end());
  return format_signature_line(signer.name, v.key_hash, blob);
}

Result<std::optional<std::uint64_t>> open_cosignature(std::string_view note,
                                                      const NoteVerifier& verifier) {
  if (verifier.type != kSigCosignatureV1) {
    return fail(ErrorCode::Internal, "a cosignature is checked with a type 0x04 key");
  }
  KEYDIR_TRY(auto split, split_note(note));
  std::optional<std::uint64_t> found;
  for (auto line : split.lines) {
    KEYDIR_TRY(auto sig, parse_signature_line(line));
    if (sig.name != verifier.name || sig.key_hash != verifier.key_hash) {
      continue;
    }
    std::uint64_t time = 0;
    for (std::size_t i = 0; i < 8 && i < sig.blob.size(); ++i) {
      time = time << 8 | sig.blob[i];
    }
    if (sig.blob.size() != 72 || time > (std::uint64_t{1} << 63) - 1) {
      return bad("a malformed cosignature by " + verifier.name);
    }
    const std::string msg = cosigned_message(split.text, time);
    if (!openpgp::crypto::ed25519_verify(
            verifier.public_key,
            ByteView(reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size()),
            ByteView(sig.blob.data() + 8, 64))) {
      return bad("the cosignature by " + verifier.name + " does not verify");
    }
    if (!found || time > *found) {
      found = time;
    }
  }
  return found;
}

}  // namespace keydir::tlog
