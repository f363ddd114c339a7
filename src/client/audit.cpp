#include "client/audit.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <ostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/time_format.hpp"
#include "openpgp/certificate.hpp"
#include "openpgp/crypto/primitives.hpp"
#include "tlog/tiles.hpp"

namespace keydir::client {

namespace {

LogError bad(std::string detail) {
  return LogError{kExitBadAnswer, std::move(detail)};
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty() || (s.size() > 1 && s[0] == '0')) {
    return std::nullopt;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) {
      return out;
    }
    s.remove_prefix(p + 1);
  }
}

std::string vfpr_of(const openpgp::Fingerprint& f) {
  return tlog::vfpr_hex(static_cast<std::uint8_t>(f.version()), f.bytes());
}

// Is `e` (a Certificate or Deleted entry) of the certificate `f`? Its
// fingerprint field is the scheme's entry fingerprint of `f`.
bool entry_of(const tlog::Entry& e, const openpgp::Fingerprint& f,
              const tlog::CommitmentScheme& scheme) {
  const auto version = static_cast<std::uint8_t>(f.version());
  return e.kind != tlog::Entry::Kind::Header && e.key_version == version &&
         e.fingerprint == scheme.entry_fingerprint(version, f.bytes());
}

std::string describe(const tlog::Checkpoint& c) {
  return c.origin + " size " + std::to_string(c.size) + " root " + tlog::hash_base64(c.root);
}

}  // namespace

// --- the checks ----------------------------------------------------------------

LogResult<tlog::Checkpoint> verify_checkpoint(std::string_view note,
                                              const tlog::NoteVerifier& verifier) {
  auto text = tlog::open_note(note, verifier);
  if (!text) {
    return tl::unexpected(bad("the log checkpoint: " + text.error().detail));
  }
  auto c = tlog::Checkpoint::parse(*text);
  if (!c) {
    return tl::unexpected(bad("the log checkpoint: " + c.error().detail));
  }
  if (c->origin != verifier.name) {
    return tl::unexpected(bad("the log checkpoint names the log \"" + printable(c->origin, 100) +
                              "\", not " + verifier.name));
  }
  if (c->size > kMaxLogSize) {
    return tl::unexpected(bad("the log checkpoint claims " + std::to_string(c->size) +
                              " entries, more than keydir reads"));
  }
  return *c;
}

LogResult<std::uint64_t> check_dated(std::string_view note, const tlog::NoteVerifier& v,
                                     std::uint64_t max_age, std::uint64_t now) {
  tlog::NoteVerifier dating = v;
  dating.type = tlog::kSigCosignatureV1;
  dating.key_hash = tlog::key_hash(v.name, v.public_key, tlog::kSigCosignatureV1);
  auto t = tlog::open_cosignature(note, dating);
  if (!t) {
    return tl::unexpected(bad("the log checkpoint's date: " + t.error().detail));
  }
  if (!t->has_value()) {
    return tl::unexpected(
        bad("the log checkpoint is not dated by the log (no cosignature/v1 by " + v.name + ")"));
  }
  const std::uint64_t when = **t;
  constexpr std::uint64_t kSkew = 300;
  if (when > now + kSkew) {
    return tl::unexpected(bad("the log checkpoint is dated " + std::to_string(when - now) +
                              " s in the future (check this computer's clock)"));
  }
  if (max_age != 0 && now > when && now - when > max_age) {
    return tl::unexpected(bad("the log checkpoint was dated " + std::to_string(now - when) +
                              " s ago, more than --log-max-age " + std::to_string(max_age) +
                              ": a stale view of the log"));
  }
  return when;
}

LogResult<std::size_t> count_cosigned(std::string_view note,
                                      const std::vector<tlog::NoteVerifier>& witnesses,
                                      std::uint64_t max_age, std::uint64_t now) {
  constexpr std::uint64_t kSkew = 300;
  std::size_t n = 0;
  for (const auto& w : witnesses) {
    auto t = tlog::open_cosignature(note, w);
    if (!t) {
      return tl::unexpected(bad("the log checkpoint: " + t.error().detail));
    }
    // A witness's statement is "the largest tree I saw, as of then": an old
    // one does not say this view is current (a server could keep a client
    // on a tree witnessed long ago).
    if (t->has_value() && **t <= now + kSkew &&
        (max_age == 0 || now <= **t || now - **t <= max_age)) {
      ++n;
    }
  }
  return n;
}

LogResult<std::vector<tlog::NoteVerifier>> parse_witnesses(const std::vector<std::string>& given,
                                                           const tlog::NoteVerifier& log) {
  std::vector<tlog::NoteVerifier> out;
  for (const auto& g : given) {
    auto v = tlog::NoteVerifier::parse(g, tlog::kSigCosignatureV1);
    if (!v) {
      return log_fail(kExitUsage, "--log-witness " + printable(g, 200) + ": " + v.error().detail);
    }
    if (v->public_key == log.public_key) {
      return log_fail(kExitUsage, "--log-witness " + printable(g, 200) +
                                      ": the log's own key (its dating is no witness)");
    }
    for (const auto& o : out) {
      if (o.public_key == v->public_key) {
        return log_fail(kExitUsage, "--log-witness " + printable(g, 200) + ": given twice");
      }
    }
    out.push_back(std::move(*v));
  }
  return out;
}

LogResult<void> check_consistency(const tlog::Checkpoint& old, const tlog::Checkpoint& now,
                                  const ConsistencyFetcher& proof) {
  if (now.size < old.size) {
    return log_fail(kExitLogInconsistent, "rollback: the log shrank from " +
                                              std::to_string(old.size) + " to " +
                                              std::to_string(now.size) + " entries");
  }
  if (now.size == old.size) {
    if (now.root != old.root) {
      return log_fail(kExitLogInconsistent,
                      "fork: two roots for the tree of size " + std::to_string(now.size));
    }
    return {};
  }
  if (old.size == 0) {
    return {};
  }
  auto hashes = proof();
  if (!hashes) {
    return tl::unexpected(hashes.error());
  }
  if (!tlog::verify_consistency(old.size, now.size, old.root, now.root, *hashes)) {
    return log_fail(kExitLogInconsistent, "fork: the consistency proof from size " +
                                              std::to_string(old.size) + " to " +
                                              std::to_string(now.size) + " does not verify");
  }
  return {};
}

LogResult<std::vector<InclusionItem>> parse_inclusion_header(std::string_view value) {
  std::vector<InclusionItem> items;
  while (!value.empty() && value.back() == ' ') {
    value.remove_suffix(1);
  }
  if (value.empty()) {
    return tl::unexpected(bad("the answer carries no Keydir-Log-Inclusion header"));
  }
  for (auto part : split(value, ';')) {
    while (!part.empty() && part.front() == ' ') {
      part.remove_prefix(1);
    }
    if (items.size() >= kMaxInclusionItems) {
      return tl::unexpected(
          bad("Keydir-Log-Inclusion: more than " + std::to_string(kMaxInclusionItems) + " items"));
    }
    auto fields = split(part, ' ');
    if (fields.size() < 2 || fields.size() > 3) {
      return tl::unexpected(bad("Keydir-Log-Inclusion: item " + std::to_string(items.size() + 1) +
                                " is not \"<index> <entry> <proof>\""));
    }
    InclusionItem item;
    auto index = parse_u64(fields[0]);
    auto entry = base64_decode(fields[1]);
    if (!index || !entry || entry->empty() || entry->size() > tlog::kMaxEntryBytes) {
      return tl::unexpected(bad("Keydir-Log-Inclusion: item " + std::to_string(items.size() + 1) +
                                ": a malformed index or entry"));
    }
    item.index = *index;
    item.entry = std::move(*entry);
    if (fields.size() == 3 && !fields[2].empty()) {
      for (auto h : split(fields[2], ',')) {
        auto hash = tlog::hash_from_base64(h);
        if (!hash || item.proof.size() >= kMaxProofHashes) {
          return tl::unexpected(bad("Keydir-Log-Inclusion: item " +
                                    std::to_string(items.size() + 1) + ": a malformed proof"));
        }
        item.proof.push_back(*hash);
      }
    }
    items.push_back(std::move(item));
  }
  return items;
}

LogResult<std::vector<ServedCert>> split_served(std::string_view served) {
  auto binary = openpgp::decode_key_input(as_bytes(served), limits::kMaxImportCertBytes);
  if (!binary) {
    return tl::unexpected(bad("the answer as served: " + binary.error().detail));
  }
  openpgp::ParseOptions po;
  po.max_certs = kMaxInclusionItems;
  auto parsed = openpgp::parse_certificates(*binary, po);
  if (!parsed) {
    return tl::unexpected(bad("the answer as served: " + parsed.error().detail));
  }
  std::vector<ServedCert> out;
  for (std::size_t i = 0; i < parsed->size(); ++i) {
    const auto& p = (*parsed)[i];
    const std::size_t end = i + 1 < parsed->size() ? (*parsed)[i + 1].offset : binary->size();
    if (!p.fingerprint || p.offset > end || end > binary->size()) {
      return tl::unexpected(
          bad("the answer as served holds a certificate without a readable "
              "primary key"));
    }
    out.push_back(ServedCert{*p.fingerprint, Bytes(binary->begin() + static_cast<long>(p.offset),
                                                   binary->begin() + static_cast<long>(end))});
  }
  if (!out.empty() && out.front().bytes.empty()) {
    return tl::unexpected(bad("the answer as served is empty"));
  }
  return out;
}

LogResult<std::size_t> check_inclusions(const std::vector<ServedCert>& certs,
                                        const std::vector<InclusionItem>& items,
                                        const tlog::Checkpoint& checkpoint,
                                        const tlog::CommitmentScheme& scheme,
                                        const std::optional<Bytes>& commitment,
                                        std::vector<std::uint64_t>* served_index) {
  if (certs.empty()) {
    return tl::unexpected(bad("the answer holds no certificate to audit"));
  }
  std::vector<std::pair<tlog::Entry, const InclusionItem*>> entries;
  for (const auto& item : items) {
    auto e = tlog::Entry::decode(item.entry);
    if (!e) {
      return tl::unexpected(bad("Keydir-Log-Inclusion: entry " + std::to_string(item.index) + ": " +
                                e.error().detail));
    }
    entries.emplace_back(std::move(*e), &item);
  }
  for (const auto& cert : certs) {
    const std::string vfpr = vfpr_of(cert.fingerprint);
    const auto it = std::find_if(entries.begin(), entries.end(), [&](const auto& e) {
      return e.first.kind == tlog::Entry::Kind::Certificate &&
             entry_of(e.first, cert.fingerprint, scheme);
    });
    if (it == entries.end()) {
      return tl::unexpected(bad("certificate " + vfpr + " has no log entry in the answer"));
    }
    const auto& [entry, item] = *it;
    const Bytes digest = openpgp::crypto::sha256(cert.bytes);
    if (digest != entry.digest) {
      return tl::unexpected(bad("certificate " + vfpr + ": the log entry " +
                                std::to_string(item->index) +
                                " is of other octets than the ones served"));
    }
    if (item->index >= checkpoint.size ||
        !tlog::verify_inclusion(item->index, checkpoint.size, tlog::leaf_hash(item->entry),
                                item->proof, checkpoint.root)) {
      return tl::unexpected(bad("certificate " + vfpr + ": the inclusion proof of entry " +
                                std::to_string(item->index) + " in the tree of size " +
                                std::to_string(checkpoint.size) + " does not verify"));
    }
    if (commitment &&
        !std::binary_search(entry.commitments.begin(), entry.commitments.end(), *commitment)) {
      return tl::unexpected(bad("certificate " + vfpr + ": its log entry " +
                                std::to_string(item->index) +
                                " does not commit to the address asked for"));
    }
    if (served_index) {
      served_index->push_back(item->index);
    }
  }
  return certs.size();
}

LogResult<InclusionItem> parse_latest_answer(std::string_view body,
                                             const openpgp::Fingerprint& fingerprint,
                                             const tlog::CommitmentScheme& scheme) {
  if (body.size() > kMaxProofAnswerBytes * 2) {
    return tl::unexpected(bad("a /log/entry answer larger than 128 KiB"));
  }
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("index") || !j.contains("entry") ||
      !j["index"].is_number_unsigned() || !j["entry"].is_string()) {
    return tl::unexpected(bad("a /log/entry answer that is not {\"index\",\"entry\"}"));
  }
  InclusionItem item;
  item.index = j["index"].get<std::uint64_t>();
  auto bytes = base64_decode(j["entry"].get<std::string>());
  if (!bytes) {
    return tl::unexpected(bad("a /log/entry answer whose entry is not base64"));
  }
  auto e = tlog::Entry::decode(*bytes);
  if (!e || !entry_of(*e, fingerprint, scheme)) {
    return tl::unexpected(
        bad("a /log/entry answer that is not an entry of " + vfpr_of(fingerprint)));
  }
  item.entry = std::move(*bytes);
  return item;
}

LogResult<std::vector<tlog::Hash>> parse_proof_answer(std::string_view body, const char* first,
                                                      std::uint64_t a, const char* second,
                                                      std::uint64_t b) {
  if (body.size() > kMaxProofAnswerBytes) {
    return tl::unexpected(bad("a log proof larger than 64 KiB"));
  }
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains(first) || !j.contains(second) ||
      !j.contains("hashes") || !j[first].is_number_unsigned() || !j[second].is_number_unsigned() ||
      !j["hashes"].is_array()) {
    return tl::unexpected(bad("a log proof that is not {\"" + std::string(first) + "\",\"" +
                              second + "\",\"hashes\"}"));
  }
  if (j[first].get<std::uint64_t>() != a || j[second].get<std::uint64_t>() != b) {
    return tl::unexpected(bad("a log proof for other tree sizes than the ones asked for"));
  }
  if (j["hashes"].size() > kMaxProofHashes) {
    return tl::unexpected(bad("a log proof of more than 64 hashes"));
  }
  std::vector<tlog::Hash> out;
  for (const auto& h : j["hashes"]) {
    std::optional<tlog::Hash> hash;
    if (h.is_string()) {
      hash = tlog::hash_from_base64(h.get<std::string>());
    }
    if (!hash) {
      return tl::unexpected(bad("a log proof with a hash that is not 32 octets of base64"));
    }
    out.push_back(*hash);
  }
  return out;
}

LogResult<std::vector<Bytes>> parse_bundle(std::string_view body, std::uint64_t width) {
  std::vector<Bytes> out;
  ByteView b = as_bytes(body);
  while (!b.empty()) {
    if (out.size() >= width) {
      return tl::unexpected(
          bad("an entry bundle with more than " + std::to_string(width) + " entries"));
    }
    if (b.size() < 2) {
      return tl::unexpected(bad("an entry bundle cut inside a length"));
    }
    const std::size_t n = std::size_t{b[0]} << 8 | b[1];
    if (n == 0 || b.size() - 2 < n) {
      return tl::unexpected(bad("an entry bundle with an empty or cut entry"));
    }
    out.emplace_back(b.begin() + 2, b.begin() + 2 + static_cast<long>(n));
    b = b.subspan(2 + n);
  }
  if (out.size() != width) {
    return tl::unexpected(bad("an entry bundle of " + std::to_string(out.size()) +
                              " entries instead of " + std::to_string(width)));
  }
  return out;
}

LogResult<void> check_scheme(const tlog::CommitmentScheme& scheme) {
  if (scheme.salt.size() != tlog::kSaltBytes) {
    return tl::unexpected(bad("the log's commitment salt is not 32 octets"));
  }
  if (scheme.kind == tlog::CommitmentScheme::Kind::Scrypt) {
    const std::uint64_t r = scheme.r;
    const std::uint64_t p = scheme.p;
    if (scheme.log2n == 0 || scheme.log2n > 24 || r == 0 || p == 0 ||
        (std::uint64_t{1} << scheme.log2n) * r * p > kMaxScryptWork) {
      return tl::unexpected(bad("the log's scrypt parameters (N = 2^" +
                                std::to_string(scheme.log2n) + ", r = " + std::to_string(r) +
                                ", p = " + std::to_string(p) + ") ask more work than keydir does"));
    }
  }
  return {};
}

// --- the state folder ----------------------------------------------------------

std::string LogState::encode() const {
  std::ostringstream o;
  o << "keydir log state 1\n";
  o << "vkey " << vkey << "\n";
  if (checkpoint) {
    o << "note " << base64_encode(as_bytes(note)) << "\n";
  }
  if (scheme) {
    o << "scheme " << int(scheme->kind) << " " << int(scheme->log2n) << " " << int(scheme->r) << " "
      << int(scheme->p) << " " << base64_encode(scheme->salt) << "\n";
  }
  if (frontier) {
    o << "frontier " << frontier->size();
    for (const auto& h : frontier->hashes()) {
      o << " " << tlog::hash_base64(h);
    }
    o << "\n";
  }
  for (const auto& [address, c] : commitments) {
    o << "commitment " << base64_encode(c) << " " << address << "\n";
  }
  for (const auto& [vfpr, address] : bound) {
    o << "bound " << vfpr << " " << address << "\n";
  }
  return o.str();
}

LogResult<LogState> LogState::decode(std::string_view text, const tlog::NoteVerifier& verifier) {
  LogState s;
  std::size_t line_no = 0;
  auto corrupt = [&](const std::string& why) {
    return log_fail(kExitUsage, "the state file is damaged: line " + std::to_string(line_no) +
                                    ": " + why + " (remove it to start over)");
  };
  if (!text.empty() && text.back() == '\n') {
    text.remove_suffix(1);
  }
  for (auto line : split(text, '\n')) {
    ++line_no;
    auto fields = split(line, ' ');
    const auto key = fields[0];
    if (line_no == 1) {
      if (line != "keydir log state 1") {
        return corrupt("not a keydir log state");
      }
    } else if (key == "vkey" && fields.size() == 2) {
      s.vkey = std::string(fields[1]);
      if (s.vkey != verifier.encode()) {
        return corrupt("it belongs to the log key " + printable(s.vkey, 200));
      }
    } else if (key == "note" && fields.size() == 2) {
      auto note = base64_decode(fields[1]);
      if (!note) {
        return corrupt("a note that is not base64");
      }
      s.note = std::string(as_chars(*note));
      auto c = verify_checkpoint(s.note, verifier);
      if (!c) {
        return corrupt(c.error().detail);
      }
      s.checkpoint = *c;
    } else if (key == "scheme" && fields.size() == 6) {
      auto kind = parse_u64(fields[1]);
      auto log2n = parse_u64(fields[2]);
      auto r = parse_u64(fields[3]);
      auto p = parse_u64(fields[4]);
      auto salt = base64_decode(fields[5]);
      if (!kind || (*kind != 1 && *kind != 2) || !log2n || *log2n > 255 || !r || *r > 255 || !p ||
          *p > 255 || !salt || salt->size() != tlog::kSaltBytes) {
        return corrupt("a malformed scheme");
      }
      s.scheme = tlog::CommitmentScheme{
          static_cast<tlog::CommitmentScheme::Kind>(*kind), static_cast<std::uint8_t>(*log2n),
          static_cast<std::uint8_t>(*r), static_cast<std::uint8_t>(*p), std::move(*salt)};
    } else if (key == "frontier" && fields.size() >= 2) {
      auto size = parse_u64(fields[1]);
      std::vector<tlog::Hash> hashes;
      for (std::size_t i = 2; i < fields.size(); ++i) {
        auto h = tlog::hash_from_base64(fields[i]);
        if (!h) {
          return corrupt("a malformed frontier hash");
        }
        hashes.push_back(*h);
      }
      if (!size) {
        return corrupt("a malformed frontier size");
      }
      auto f = tlog::Frontier::from_hashes(*size, std::move(hashes));
      if (!f) {
        return corrupt(f.error().detail);
      }
      s.frontier = std::move(*f);
    } else if (key == "commitment" && fields.size() == 3) {
      auto c = base64_decode(fields[1]);
      if (!c || c->size() != tlog::kCommitmentBytes) {
        return corrupt("a malformed commitment");
      }
      s.commitments[std::string(fields[2])] = std::move(*c);
    } else if (key == "bound" && fields.size() == 3) {
      s.bound.emplace(std::string(fields[1]), std::string(fields[2]));
    } else {
      return corrupt("unknown line");
    }
  }
  if (s.vkey.empty()) {
    return corrupt("no vkey line");
  }
  if (s.frontier && (!s.checkpoint || s.frontier->size() > s.checkpoint->size)) {
    return corrupt("a frontier past the checkpoint");
  }
  return s;
}

std::string default_state_dir() {
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x == '/') {
    return std::string(x) + "/keydir";
  }
  const char* h = std::getenv("HOME");
  return std::string(h && *h ? h : ".") + "/.local/state/keydir";
}

StateDir::~StateDir() {
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
  }
}

LogResult<void> StateDir::open() {
  // mkdir -p, each new folder 0700.
  for (std::size_t p = 1; p <= path_.size(); ++p) {
    if (p == path_.size() || path_[p] == '/') {
      const std::string part = path_.substr(0, p);
      if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
        return log_fail(kExitUsage, "cannot create " + part + ": " + std::strerror(errno));
      }
    }
  }
  const std::string lock = path_ + "/lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX) != 0) {
    return log_fail(kExitUsage, "cannot lock " + lock + ": " + std::strerror(errno));
  }
  return {};
}

namespace {

LogResult<std::optional<std::string>> read_small(const std::string& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return std::optional<std::string>();
    }
    return log_fail(kExitUsage, "cannot read " + file + ": " + std::strerror(errno));
  }
  std::string data;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      ::close(fd);
      return log_fail(kExitUsage, "cannot read " + file + ": " + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > (16u << 20)) {
      ::close(fd);
      return log_fail(kExitUsage, file + " is larger than 16 MiB");
    }
  }
  ::close(fd);
  return std::optional<std::string>(std::move(data));
}

}  // namespace

LogResult<void> StateDir::write_file(const std::string& file, const std::string& data) const {
  std::string tmp = file + ".XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    return log_fail(kExitUsage, "cannot write " + file + ": " + std::strerror(errno));
  }
  ::fchmod(fd, 0600);
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return log_fail(kExitUsage, "cannot write " + file + ": " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), file.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return log_fail(kExitUsage, "cannot write " + file + ": " + std::strerror(e));
  }
  return {};
}

LogResult<std::optional<std::string>> StateDir::pinned(const std::string& server) const {
  auto data = read_small(path_ + "/log-pins");
  if (!data) {
    return tl::unexpected(data.error());
  }
  if (!*data) {
    return std::optional<std::string>();
  }
  for (auto line : split(**data, '\n')) {
    auto sp = line.find(' ');
    if (sp != std::string_view::npos && line.substr(0, sp) == server) {
      return std::optional<std::string>(std::string(line.substr(sp + 1)));
    }
  }
  return std::optional<std::string>();
}

LogResult<void> StateDir::pin(const std::string& server, const std::string& vkey) const {
  auto data = read_small(path_ + "/log-pins");
  if (!data) {
    return tl::unexpected(data.error());
  }
  std::string out;
  if (*data) {
    for (auto line : split(**data, '\n')) {
      if (!line.empty() && !line.starts_with(server + " ")) {
        out.append(line).push_back('\n');
      }
    }
  }
  out += server + " " + vkey + "\n";
  return write_file(path_ + "/log-pins", out);
}

std::string StateDir::log_file(const tlog::NoteVerifier& verifier) const {
  // 128 bits of SHA-256 of the whole verifier key: a log key made to share
  // another's name cannot take its file (a 32-bit key hash could be matched
  // in seconds, and the real log's state then refused as another key's).
  const std::string vkey = verifier.encode();
  const Bytes h = openpgp::crypto::sha256(as_bytes(vkey));
  return path_ + "/log-" + to_hex(ByteView(h.data(), 16)) + ".state";
}

std::string StateDir::legacy_log_file(const tlog::NoteVerifier& verifier) const {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", verifier.key_hash);
  return path_ + "/log-" + hex + ".state";
}

namespace {

// Whether a state file's text names `vkey` as its log key (its "vkey" line);
// a file without one is nobody's (damaged).
bool names_key(std::string_view text, const std::string& vkey) {
  for (auto line : split(text, '\n')) {
    if (line.starts_with("vkey ")) {
      return line.substr(5) == vkey;
    }
  }
  return true;  // damaged: read as this key's, so that it is refused
}

}  // namespace

LogResult<LogState> StateDir::load(const tlog::NoteVerifier& verifier) const {
  const std::string file = log_file(verifier);
  const std::string legacy = legacy_log_file(verifier);
  auto data = read_small(file);
  if (!data) {
    return tl::unexpected(data.error());
  }
  // A state an earlier keydir kept under the 32-bit key hash. Another key's
  // (the same 4 octets) is left alone; this key's is taken over when it is
  // the only one, and refused when both exist: an earlier keydir wrote it
  // after this one wrote its own, and either could be the one that saw the
  // later tree (reading the older alone could miss a fork).
  auto old = read_small(legacy);
  if (!old) {
    return tl::unexpected(old.error());
  }
  const bool old_is_ours = *old && names_key(**old, verifier.encode());
  if (old_is_ours && *data) {
    return log_fail(kExitUsage, "two state files for this log: " + file + " and " + legacy +
                                    " (written by an earlier keydir); keep the one you trust, "
                                    "remove the other");
  }
  const std::string& from = old_is_ours ? legacy : file;
  const auto& text = old_is_ours ? *old : *data;
  if (!text) {
    LogState s;
    s.vkey = verifier.encode();
    return s;
  }
  auto s = LogState::decode(*text, verifier);
  if (!s) {
    return log_fail(s.error().exit_code, from + ": " + s.error().detail);
  }
  return s;
}

LogResult<void> StateDir::save(const tlog::NoteVerifier& verifier, const LogState& state) const {
  if (auto w = write_file(log_file(verifier), state.encode()); !w) {
    return w;
  }
  // The state it held was read by load (the folder is locked): it is in the
  // new file now.
  const std::string old = legacy_log_file(verifier);
  if (auto data = read_small(old); data && *data && names_key(**data, verifier.encode())) {
    ::unlink(old.c_str());
  }
  return {};
}

// --- talking to the log --------------------------------------------------------

namespace {

class LogServer {
 public:
  LogServer(const ClientOptions& o, bool verbose, std::ostream& err)
      : o_(o), verbose_(verbose), err_(err) {}

  // GET /log/PATH: the body of a 200, or the exit code (3 network or 5xx,
  // 4 anything else: a log that does not serve what its checkpoint claims).
  LogResult<std::string> get(const std::string& path, std::size_t max_body) const {
    net::HttpOptions ho = o_.http;
    ho.max_body = max_body;
    const std::string url = o_.server + "/log/" + path;
    if (verbose_) {
      err_ << "keydir: log: GET " << url << "\n";
    }
    auto r = net::http_get(url, ho);
    if (r.error != net::NetError::None) {
      return log_fail(exit_code(r.error), url + ": " + printable(r.message, 300));
    }
    if (r.status != 200) {
      const std::string reason = server_reason(r.content_type, r.body);
      return log_fail(
          r.status >= 500 ? kExitNetwork : kExitBadAnswer,
          url + ": HTTP " + std::to_string(r.status) + (reason.empty() ? "" : ": " + reason));
    }
    return std::move(r.body);
  }

  [[nodiscard]] const std::string& server() const { return o_.server; }

 private:
  const ClientOptions& o_;
  bool verbose_;
  std::ostream& err_;
};

// The log's verifier key: --log-key, the pin, or (first use) /log/vkey, pinned.
LogResult<tlog::NoteVerifier> resolve_key(const LogServer& log, const StateDir& dir,
                                          const std::string& given, std::ostream& err) {
  if (!given.empty()) {
    auto v = tlog::NoteVerifier::parse(given);
    if (!v) {
      return log_fail(kExitUsage, "--log-key: " + v.error().detail);
    }
    return *v;
  }
  auto pin = dir.pinned(log.server());
  if (!pin) {
    return tl::unexpected(pin.error());
  }
  if (*pin) {
    auto v = tlog::NoteVerifier::parse(**pin);
    if (!v) {
      return log_fail(kExitUsage, dir.path() + "/log-pins: the key pinned for " + log.server() +
                                      ": " + v.error().detail);
    }
    return *v;
  }
  auto body = log.get("vkey", 4096);
  if (!body) {
    return tl::unexpected(body.error());
  }
  std::string_view line = *body;
  if (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
  }
  auto v = tlog::NoteVerifier::parse(line);
  if (!v) {
    return tl::unexpected(bad("/log/vkey: " + v.error().detail));
  }
  if (auto p = dir.pin(log.server(), v->encode()); !p) {
    return tl::unexpected(p.error());
  }
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", v->key_hash);
  err << "keydir: pinned log key " << v->name << "+" << hex << " for " << log.server()
      << " on first use\n";
  return *v;
}

// A checkpoint that does not verify under the pinned key: if the server now
// names another key, say so (the pin wins).
void explain_key_mismatch(const LogServer& log, const tlog::NoteVerifier& v, std::ostream& err) {
  std::ostringstream quiet;
  auto body = log.get("vkey", 4096);
  if (!body) {
    return;
  }
  std::string_view line = *body;
  if (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
  }
  if (line != v.encode()) {
    err << "keydir: the server's log key " << printable(line, 200)
        << " is not the one trusted for it (" << v.encode()
        << "): the trusted key wins; nothing from this log is accepted\n";
  }
}

LogResult<tlog::Checkpoint> open_checkpoint(const LogServer& log, const tlog::NoteVerifier& v,
                                            std::string_view note, std::ostream& err) {
  auto c = verify_checkpoint(note, v);
  if (!c) {
    explain_key_mismatch(log, v, err);
  }
  return c;
}

// A signed note, each line indented and printable.
void print_note(std::string_view note, std::ostream& err) {
  if (!note.empty() && note.back() == '\n') {
    note.remove_suffix(1);
  }
  for (auto line : split(note, '\n')) {
    err << "  " << printable(line, 400) << "\n";
  }
}

// The log's consistency proof between two sizes, fetched when asked for.
ConsistencyFetcher consistency_from(const LogServer& log, std::uint64_t old_size,
                                    std::uint64_t new_size) {
  return [&log, old_size, new_size]() -> LogResult<std::vector<tlog::Hash>> {
    auto body = log.get(
        "proof/consistency?old=" + std::to_string(old_size) + "&new=" + std::to_string(new_size),
        kMaxProofAnswerBytes);
    if (!body) {
      return tl::unexpected(body.error());
    }
    return parse_proof_answer(*body, "old", old_size, "new", new_size);
  };
}

// Checks `now` against the state's checkpoint and, when it extends it, makes
// it the state's.
LogResult<void> advance(const LogServer& log, LogState& state, const tlog::Checkpoint& now,
                        const std::string& note, std::ostream& err) {
  if (state.checkpoint) {
    const auto old = *state.checkpoint;
    auto ok = check_consistency(old, now, consistency_from(log, old.size, now.size));
    if (!ok) {
      if (ok.error().exit_code == kExitLogInconsistent) {
        err << "keydir: the log " << now.origin << " is inconsistent\n"
            << "keydir: checkpoint seen before (" << describe(old) << "):\n";
        print_note(state.note, err);
        err << "keydir: checkpoint now (" << describe(now) << "):\n";
        print_note(note, err);
      }
      return ok;
    }
  }
  state.checkpoint = now;
  state.note = note;
  return {};
}

std::uint64_t now_seconds() {
  return static_cast<std::uint64_t>(std::time(nullptr));
}

// The dating and the witnesses a checkpoint needs (LogOptions). When the
// answer's checkpoint `c` is not cosigned by enough witnesses (they cosign
// within seconds of a change, and a busy log changes faster), the newest
// checkpoint they cosigned (/log/checkpoint/witnessed) must reach `c`'s size
// and be consistent with `c`: asked for up to five times, a second apart.
LogResult<void> check_witnessed(const LogServer& log, const tlog::NoteVerifier& v,
                                const tlog::Checkpoint& c, const std::string& note,
                                const LogOptions& lo, std::ostream& err) {
  if (auto d = check_dated(note, v, lo.max_age, now_seconds()); !d) {
    return tl::unexpected(d.error());
  }
  if (lo.witnesses.empty()) {
    if (lo.witness_quorum != 0) {
      return log_fail(kExitUsage, "--log-witness-quorum needs --log-witness");
    }
    return {};
  }
  auto witnesses = parse_witnesses(lo.witnesses, v);
  if (!witnesses) {
    return tl::unexpected(witnesses.error());
  }
  const std::size_t need = lo.witness_quorum == 0 ? witnesses->size() : lo.witness_quorum;
  if (need > witnesses->size()) {
    return log_fail(kExitUsage, "--log-witness-quorum " + std::to_string(need) +
                                    " is more than the " + std::to_string(witnesses->size()) +
                                    " witnesses given");
  }
  auto have = count_cosigned(note, *witnesses, lo.max_age, now_seconds());
  if (!have) {
    return tl::unexpected(have.error());
  }
  std::string last_seen;
  for (int attempt = 0; *have < need && attempt < 5; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    auto later = log.get("checkpoint/witnessed", 1 << 16);
    if (!later) {
      if (later.error().exit_code == kExitBadAnswer) {
        last_seen = later.error().detail;
        continue;  // none cosigned yet (404)
      }
      return tl::unexpected(later.error());
    }
    auto lc = open_checkpoint(log, v, *later, err);
    if (!lc) {
      return tl::unexpected(lc.error());
    }
    auto n = count_cosigned(*later, *witnesses, lo.max_age, now_seconds());
    if (!n) {
      return tl::unexpected(n.error());
    }
    if (*n < need || lc->size < c.size) {
      last_seen = "the newest witnessed checkpoint has " + std::to_string(lc->size) +
                  " entries and " + std::to_string(*n) + " recent cosignatures";
      continue;
    }
    if (auto d = check_dated(*later, v, lo.max_age, now_seconds()); !d) {
      return tl::unexpected(d.error());
    }
    auto ok = check_consistency(c, *lc, consistency_from(log, c.size, lc->size));
    if (!ok) {
      if (ok.error().exit_code == kExitLogInconsistent) {
        err << "keydir: the answer's checkpoint (" << describe(c)
            << ") is not in the tree the witnesses cosigned (" << describe(*lc) << ")\n";
      }
      return ok;
    }
    have = n;
  }
  if (*have < need) {
    return tl::unexpected(bad("the log checkpoint is cosigned by " + std::to_string(*have) +
                              " of the " + std::to_string(need) +
                              " witnesses required (--log-witness), recently enough: a view no "
                              "witness has seen" +
                              (last_seen.empty() ? "" : " (" + printable(last_seen, 200) + ")")));
  }
  if (lo.verbose) {
    err << "keydir: log: cosigned by " << *have << " of the witnesses given\n";
  }
  return {};
}

// Entry 0 (the header), proven against `c`: the commitment scheme.
LogResult<tlog::CommitmentScheme> fetch_scheme(const LogServer& log, const tlog::Checkpoint& c) {
  if (c.size == 0) {
    return tl::unexpected(bad("the log is empty: it has no header entry"));
  }
  auto body = log.get("tile/entries/000.p/1", 2 + tlog::kMaxEntryBytes);
  if (!body && body.error().exit_code == kExitBadAnswer) {
    body = log.get("tile/entries/000", kMaxBundleBytes);
  }
  if (!body) {
    return tl::unexpected(body.error());
  }
  ByteView b = as_bytes(*body);
  if (b.size() < 2 || b.size() - 2 < (std::size_t{b[0]} << 8 | b[1])) {
    return tl::unexpected(bad("the log's first entry bundle is cut"));
  }
  const Bytes entry(b.begin() + 2, b.begin() + 2 + (std::size_t{b[0]} << 8 | b[1]));
  auto proof_body =
      log.get("proof/inclusion?index=0&size=" + std::to_string(c.size), kMaxProofAnswerBytes);
  if (!proof_body) {
    return tl::unexpected(proof_body.error());
  }
  auto proof = parse_proof_answer(*proof_body, "index", 0, "size", c.size);
  if (!proof) {
    return tl::unexpected(proof.error());
  }
  if (!tlog::verify_inclusion(0, c.size, tlog::leaf_hash(entry), *proof, c.root)) {
    return tl::unexpected(bad("the log's header entry is not the tree's entry 0"));
  }
  auto e = tlog::Entry::decode(entry);
  if (!e || e->kind != tlog::Entry::Kind::Header) {
    return tl::unexpected(bad("the log's entry 0 is not a header"));
  }
  if (auto ok = check_scheme(e->scheme); !ok) {
    return tl::unexpected(ok.error());
  }
  return e->scheme;
}

LogResult<Bytes> commitment_of(const tlog::CommitmentScheme& scheme, const std::string& address) {
  auto c = scheme.commit(address);
  if (!c) {
    return tl::unexpected(bad("the log's commitment scheme: " + c.error().detail));
  }
  return *c;
}

int report_error(const char* command, const LogError& e, std::ostream& err) {
  err << "keydir " << command << ": " << e.detail << "\n";
  return e.exit_code;
}

}  // namespace

int audit_fetch(const ClientOptions& o, const FetchQuery& query, const FetchReport& report,
                const LogOptions& lo, std::ostream& err) {
  constexpr const char* kCmd = "fetch --audit";
  LogServer log(o, lo.verbose, err);
  StateDir dir(lo.state_dir.empty() ? default_state_dir() : lo.state_dir);
  if (auto r = dir.open(); !r) {
    return report_error(kCmd, r.error(), err);
  }
  auto v = resolve_key(log, dir, lo.log_key, err);
  if (!v) {
    return report_error(kCmd, v.error(), err);
  }
  if (report.log_checkpoint.empty()) {
    return report_error(kCmd, bad("the answer carries no Keydir-Log-Checkpoint header"), err);
  }
  auto note_bytes = base64_decode(report.log_checkpoint);
  if (!note_bytes) {
    return report_error(kCmd, bad("Keydir-Log-Checkpoint is not base64"), err);
  }
  const std::string note(as_chars(*note_bytes));
  auto c = open_checkpoint(log, *v, note, err);
  if (!c) {
    return report_error(kCmd, c.error(), err);
  }
  if (auto w = check_witnessed(log, *v, *c, note, lo, err); !w) {
    return report_error(kCmd, w.error(), err);
  }
  auto state = dir.load(*v);
  if (!state) {
    return report_error(kCmd, state.error(), err);
  }
  if (auto a = advance(log, *state, *c, note, err); !a) {
    return report_error(kCmd, a.error(), err);
  }
  if (auto s = dir.save(*v, *state); !s) {
    return report_error(kCmd, s.error(), err);
  }
  auto items = parse_inclusion_header(report.log_inclusion);
  if (!items) {
    return report_error(kCmd, items.error(), err);
  }
  auto certs = split_served(report.served);
  if (!certs) {
    return report_error(kCmd, certs.error(), err);
  }
  // The scheme (entry 0): how entries name certificates (blinded
  // fingerprints in scrypt logs) and addresses.
  if (!state->scheme) {
    auto scheme = fetch_scheme(log, *c);
    if (!scheme) {
      return report_error(kCmd, scheme.error(), err);
    }
    state->scheme = std::move(*scheme);
    if (auto s = dir.save(*v, *state); !s) {
      return report_error(kCmd, s.error(), err);
    }
  }
  const tlog::CommitmentScheme& scheme = *state->scheme;
  std::optional<Bytes> commitment;
  if (query.email) {
    auto cm = commitment_of(scheme, query.email->address());
    if (!cm) {
      return report_error(kCmd, cm.error(), err);
    }
    commitment = std::move(*cm);
  }
  std::vector<std::uint64_t> served_index;
  auto n = check_inclusions(*certs, *items, *c, scheme, commitment, &served_index);
  if (!n) {
    return report_error(kCmd, n.error(), err);
  }
  // Freshness: the log's latest entry of each certificate is the one that
  // proved it. A newer entry, itself proven in this tree, means the answer
  // is an older published form (a revocation or a change withheld).
  for (std::size_t i = 0; i < certs->size(); ++i) {
    const auto& f = (*certs)[i].fingerprint;
    auto body = log.get("entry/" + vfpr_of(f), kMaxProofAnswerBytes * 2);
    if (!body) {
      return report_error(kCmd, body.error(), err);
    }
    auto latest = parse_latest_answer(*body, f, scheme);
    if (!latest) {
      return report_error(kCmd, latest.error(), err);
    }
    if (latest->index == served_index[i]) {
      continue;
    }
    if (latest->index < served_index[i]) {
      return report_error(kCmd,
                          bad("/log/entry names entry " + std::to_string(latest->index) +
                              " as the latest of " + vfpr_of(f) + ", older than entry " +
                              std::to_string(served_index[i]) + " that proved the answer"),
                          err);
    }
    if (latest->index >= c->size) {
      if (lo.verbose) {
        err << "keydir: log: " << vfpr_of(f) << " has an entry past this checkpoint ("
            << latest->index << "): the log grew since the answer\n";
      }
      continue;
    }
    auto proof_body = log.get("proof/inclusion?index=" + std::to_string(latest->index) +
                                  "&size=" + std::to_string(c->size),
                              kMaxProofAnswerBytes);
    if (!proof_body) {
      return report_error(kCmd, proof_body.error(), err);
    }
    auto proof = parse_proof_answer(*proof_body, "index", latest->index, "size", c->size);
    if (!proof) {
      return report_error(kCmd, proof.error(), err);
    }
    if (!tlog::verify_inclusion(latest->index, c->size, tlog::leaf_hash(latest->entry), *proof,
                                c->root)) {
      return report_error(kCmd,
                          bad("/log/entry's entry " + std::to_string(latest->index) + " of " +
                              vfpr_of(f) + " is not in the tree"),
                          err);
    }
    return report_error(kCmd,
                        bad("a stale answer: the log holds entry " + std::to_string(latest->index) +
                            " for " + vfpr_of(f) + ", newer than entry " +
                            std::to_string(served_index[i]) + " of the form served"),
                        err);
  }
  err << "keydir: audited: " << *n << " certificate(s) in " << c->origin << " at size " << c->size
      << "\n";
  return kExitOk;
}

// --- monitor -------------------------------------------------------------------

int monitor(const ClientOptions& o, const MonitorOptions& mo, std::ostream& out,
            std::ostream& err) {
  constexpr const char* kCmd = "monitor";
  // The addresses and the allowed fingerprints first: usage errors.
  std::vector<std::string> addresses;
  for (const auto& a : mo.addresses) {
    auto e = openpgp::Email::parse(a);
    if (!e) {
      err << "keydir monitor: " << printable(a, 200) << ": " << e.error().detail << "\n";
      return kExitUsage;
    }
    addresses.push_back(e->address());
  }
  std::vector<openpgp::Fingerprint> allow;
  for (const auto& a : mo.allow) {
    auto f = openpgp::Fingerprint::from_hex(a);
    if (!f) {
      err << "keydir monitor: --allow " << printable(a, 200) << ": " << f.error().detail << "\n";
      return kExitUsage;
    }
    allow.push_back(*f);
  }
  LogServer log(o, mo.log.verbose, err);
  StateDir dir(mo.log.state_dir.empty() ? default_state_dir() : mo.log.state_dir);
  if (auto r = dir.open(); !r) {
    return report_error(kCmd, r.error(), err);
  }
  auto v = resolve_key(log, dir, mo.log.log_key, err);
  if (!v) {
    return report_error(kCmd, v.error(), err);
  }
  auto note = log.get("checkpoint", 1 << 16);
  if (!note) {
    return report_error(kCmd, note.error(), err);
  }
  auto c = open_checkpoint(log, *v, *note, err);
  if (!c) {
    return report_error(kCmd, c.error(), err);
  }
  if (auto w = check_witnessed(log, *v, *c, *note, mo.log, err); !w) {
    return report_error(kCmd, w.error(), err);
  }
  auto loaded = dir.load(*v);
  if (!loaded) {
    return report_error(kCmd, loaded.error(), err);
  }
  LogState state = std::move(*loaded);
  if (auto a = advance(log, state, *c, *note, err); !a) {
    return report_error(kCmd, a.error(), err);
  }
  // The checkpoint is consistent with the last one: keep it even if the
  // entries below fail (it is signed evidence either way).
  if (auto s = dir.save(*v, state); !s) {
    return report_error(kCmd, s.error(), err);
  }
  tlog::Frontier edge = state.frontier.value_or(tlog::Frontier());
  const std::uint64_t from = edge.size();
  if (mo.log.verbose) {
    err << "keydir: monitor: " << c->origin << " at size " << c->size << "; reading entries "
        << from << ".." << c->size << "\n";
  }
  // Commitments of the watched addresses (cached: scrypt is slow on purpose).
  // The allowed certificates as entries name them (blinded in scrypt logs):
  // the entry's vfpr hex -> the fingerprint's.
  std::optional<tlog::CommitmentScheme> scheme = state.scheme;
  std::vector<std::pair<Bytes, std::string>> watched;  // commitment, address
  std::map<std::string, std::string> allowed;
  auto compute_watched = [&]() -> LogResult<void> {
    allowed.clear();
    for (const auto& f : allow) {
      const auto version = static_cast<std::uint8_t>(f.version());
      allowed.emplace(tlog::vfpr_hex(version, scheme->entry_fingerprint(version, f.bytes())),
                      vfpr_of(f));
    }
    watched.clear();
    for (const auto& a : addresses) {
      auto it = state.commitments.find(a);
      if (it == state.commitments.end()) {
        auto cm = commitment_of(*scheme, a);
        if (!cm) {
          return tl::unexpected(cm.error());
        }
        it = state.commitments.emplace(a, std::move(*cm)).first;
      }
      watched.emplace_back(it->second, a);
    }
    return {};
  };
  if (scheme) {
    if (auto w = compute_watched(); !w) {
      return report_error(kCmd, w.error(), err);
    }
  }
  struct Line {
    bool alert;
    std::string text;
  };
  std::vector<Line> lines;
  auto bound = state.bound;
  for (std::uint64_t tile = from / tlog::kTileWidth;
       from < c->size && tile * tlog::kTileWidth < c->size; ++tile) {
    const std::uint64_t base = tile * tlog::kTileWidth;
    const std::uint64_t width = std::min<std::uint64_t>(tlog::kTileWidth, c->size - base);
    const tlog::Tile t{true, 0, tile, width};
    auto body = log.get(t.path(), kMaxBundleBytes);
    if (!body) {
      return report_error(kCmd, body.error(), err);
    }
    auto entries = parse_bundle(*body, width);
    if (!entries) {
      return report_error(kCmd, LogError{kExitBadAnswer, t.path() + ": " + entries.error().detail},
                          err);
    }
    for (std::uint64_t i = std::max(from, base) - base; i < width; ++i) {
      const std::uint64_t index = base + i;
      const Bytes& bytes = (*entries)[i];
      std::vector<std::pair<tlog::NodeId, tlog::Hash>> unused;
      edge.append(tlog::leaf_hash(bytes), unused);
      auto e = tlog::Entry::decode(bytes);
      if (!e) {
        return report_error(kCmd, bad("entry " + std::to_string(index) + ": " + e.error().detail),
                            err);
      }
      if ((index == 0) != (e->kind == tlog::Entry::Kind::Header)) {
        return report_error(kCmd,
                            bad("entry " + std::to_string(index) +
                                (index == 0 ? " is not the log's header" : " is a second header")),
                            err);
      }
      if (e->kind == tlog::Entry::Kind::Header) {
        if (auto ok = check_scheme(e->scheme); !ok) {
          return report_error(kCmd, ok.error(), err);
        }
        scheme = e->scheme;
        if (auto w = compute_watched(); !w) {
          return report_error(kCmd, w.error(), err);
        }
        continue;
      }
      if (!scheme) {
        auto fetched = fetch_scheme(log, *c);
        if (!fetched) {
          return report_error(kCmd, fetched.error(), err);
        }
        scheme = std::move(*fetched);
        if (auto w = compute_watched(); !w) {
          return report_error(kCmd, w.error(), err);
        }
      }
      // The entry's field, as the state keeps it; the name printed: the
      // fingerprint when the entry is in clear or allowed, else (a scrypt
      // log) "blinded:" and the blinded id.
      const std::string vfpr = tlog::vfpr_hex(e->key_version, e->fingerprint);
      const auto allowed_it = allowed.find(vfpr);
      const bool is_allowed = allowed_it != allowed.end();
      const bool blinded = scheme->kind == tlog::CommitmentScheme::Kind::Scrypt;
      const std::string name = is_allowed ? allowed_it->second : blinded ? "blinded:" + vfpr : vfpr;
      const std::string when = utc_timestamp(e->time);
      for (const auto& [commitment, address] : watched) {
        const bool has =
            e->kind == tlog::Entry::Kind::Certificate &&
            std::binary_search(e->commitments.begin(), e->commitments.end(), commitment);
        const bool was = bound.count({vfpr, address}) != 0;
        if (has) {
          bound.emplace(vfpr, address);
          lines.push_back({false, when + " " + name + " " + address + " published (entry " +
                                      std::to_string(index) + ")"});
          if (!is_allowed) {
            std::string alert = "ALERT " + address + " bound to " + name + " at entry " +
                                std::to_string(index) + " (" + when + ")";
            if (blinded) {
              alert +=
                  ": a certificate not on the allow-list; this log names certificates by "
                  "a blinded id, so look the address up to see it (keydir fetch --audit " +
                  address + ")";
            }
            lines.push_back({true, std::move(alert)});
          }
        } else if (was) {
          bound.erase({vfpr, address});
          lines.push_back(
              {false, when + " " + name + " " + address +
                          (e->kind == tlog::Entry::Kind::Deleted ? " deleted" : " withdrawn") +
                          " (entry " + std::to_string(index) + ")"});
        }
      }
    }
  }
  if (edge.size() != c->size || edge.root() != c->root) {
    err << "keydir monitor: the log " << c->origin << " is inconsistent: its entries 0.." << c->size
        << " do not make the root of its checkpoint (" << describe(*c)
        << "): an entry was hidden or changed\n";
    return kExitLogInconsistent;
  }
  state.frontier = edge;
  state.scheme = scheme;
  state.bound = std::move(bound);
  if (auto s = dir.save(*v, state); !s) {
    return report_error(kCmd, s.error(), err);
  }
  bool alert = false;
  for (const auto& l : lines) {
    out << l.text << "\n";
    alert = alert || l.alert;
  }
  if (mo.log.verbose) {
    err << "keydir: monitor: checked " << (c->size - from) << " new entries of " << c->origin
        << " (size " << c->size << "), " << addresses.size() << " address(es) watched, "
        << lines.size() << " line(s) reported\n";
  }
  return alert ? kExitMonitorAlert : kExitOk;
}

}  // namespace keydir::client
