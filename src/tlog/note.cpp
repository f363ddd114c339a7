#include "tlog/note.hpp"

#include <charconv>

#include "openpgp/crypto/primitives.hpp"

namespace keydir::tlog {

namespace {
constexpr std::uint8_t kAlgEd25519 = 0x01;
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

std::uint32_t key_hash(std::string_view name, ByteView public_key) {
  Bytes in(name.begin(), name.end());
  in.push_back('\n');
  in.push_back(kAlgEd25519);
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
  Bytes key{kAlgEd25519};
  key.insert(key.end(), public_key.begin(), public_key.end());
  return name + "+" + hex + "+" + base64_encode(key);
}

Result<NoteVerifier> NoteVerifier::parse(std::string_view vkey) {
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
  if (!raw || raw->size() != 33 || (*raw)[0] != kAlgEd25519) {
    return bad("a verifier key that is not an Ed25519 key");
  }
  v.public_key.assign(raw->begin() + 1, raw->end());
  v.key_hash = h;
  if (tlog::key_hash(v.name, v.public_key) != h) {
    return bad("a verifier key whose hash does not match its name and key");
  }
  return v;
}

Result<NoteVerifier> NoteVerifier::of(const NoteSigner& signer) {
  KEYDIR_TRY(auto pub, openpgp::crypto::ed25519_public_key(signer.seed));
  NoteVerifier v;
  v.name = signer.name;
  v.public_key = std::move(pub);
  v.key_hash = tlog::key_hash(v.name, v.public_key);
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
  Bytes blob{static_cast<std::uint8_t>(v.key_hash >> 24),
             static_cast<std::uint8_t>(v.key_hash >> 16),
             static_cast<std::uint8_t>(v.key_hash >> 8), static_cast<std::uint8_t>(v.key_hash)};
  blob.insert(blob.end(), sig.begin(), sig.end());
  return std::string(text) + "\n" + std::string(kDash) + signer.name + " " + base64_encode(blob) +
         "\n";
}

Result<std::string> open_note(std::string_view note, const NoteVerifier& verifier) {
  constexpr std::size_t kMaxNote = 1 << 16;
  if (note.size() > kMaxNote) {
    return bad("a note larger than 64 KiB");
  }
  // The text ends at the last blank line ("\n\n"); signature lines follow.
  auto split = note.rfind("\n\n");
  if (split == std::string_view::npos) {
    return bad("a note without signatures");
  }
  std::string_view text = note.substr(0, split + 1);
  std::string_view sigs = note.substr(split + 2);
  for (unsigned char ch : text) {
    if ((ch < 0x20 && ch != '\n') || ch == 0x7F) {
      return bad("a note whose text holds control characters");
    }
  }
  bool verified = false;
  std::size_t count = 0;
  while (!sigs.empty()) {
    auto nl = sigs.find('\n');
    if (nl == std::string_view::npos) {
      return bad("a note signature line without its newline");
    }
    std::string_view line = sigs.substr(0, nl);
    sigs.remove_prefix(nl + 1);
    if (++count > 100) {
      return bad("a note with more than 100 signatures");
    }
    if (!line.starts_with(kDash)) {
      return bad("a note signature line that does not start with an em dash");
    }
    line.remove_prefix(kDash.size());
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) {
      return bad("a malformed note signature line");
    }
    std::string_view name = line.substr(0, sp);
    auto blob = base64_decode(line.substr(sp + 1));
    if (!blob || blob->size() < 5 || line.substr(sp + 1).find(' ') != std::string_view::npos) {
      return bad("a note signature that is not base64");
    }
    const std::uint32_t h = std::uint32_t{(*blob)[0]} << 24 | std::uint32_t{(*blob)[1]} << 16 |
                            std::uint32_t{(*blob)[2]} << 8 | (*blob)[3];
    if (name != verifier.name || h != verifier.key_hash) {
      continue;  // somebody else's (a witness's) signature
    }
    if (blob->size() != 68 ||
        !openpgp::crypto::ed25519_verify(
            verifier.public_key,
            ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()),
            ByteView(blob->data() + 4, 64))) {
      return bad("the note's signature by " + verifier.name + " does not verify");
    }
    verified = true;
  }
  if (!verified) {
    return bad("the note carries no signature by " + verifier.name);
  }
  return std::string(text);
}

}  // namespace keydir::tlog
