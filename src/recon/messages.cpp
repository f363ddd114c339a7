#include "recon/messages.hpp"

#include "common/byte_reader.hpp"

namespace keydir::recon {
namespace {

enum Type : std::uint8_t {
  kReconRqstPoly = 0,
  kReconRqstFull = 1,
  kElements = 2,
  kFullElements = 3,
  kSyncFail = 4,
  kDone = 5,
  kFlush = 6,
  kError = 7,
  kDbRqst = 8,
  kDbRepl = 9,
  kConfig = 10,
};

void put_int(Bytes& out, std::uint32_t v) {
  append_be(out, v, 4);
}

void put_string(Bytes& out, std::string_view s) {
  put_int(out, static_cast<std::uint32_t>(s.size()));
  append(out, as_bytes(s));
}

void put_bits(Bytes& out, const Bitstring& b) {
  put_int(out, static_cast<std::uint32_t>(b.size()));
  put_int(out, static_cast<std::uint32_t>(b.bytes().size()));
  append(out, b.bytes());
}

void put_zs(Bytes& out, const std::vector<Zp>& zs) {
  put_int(out, static_cast<std::uint32_t>(zs.size()));
  for (const auto& z : zs) {
    append(out, z.to_le(kZpBytes));
  }
}

// ByteReader underneath (the one way keydir reads hostile bytes), with a
// sticky failure flag so a message decodes in straight-line code.
class Reader {
 public:
  explicit Reader(ByteView b) : r_(b, "recon message") {}
  bool ok() const { return ok_; }

  std::uint32_t u32() {
    auto v = r_.read_u32();
    ok_ = ok_ && v.has_value();
    return v.value_or(0);
  }
  ByteView take(std::size_t n) {
    auto v = r_.read_bytes(n);
    ok_ = ok_ && v.has_value();
    return v.value_or(ByteView());
  }
  std::string str() { return std::string(as_chars(take(u32()))); }
  Bitstring bits() {
    std::uint32_t nbits = u32();
    std::uint32_t nbytes = u32();
    if (!ok_ || nbits > static_cast<std::uint32_t>(kMaxPrefixBits) || nbytes < (nbits + 7) / 8 ||
        nbytes > static_cast<std::uint32_t>(kMaxPrefixBits) / 8) {
      ok_ = false;
      return {};
    }
    return Bitstring::of(take(nbytes), static_cast<int>(nbits));
  }
  std::vector<Zp> zs() {
    std::uint32_t n = u32();
    std::vector<Zp> out;
    if (!ok_ || n > r_.remaining() / kZpBytes) {  // bounds the allocation too
      ok_ = false;
      return out;
    }
    out.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      out.push_back(Zp::from_le(take(kZpBytes)));
    }
    return out;
  }

 private:
  ByteReader r_;
  bool ok_ = true;
};

struct Encoder {
  Bytes& out;
  void operator()(const ReconRqstPoly& m) {
    out.push_back(kReconRqstPoly);
    put_bits(out, m.prefix);
    put_int(out, m.size);
    put_zs(out, m.samples);
  }
  void operator()(const ReconRqstFull& m) {
    out.push_back(kReconRqstFull);
    put_bits(out, m.prefix);
    put_zs(out, m.elements);
  }
  void operator()(const Elements& m) {
    out.push_back(kElements);
    put_zs(out, m.elements);
  }
  void operator()(const FullElements& m) {
    out.push_back(kFullElements);
    put_zs(out, m.elements);
  }
  void operator()(const SyncFail&) { out.push_back(kSyncFail); }
  void operator()(const Done&) { out.push_back(kDone); }
  void operator()(const Flush&) { out.push_back(kFlush); }
  void operator()(const ErrorMsg& m) {
    out.push_back(kError);
    put_string(out, m.text);
  }
  void operator()(const DbRqst& m) {
    out.push_back(kDbRqst);
    put_string(out, m.text);
  }
  void operator()(const DbRepl& m) {
    out.push_back(kDbRepl);
    put_string(out, m.text);
  }
  void operator()(const Config& m) {
    out.push_back(kConfig);
    put_int(out, static_cast<std::uint32_t>(5 + m.custom.size()));
    put_string(out, "version");
    put_string(out, m.version);
    put_string(out, "http port");
    put_int(out, 4);
    put_int(out, m.http_port);
    put_string(out, "bitquantum");
    put_int(out, 4);
    put_int(out, m.bit_quantum);
    put_string(out, "mbar");
    put_int(out, 4);
    put_int(out, m.mbar);
    put_string(out, "filters");
    put_string(out, m.filters);
    for (const auto& [k, v] : m.custom) {
      put_string(out, k);
      put_string(out, v);
    }
  }
};

Result<Message> bad(std::string_view what) {
  return fail(ErrorCode::ProtocolError, "malformed recon message: " + std::string(what));
}

}  // namespace

std::string_view message_name(const Message& m) {
  static constexpr std::string_view names[] = {
      "ReconRqstPoly", "ReconRqstFull", "Elements", "FullElements", "SyncFail", "Done",
      "Flush",         "Error",         "DbRqst",   "DbRepl",       "Config"};
  return names[m.index()];
}

Bytes encode(const Message& m) {
  Bytes out(4, 0);
  std::visit(Encoder{out}, m);
  auto n = static_cast<std::uint32_t>(out.size() - 4);
  for (int i = 0; i < 4; ++i) {
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
  }
  return out;
}

Bytes encode_string(std::string_view s) {
  Bytes out;
  put_string(out, s);
  return out;
}

Result<Message> decode(ByteView frame) {
  if (frame.empty()) {
    return bad("empty");
  }
  Reader r(frame.subspan(1));
  Message m;
  switch (frame[0]) {
    case kReconRqstPoly: {
      ReconRqstPoly p;
      p.prefix = r.bits();
      p.size = r.u32();
      p.samples = r.zs();
      m = std::move(p);
      break;
    }
    case kReconRqstFull: {
      ReconRqstFull f;
      f.prefix = r.bits();
      f.elements = r.zs();
      m = std::move(f);
      break;
    }
    case kElements:
      m = Elements{r.zs()};
      break;
    case kFullElements:
      m = FullElements{r.zs()};
      break;
    case kSyncFail:
      m = SyncFail{};
      break;
    case kDone:
      m = Done{};
      break;
    case kFlush:
      m = Flush{};
      break;
    case kError:
      m = ErrorMsg{r.str()};
      break;
    case kDbRqst:
      m = DbRqst{r.str()};
      break;
    case kDbRepl:
      m = DbRepl{r.str()};
      break;
    case kConfig: {
      Config c;
      std::uint32_t n = r.u32();
      if (n > kMaxConfigEntries) {
        return bad("too many config entries");
      }
      for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        std::string key = r.str();
        if (key == "http port" || key == "bitquantum" || key == "mbar") {
          if (r.u32() != 4) {
            return bad("config integer of a length other than 4");
          }
          std::uint32_t v = r.u32();
          (key == "http port" ? c.http_port : key == "bitquantum" ? c.bit_quantum : c.mbar) = v;
        } else {
          std::string v = r.str();
          if (key == "version") {
            c.version = std::move(v);
          } else if (key == "filters") {
            c.filters = std::move(v);
          } else {
            c.custom[key] = std::move(v);
          }
        }
      }
      m = std::move(c);
      break;
    }
    default:
      return bad("unknown type " + std::to_string(frame[0]));
  }
  if (!r.ok()) {
    return bad(std::string(message_name(m)) + " truncated or out of bounds");
  }
  return m;
}

}  // namespace keydir::recon
