#include "recon/session.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <deque>
#include <set>

#include "recon/poly.hpp"

namespace keydir::recon {
namespace {

Result<std::uint32_t> read_u32(Stream& s) {
  std::uint8_t b[4];
  auto r = s.read_exact(b, 4);
  if (!r) {
    return tl::unexpected(r.error());
  }
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         b[3];
}

Result<std::string> read_string(Stream& s, std::uint32_t max) {
  auto n = read_u32(s);
  if (!n) {
    return tl::unexpected(n.error());
  }
  if (*n > max) {
    return fail(ErrorCode::ProtocolError, "recon string longer than " + std::to_string(max));
  }
  std::string out(*n, '\0');
  if (*n > 0) {
    auto r = s.read_exact(reinterpret_cast<std::uint8_t*>(out.data()), *n);
    if (!r) {
      return tl::unexpected(r.error());
    }
  }
  return out;
}

// Counts what crosses the stream.
class Counted {
 public:
  Counted(Stream& s, Outcome& o) : s_(s), o_(o) {}
  Result<Message> read() {
    auto m = read_message(s_, &o_.bytes_in);
    if (m) {
      ++o_.messages_in;
    }
    return m;
  }
  void queue(const Message& m) {
    Bytes b = encode(m);
    append(pending_, b);
    ++o_.messages_out;
  }
  [[nodiscard]] std::size_t pending() const { return pending_.size(); }
  Result<void> send() {
    o_.bytes_out += pending_.size();
    auto r = s_.write_all(pending_);
    pending_.clear();
    return r;
  }

 private:
  Stream& s_;
  Outcome& o_;
  Bytes pending_;
};

void add_recover(Outcome& o, std::set<Zp>& seen, const std::vector<Zp>& zs, std::size_t max) {
  for (const Zp& z : zs) {
    if (o.recover.size() >= max) {
      return;
    }
    if (seen.insert(z).second) {
      o.recover.push_back(z);
    }
  }
}

// a \ b
std::vector<Zp> minus(const std::vector<Zp>& a, const std::vector<Zp>& b) {
  std::set<Zp> bs(b.begin(), b.end());
  std::vector<Zp> out;
  for (const Zp& z : a) {
    if (!bs.count(z)) {
      out.push_back(z);
    }
  }
  return out;
}

Result<Outcome> protocol_error(const std::string& what) {
  return fail(ErrorCode::ProtocolError, what);
}

}  // namespace

SocketStream::SocketStream(int fd, int timeout_seconds) : fd_(fd) {
  if (timeout_seconds > 0) {
    timeval tv{timeout_seconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
}

Result<void> SocketStream::read_exact(std::uint8_t* dst, std::size_t n) {
  while (n > 0) {
    ssize_t got = ::recv(fd_, dst, n, 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      return fail(ErrorCode::ProtocolError,
                  got == 0 ? "the peer closed the connection"
                           : std::string("reading from the peer: ") + std::strerror(errno));
    }
    dst += got;
    n -= static_cast<std::size_t>(got);
  }
  return {};
}

Result<void> SocketStream::write_all(ByteView data) {
  while (!data.empty()) {
    ssize_t put = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (put < 0 && errno == EINTR) {
      continue;
    }
    if (put <= 0) {
      return fail(ErrorCode::ProtocolError,
                  std::string("writing to the peer: ") + std::strerror(errno));
    }
    data = data.subspan(static_cast<std::size_t>(put));
  }
  return {};
}

Result<Message> read_message(Stream& s, std::uint64_t* octets) {
  auto n = read_u32(s);
  if (!n) {
    return tl::unexpected(n.error());
  }
  if (*n == 0 || *n > kMaxMessageBytes) {
    return fail(ErrorCode::ProtocolError, "recon message of " + std::to_string(*n) +
                                              " octets (limit " + std::to_string(kMaxMessageBytes) +
                                              ")");
  }
  Bytes frame(*n);
  auto r = s.read_exact(frame.data(), frame.size());
  if (!r) {
    return tl::unexpected(r.error());
  }
  if (octets) {
    *octets += 4 + frame.size();
  }
  return decode(frame);
}

namespace {

// A peer's words in our errors and logs: printable ASCII, the rest as \xNN
// (no control characters, no escape sequences, no forged log lines).
std::string quoted(std::string_view text, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (text.size() > max) {
    out += "...";
  }
  return out;
}

// Both Configs known: check, then "passed" or "failed" and the reason.
Result<Config> settle_config(Stream& s, const Config& local, const Config& remote,
                             const std::string& refuse) {
  std::string reason = refuse;
  std::string detail;
  if (reason.empty() && remote.bit_quantum != local.bit_quantum) {
    reason = "mismatched bitquantum";
  } else if (reason.empty() && remote.mbar != local.mbar) {
    reason = "mismatched mbar";
  } else if (reason.empty() && remote.filters != local.filters) {
    reason = "mismatched filters";
    detail = ": the peer announces \"" + quoted(remote.filters, 512) + "\", we announce \"" +
             local.filters + "\"";
  }
  if (!reason.empty()) {
    Bytes out = encode_string("failed");
    append(out, encode_string(reason));
    (void)s.write_all(out);
    return fail(ErrorCode::ProtocolError, "cannot peer: " + reason + detail);
  }
  auto w = s.write_all(encode_string("passed"));
  if (!w) {
    return tl::unexpected(w.error());
  }
  auto status = read_string(s, 256);
  if (!status) {
    return tl::unexpected(status.error());
  }
  if (*status != "passed") {
    auto why = read_string(s, 4096);
    return fail(
        ErrorCode::ProtocolError,
        "the peer refused our config: " + (why ? quoted(*why, 512) : std::string("(no reason)")));
  }
  return remote;
}

// Hockeypuck's list is 190 octets.
constexpr std::size_t kMaxFiltersBytes = 4096;

Result<Config> read_config(Stream& s) {
  auto m = read_message(s);
  if (!m) {
    return tl::unexpected(m.error());
  }
  auto* remote = std::get_if<Config>(&*m);
  if (!remote) {
    return fail(ErrorCode::ProtocolError,
                "expected the peer's Config, got " + std::string(message_name(*m)));
  }
  if (remote->filters.size() > kMaxFiltersBytes) {
    return fail(ErrorCode::ProtocolError, "the peer's filters are longer than " +
                                              std::to_string(kMaxFiltersBytes) + " octets");
  }
  return *remote;
}

}  // namespace

Result<Config> exchange_config(Stream& s, const Config& local, const std::string& refuse) {
  auto w = s.write_all(encode(local));
  if (!w) {
    return tl::unexpected(w.error());
  }
  KEYDIR_TRY(Config remote, read_config(s));
  return settle_config(s, local, remote, refuse);
}

Result<Config> answer_config(Stream& s, const std::function<Config(const Config& remote)>& choose,
                             const std::string& refuse) {
  KEYDIR_TRY(Config remote, read_config(s));
  const Config local = choose(remote);
  auto w = s.write_all(encode(local));
  if (!w) {
    return tl::unexpected(w.error());
  }
  return settle_config(s, local, remote, refuse);
}

Result<Outcome> serve_session(Stream& s, const TreeView& tree, const SessionLimits& limits) {
  Outcome out;
  Counted io(s, out);
  std::set<Zp> seen;
  const auto mbar = static_cast<std::uint64_t>(tree.config().mbar);
  KEYDIR_TRY(TreeNode root, tree.root_node());
  std::deque<TreeNode> queue;
  queue.push_back(std::move(root));
  while (!queue.empty()) {
    std::vector<TreeNode> batch;
    while (!queue.empty() && batch.size() < limits.max_outstanding) {
      batch.push_back(std::move(queue.front()));
      queue.pop_front();
    }
    for (const auto& n : batch) {
      if (n.leaf || n.size < mbar) {
        KEYDIR_TRY(auto elements, tree.elements_of(n));
        io.queue(ReconRqstFull{n.key, std::move(elements)});
      } else {
        io.queue(ReconRqstPoly{n.key, static_cast<std::uint32_t>(n.size), n.svalues});
      }
    }
    io.queue(Flush{});
    if (auto w = io.send(); !w) {
      return tl::unexpected(w.error());
    }
    for (const auto& n : batch) {
      auto m = io.read();
      if (!m) {
        return tl::unexpected(m.error());
      }
      if (std::holds_alternative<SyncFail>(*m)) {
        if (n.leaf) {
          return protocol_error("SyncFail for a leaf node");
        }
        KEYDIR_TRY(auto children, tree.children_of(n));
        for (auto& c : children) {
          if (queue.size() >= limits.max_request_queue) {
            break;
          }
          queue.push_back(std::move(c));
        }
      } else if (auto* e = std::get_if<Elements>(&*m)) {
        add_recover(out, seen, e->elements, limits.max_recover);
      } else if (auto* f = std::get_if<FullElements>(&*m)) {
        KEYDIR_TRY(auto local, tree.elements_of(n));
        io.queue(Elements{minus(local, f->elements)});
        add_recover(out, seen, minus(f->elements, local), limits.max_recover);
      } else if (auto* err = std::get_if<ErrorMsg>(&*m)) {
        return protocol_error("the peer gave up: " + quoted(err->text, 200));
      } else {
        return protocol_error("unexpected " + std::string(message_name(*m)) + " in reply");
      }
    }
  }
  io.queue(Done{});
  if (auto w = io.send(); !w) {
    return tl::unexpected(w.error());
  }
  return out;
}

Result<Outcome> answer_session(Stream& s, const TreeView& tree, const SessionLimits& limits,
                               std::mt19937_64& rng) {
  Outcome out;
  Counted io(s, out);
  std::set<Zp> seen;
  const auto& points = tree.points();
  const auto& cfg = tree.config();
  std::size_t unflushed = 0;  // requests answered since the last Flush
  for (;;) {
    if (io.pending() > limits.max_pending_bytes) {
      return protocol_error("the peer let " + std::to_string(io.pending()) +
                            " octets of answers pile up without a Flush (limit " +
                            std::to_string(limits.max_pending_bytes) + ")");
    }
    auto m = io.read();
    if (!m) {
      return tl::unexpected(m.error());
    }
    if (std::holds_alternative<ReconRqstPoly>(*m) || std::holds_alternative<ReconRqstFull>(*m)) {
      if (++unflushed > limits.max_requests_per_flush) {
        return protocol_error("the peer sent more than " +
                              std::to_string(limits.max_requests_per_flush) +
                              " requests without a Flush");
      }
    }
    if (auto* p = std::get_if<ReconRqstPoly>(&*m)) {
      if (p->samples.size() != points.size()) {
        return protocol_error("ReconRqstPoly with " + std::to_string(p->samples.size()) +
                              " samples, expected " + std::to_string(points.size()));
      }
      KEYDIR_TRY(const TreeNode n, tree.find(p->prefix));
      std::vector<Zp> values(points.size());
      for (std::size_t i = 0; i < points.size(); ++i) {
        values[i] = p->samples[i] / n.svalues[i];
      }
      auto diff = reconcile(values, points,
                            static_cast<int>(std::min<std::uint64_t>(p->size, 1u << 30)) -
                                static_cast<int>(std::min<std::uint64_t>(n.size, 1u << 30)),
                            rng);
      if (diff) {
        add_recover(out, seen, diff->remote_only, limits.max_recover);
        io.queue(Elements{std::move(diff->local_only)});
      } else if (n.leaf || n.size < static_cast<std::uint64_t>(cfg.split_threshold())) {
        KEYDIR_TRY(auto elements, tree.elements_of(n));
        io.queue(FullElements{std::move(elements)});
      } else {
        io.queue(SyncFail{});
      }
    } else if (auto* f = std::get_if<ReconRqstFull>(&*m)) {
      KEYDIR_TRY(const TreeNode n, tree.find(f->prefix));
      if (n.size > limits.max_full_elements) {
        return protocol_error("ReconRqstFull for a node of " + std::to_string(n.size) +
                              " elements (at most " + std::to_string(limits.max_full_elements) +
                              " are sent whole)");
      }
      KEYDIR_TRY(auto local, tree.elements_of(n));
      add_recover(out, seen, minus(f->elements, local), limits.max_recover);
      io.queue(Elements{minus(local, f->elements)});
    } else if (auto* e = std::get_if<Elements>(&*m)) {
      add_recover(out, seen, e->elements, limits.max_recover);
    } else if (std::holds_alternative<Flush>(*m)) {
      unflushed = 0;
      if (auto w = io.send(); !w) {
        return tl::unexpected(w.error());
      }
    } else if (std::holds_alternative<Done>(*m)) {
      return out;
    } else if (auto* err = std::get_if<ErrorMsg>(&*m)) {
      return protocol_error("the peer gave up: " + quoted(err->text, 200));
    } else {
      return protocol_error("unexpected " + std::string(message_name(*m)));
    }
  }
}

}  // namespace keydir::recon
