#include "openpgp/certificate.hpp"

#include "common/limits.hpp"
#include "openpgp/armor.hpp"
#include "openpgp/packet_reader.hpp"

namespace keydir::openpgp {

std::string describe_user_id(ByteView body) {
  std::string out = "user ID \"";
  std::size_t n = 0;
  for (std::uint8_t c : body) {
    if (++n > 80) {
      out += "…";
      break;
    }
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

namespace {

std::string tag_name(std::uint8_t tag) {
  switch (static_cast<PacketTag>(tag)) {
    case PacketTag::Signature:
      return "signature";
    case PacketTag::PublicKeyEncryptedSessionKey:
      return "encrypted session key";
    case PacketTag::SymmetricKeyEncryptedSessionKey:
      return "encrypted session key";
    case PacketTag::OnePassSignature:
      return "one-pass signature";
    case PacketTag::CompressedData:
      return "compressed data";
    case PacketTag::SymmetricallyEncryptedData:
      return "encrypted data";
    case PacketTag::LiteralData:
      return "literal data";
    case PacketTag::SymEncryptedIntegrityProtectedData:
      return "encrypted data";
    default:
      return "packet type " + std::to_string(tag);
  }
}

// Where the next signature packet belongs.
enum class Slot { Primary, UserId, UserAttribute, Subkey, Nowhere };

class CertBuilder {
 public:
  explicit CertBuilder(std::vector<ParsedCert>& out) : out_(out) {}

  void start(const RawPacket& p) {
    finish();
    current_ = ParsedCert{};
    current_->offset = p.offset;
    packets_ = 1;
    auto key = parse_public_key(p.body);
    if (!key) {
      current_->cert = tl::unexpected(key.error());
      slot_ = Slot::Nowhere;
      broken_ = true;
      return;
    }
    broken_ = false;
    current_->fingerprint = key->fingerprint;
    Certificate c;
    c.primary = std::move(*key);
    current_->cert = std::move(c);
    slot_ = Slot::Primary;
  }

  Result<void> add(const RawPacket& p) {
    if (!current_) {
      // Packets before any primary key (a bare revocation certificate, a
      // signature, a message): nothing to attach them to.
      orphans_.push_back(tag_name(p.tag));
      return {};
    }
    if (++packets_ > limits::kMaxPacketsPerCert) {
      return fail(
          ErrorCode::TooManyComponents,
          "certificate has more than " + std::to_string(limits::kMaxPacketsPerCert) + " packets");
    }
    if (broken_) {
      return {};
    }
    Certificate& c = *current_->cert;
    switch (static_cast<PacketTag>(p.tag)) {
      case PacketTag::Signature:
        add_signature(c, p);
        return {};
      case PacketTag::UserId:
        c.user_ids.push_back(UserIdBundle{Bytes(p.body.begin(), p.body.end()), {}});
        slot_ = Slot::UserId;
        return {};
      case PacketTag::UserAttribute:
        c.user_attributes.push_back(UserIdBundle{Bytes(p.body.begin(), p.body.end()), {}});
        slot_ = Slot::UserAttribute;
        return {};
      case PacketTag::PublicSubkey: {
        auto key = parse_public_key(p.body);
        if (!key) {
          c.dropped.push_back({"subkey at offset " + std::to_string(p.offset), key.error().detail});
          slot_ = Slot::Nowhere;
          return {};
        }
        c.subkeys.push_back(SubkeyBundle{std::move(*key), {}});
        slot_ = Slot::Subkey;
        return {};
      }
      case PacketTag::Trust:
      case PacketTag::Marker:
      case PacketTag::Padding:
        // RFC 9580 §5.10: trust packets "SHOULD NOT be emitted to output
        // streams that are transferred to other users"; marker and padding
        // packets carry nothing.
        return {};
      default:
        c.dropped.push_back({tag_name(p.tag) + " at offset " + std::to_string(p.offset),
                             "not part of a certificate"});
        return {};
    }
  }

  void finish() {
    if (current_) {
      out_.push_back(std::move(*current_));
      current_.reset();
    }
  }

  [[nodiscard]] const std::vector<std::string>& orphans() const { return orphans_; }

 private:
  void add_signature(Certificate& c, const RawPacket& p) {
    auto sig = parse_signature(p.body);
    std::string where = "signature at offset " + std::to_string(p.offset);
    if (!sig) {
      c.dropped.push_back({where, sig.error().detail});
      return;
    }
    switch (slot_) {
      case Slot::Primary:
        c.direct_signatures.push_back(std::move(*sig));
        return;
      case Slot::UserId:
        c.user_ids.back().signatures.push_back(std::move(*sig));
        return;
      case Slot::UserAttribute:
        c.user_attributes.back().signatures.push_back(std::move(*sig));
        return;
      case Slot::Subkey:
        c.subkeys.back().signatures.push_back(std::move(*sig));
        return;
      case Slot::Nowhere:
        c.dropped.push_back({where, "follows a component that was dropped"});
        return;
    }
  }

  std::vector<ParsedCert>& out_;
  std::optional<ParsedCert> current_;
  std::size_t packets_ = 0;
  bool broken_ = false;
  Slot slot_ = Slot::Nowhere;
  std::vector<std::string> orphans_;
};

}  // namespace

Result<std::vector<ParsedCert>> parse_certificates(ByteView binary, const ParseOptions& options) {
  std::vector<ParsedCert> certs;
  CertBuilder builder(certs);
  PacketReader reader(binary, options.max_packet_bytes);
  while (true) {
    KEYDIR_TRY(auto packet, reader.next());
    if (!packet) {
      break;
    }
    auto tag = static_cast<PacketTag>(packet->tag);
    if (tag == PacketTag::SecretKey || tag == PacketTag::SecretSubkey) {
      return fail(ErrorCode::SecretKeyRefused,
                  "secret key material — not uploaded (send only the public key: "
                  "gpg --export, not --export-secret-keys)");
    }
    if (tag == PacketTag::PublicKey) {
      builder.start(*packet);
      if (options.max_certs && certs.size() >= options.max_certs) {
        return fail(ErrorCode::TooManyComponents, "more than " + std::to_string(options.max_certs) +
                                                      " certificates in one input");
      }
      continue;
    }
    KEYDIR_CHECK(builder.add(*packet));
  }
  builder.finish();
  if (certs.empty()) {
    std::string what = builder.orphans().empty() ? "empty input" : builder.orphans().front();
    return fail(ErrorCode::NoCertificate, "no public key found (input starts with: " + what + ")");
  }
  return certs;
}

Result<Bytes> decode_key_input(ByteView input, std::size_t max_output) {
  if (!looks_armored(input)) {
    if (input.size() > max_output) {
      return fail(ErrorCode::PayloadTooLarge,
                  "input larger than " + std::to_string(max_output) + " octets");
    }
    return Bytes(input.begin(), input.end());
  }
  KEYDIR_TRY(auto blocks, dearmor(as_chars(input), max_output));
  Bytes out;
  std::string other;
  for (auto& b : blocks) {
    if (b.kind == ArmorKind::PrivateKey) {
      return fail(ErrorCode::SecretKeyRefused,
                  "secret key material — not uploaded (armor says " + b.label + ")");
    }
    // "PGP ARMORED FILE" (gpg --enarmor) and other generic blocks may hold a
    // certificate too; the packets decide. Signatures and messages do not.
    if (b.kind == ArmorKind::PublicKey || b.kind == ArmorKind::Other) {
      append(out, b.data);
    } else if (other.empty()) {
      other = b.label;
    }
  }
  if (out.empty() && !other.empty()) {
    return fail(ErrorCode::NoCertificate, "no public key block (found " + other + ")");
  }
  return out;
}

}  // namespace keydir::openpgp
