#include "server/recon_peer.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/byte_reader.hpp"
#include "common/limits.hpp"
#include "common/port.hpp"
#include "common/time_format.hpp"
#include "net/http.hpp"
#include "openpgp/canonical.hpp"
#include "openpgp/certificate.hpp"
#include "openpgp/crypto/primitives.hpp"
#include "recon/adjusted_view.hpp"
#include "recon/ptree.hpp"

namespace keydir::server {
namespace {

using recon::Zp;

class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

Result<int> connect_to(const std::string& host, std::uint16_t port, int timeout_seconds) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    return fail(ErrorCode::ProtocolError, "cannot resolve " + host + ": " + gai_strerror(rc));
  }
  std::string last = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      continue;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, timeout_seconds * 1000) == 1 ? 0 : -1;
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 0 && (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
        errno = err;
        rc = -1;
      }
    }
    if (rc == 0) {
      int flags = ::fcntl(fd, F_GETFL);
      ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
      ::freeaddrinfo(res);
      return fd;
    }
    last = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return fail(ErrorCode::ProtocolError, "cannot connect to " + host + ":" + service + ": " + last);
}

std::set<std::string> resolve_all(const std::string& host) {
  std::set<std::string> out;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) {
    return out;
  }
  for (addrinfo* a = res; a; a = a->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    const void* addr =
        a->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if (::inet_ntop(a->ai_family, addr, buf, sizeof buf)) {
      out.insert(buf);
    }
  }
  ::freeaddrinfo(res);
  return out;
}

std::string peer_name(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  }
  std::string s = buf;
  if (s.starts_with("::ffff:")) {
    s = s.substr(7);
  }
  return s;
}

// POST /pks/hashquery; the certificates in the answer.
Result<std::vector<Bytes>> hashquery(const std::string& host, std::uint16_t port,
                                     const std::vector<Bytes>& hashes, int timeout_seconds) {
  std::string body;
  append_be(body, hashes.size(), 4);
  for (const auto& h : hashes) {
    append_be(body, h.size(), 4);
    body.append(as_chars(h));
  }
  std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string url = "http://" + host_part + ":" + std::to_string(port) + "/pks/hashquery";
  net::HttpOptions http;
  http.connect_timeout = 10;
  http.timeout = timeout_seconds;
  http.max_body =
      limits::kMaxHashqueryAnswerBytes + (64u << 20);  // far past what a sane peer sends
  // What SKS and Hockeypuck send (keydird's HTTP layer takes it too).
  auto r = net::http_post(url, "sks/hashquery", body, http);
  if (r.error != net::NetError::None) {
    return fail(ErrorCode::ProtocolError, "hashquery to " + url + ": " + r.message);
  }
  if (r.status != 200) {
    return fail(ErrorCode::ProtocolError,
                "hashquery to " + url + ": HTTP " + std::to_string(r.status));
  }
  const std::string& answer = r.body;
  ByteReader in(as_bytes(answer), "hashquery answer");
  auto n = in.read_u32();
  if (!n || *n > limits::kMaxHashqueryHashes * 4) {
    return fail(ErrorCode::ProtocolError, "hashquery answer without a sane count");
  }
  std::vector<Bytes> certs;
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto cert = in.read_length_prefixed(4, 1, limits::kMaxImportCertBytes);
    if (!cert) {
      return fail(ErrorCode::ProtocolError, "hashquery answer truncated");
    }
    certs.emplace_back(cert->begin(), cert->end());
  }
  return certs;
}

}  // namespace

std::string ReconPeerAddress::name() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(recon_port);
}

Result<ReconPeerAddress> parse_peer(std::string_view spec) {
  // HOST:RECON[:HKP][ filters=F]; HOST may be [v6].
  std::optional<recon::Filters> filters;
  std::string_view text = spec;
  if (auto sp = spec.find(' '); sp != std::string_view::npos) {
    auto rest = spec.substr(sp + 1);
    while (rest.starts_with(" ")) {
      rest.remove_prefix(1);
    }
    if (!rest.starts_with("filters=")) {
      return fail(ErrorCode::BadQuery,
                  "peer " + std::string(spec) + ": use HOST:RECONPORT:HKPPORT [filters=PROFILE]");
    }
    auto f = recon::parse_filters(rest.substr(8));
    if (!f) {
      return fail(ErrorCode::BadQuery,
                  "peer " + std::string(spec.substr(0, sp)) + ": " + f.error().detail);
    }
    filters = std::move(*f);
    text = spec.substr(0, sp);
  }
  std::string host;
  std::string_view rest;
  if (text.starts_with("[")) {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return fail(ErrorCode::BadQuery, "peer " + std::string(text) + ": unclosed [");
    }
    host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
  } else {
    auto colon = text.find(':');
    host = std::string(text.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  }
  auto number = [](std::string_view s, std::uint16_t& out) {
    auto v = parse_port(s, false);
    if (v) {
      out = *v;
    }
    return v.has_value();
  };
  ReconPeerAddress p;
  p.host = host;
  if (host.empty() || !rest.starts_with(":")) {
    return fail(ErrorCode::BadQuery, "peer " + std::string(text) + ": use HOST:RECONPORT:HKPPORT");
  }
  rest.remove_prefix(1);
  auto colon = rest.find(':');
  if (!number(rest.substr(0, colon), p.recon_port) ||
      (colon != std::string_view::npos && !number(rest.substr(colon + 1), p.hkp_port))) {
    return fail(ErrorCode::BadQuery, "peer " + std::string(text) + ": use HOST:RECONPORT:HKPPORT");
  }
  p.filters = std::move(filters);
  return p;
}

// What we know of one peer: how its rounds went, and the keys it holds in
// a form we store differently.
struct PeerState {
  std::string name;
  recon::Filters filters;
  std::uint64_t rounds = 0;
  std::uint64_t failures = 0;
  std::uint64_t recovered = 0;
  std::uint64_t fetched = 0;
  std::int64_t last_round = 0;    // unix time of the last round that ended
  std::string last_outcome;       // "ok" or "failed"
  std::int64_t last_failure = 0;  // unix time
  std::string last_error;
  bool configured = false;  // a --peer / [[peer]] (only those are kept in the store)
  // The peer's hash → ours, for a key the peer holds in a form our policy
  // does not keep (third-party certifications, a hard-revoked key's user
  // IDs): shown to the peer under its hash while ours is current. One per
  // key of ours (by_ours is the reverse): the peer's newer form replaces
  // its older one.
  std::map<Zp, Zp> aliases;
  std::map<Zp, Zp> by_ours;
  // Hashes fetched from it that we could not map to a key of ours (refused,
  // or answered in another form): not fetched again from this peer.
  std::set<Zp> unconverged;
};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct ReconPeer::Impl {
  service::KeyDirectory& directory;
  storage::KeyStore& store;  // the directory's store: the recon tree and peers' aliases
  ReconOptions options;
  ReconStats stats;

  std::mutex session_mu;  // one reconciliation at a time
  std::mt19937_64 rng{std::random_device{}()};

  mutable std::mutex state_mu;  // peer_state (sessions write, status reads)
  std::map<std::string, PeerState> peer_state;

  int listen_fd = -1;
  std::set<std::string> allowed;
  static constexpr std::size_t kMaxConnections = 8;
  static constexpr std::size_t kMaxInboundStates = 64;
  std::mutex conn_mu;  // the connections being served
  std::condition_variable conn_cv;
  std::set<int> conn_fds;
  std::thread listener;
  std::thread gossiper;
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  std::atomic<bool> stopping{false};

  Impl(service::KeyDirectory& d, storage::KeyStore& s, ReconOptions o)
      : directory(d), store(s), options(std::move(o)) {
    for (const auto& p : options.peers) {
      PeerState st;
      st.name = p.name();
      st.filters = p.filters.value_or(options.filters);
      st.configured = true;
      peer_state.emplace(st.name, std::move(st));
    }
  }

  static Bytes hash16(const Zp& z) {
    Bytes b = z.to_le(recon::kZpBytes);
    b.resize(16);
    return b;
  }

  // `theirs` is the peer's form of our key `ours`; its earlier form of that
  // key is forgotten. The store changes go to `out`.
  static void set_alias(PeerState& st, const Zp& theirs, const Zp& ours,
                        std::vector<storage::KeyStore::AliasChange>& out) {
    if (auto old = st.by_ours.find(ours); old != st.by_ours.end() && old->second != theirs) {
      st.aliases.erase(old->second);
      out.push_back({hash16(old->second), {}});
    }
    if (auto prev = st.aliases.find(theirs); prev != st.aliases.end() && prev->second != ours) {
      st.by_ours.erase(prev->second);
    }
    st.aliases[theirs] = ours;
    st.by_ours[ours] = theirs;
    out.push_back({hash16(theirs), hash16(ours)});
  }

  // Writes alias changes for a configured peer, outside the locks.
  void persist(const std::string& peer, bool configured,
               const std::vector<storage::KeyStore::AliasChange>& changes) {
    if (!configured || changes.empty()) {
      return;
    }
    if (auto w = store.put_recon_aliases(peer, changes); !w) {
      spdlog::warn("recon: {}", w.error().detail);
    }
  }

  // The store's tree as of now (a snapshot).
  Result<std::unique_ptr<recon::TreeView>> tree() const { return store.recon_tree(); }

  // The tree as `peer` is shown it: v5/v6 keys left out when its filters
  // say versions:34, and the keys it holds in another form under its hashes.
  Result<std::unique_ptr<recon::TreeView>> view_for(const std::string& peer) {
    KEYDIR_TRY(auto base, tree());
    std::vector<Zp> remove;
    std::vector<Zp> add;
    bool v34 = false;
    bool configured = false;
    std::vector<storage::KeyStore::AliasChange> gone;
    {
      std::lock_guard lock(state_mu);
      auto it = peer_state.find(peer);
      if (it == peer_state.end()) {
        return base;
      }
      v34 = it->second.filters.v3_v4_only();
      configured = it->second.configured;
      // Aliases whose key of ours changed since are dropped: the peer gets
      // the new form, and we learn its form of that again.
      auto& st = it->second;
      for (auto a = st.aliases.begin(); a != st.aliases.end();) {
        if (!stored(hash16(a->second))) {
          gone.push_back({hash16(a->first), {}});
          st.by_ours.erase(a->second);
          a = st.aliases.erase(a);
          continue;
        }
        remove.push_back(a->second);
        add.push_back(a->first);
        ++a;
      }
    }
    persist(peer, configured, gone);
    if (v34) {
      KEYDIR_TRY(auto hashes, store.sks_hashes_from_version(5));
      for (const auto& h : hashes) {
        remove.push_back(Zp::from_le(h));
      }
    }
    if (remove.empty() && add.empty()) {
      return base;
    }
    KEYDIR_TRY(auto view, recon::AdjustedView::make(std::move(base), remove, add));
    return std::unique_ptr<recon::TreeView>(std::move(view));
  }

  // The aliases kept in the store for the configured peers.
  Result<void> load_aliases() {
    for (auto& entry : peer_state) {
      const std::string& name = entry.first;
      PeerState& st = entry.second;  // (a lambda below uses it: no structured binding)
      std::vector<storage::KeyStore::AliasChange> changes;
      {
        std::lock_guard lock(state_mu);
        const std::size_t max = options.max_aliases_per_peer;
        KEYDIR_CHECK(store.for_each_recon_alias(name, [&](ByteView theirs, ByteView ours) {
          if (theirs.size() == 16 && ours.size() == 16) {
            set_alias(st, Zp::from_le(theirs), Zp::from_le(ours), changes);
          }
          return st.aliases.size() < max;
        }));
        // Only the deletions (older forms of one key) need writing back.
        std::erase_if(changes, [](const auto& c) { return !c.ours.empty(); });
        if (!st.aliases.empty()) {
          spdlog::info("recon: {}: {} keys shown in the peer's form", name, st.aliases.size());
        }
      }
      persist(name, st.configured, changes);
    }
    return {};
  }

  // The elements gauge, from the tree's root.
  Result<void> refresh_elements() {
    KEYDIR_TRY(auto view, tree());
    KEYDIR_TRY(auto root, view->root_node());
    stats.elements = root.size;
    return {};
  }

  bool stored(const Bytes& hash) const {
    storage::Query q{storage::Query::BySksHash{hash}};
    auto found = store.lookup(q, 1);
    return found && !found->empty();
  }

  recon::Config config(const recon::Filters& filters) const {
    recon::Config c;
    c.version = "1.1.6";  // the SKS protocol version peers check (conflux DefaultVersion)
    c.http_port = options.http_port;
    const recon::TreeConfig tree_config;  // the store's tree has the defaults
    c.bit_quantum = static_cast<std::uint32_t>(tree_config.bit_quantum);
    c.mbar = static_cast<std::uint32_t>(tree_config.mbar);
    c.filters = filters.announced();
    return c;
  }

  // The state of a peer that connected from `remote` with Config `theirs`:
  // the configured peer at that address whose HKP port it announced (or the
  // only one there, if it announced none), else one kept by address
  // (bounded, not written to the store). Several peers may share an address
  // (one host, several servers); their HKP ports tell them apart.
  std::string inbound_peer(const std::string& remote, const recon::Config& theirs) {
    std::vector<const ReconPeerAddress*> here;
    for (const auto& p : options.peers) {
      if (resolve_all(p.host).count(remote)) {
        here.push_back(&p);
      }
    }
    for (const auto* p : here) {
      if (theirs.http_port != 0 && p->hkp_port == theirs.http_port) {
        return p->name();
      }
    }
    if (theirs.http_port == 0 && here.size() == 1) {
      return here.front()->name();
    }
    std::lock_guard lock(state_mu);
    if (!peer_state.count(remote) && peer_state.size() < options.peers.size() + kMaxInboundStates) {
      PeerState st;
      st.name = remote;
      st.filters = options.filters;
      peer_state.emplace(remote, std::move(st));
    }
    return remote;
  }

  recon::Filters filters_of(const std::string& peer) const {
    std::lock_guard lock(state_mu);
    auto it = peer_state.find(peer);
    return it == peer_state.end() ? options.filters : it->second.filters;
  }

  void record_failure(const std::string& peer, const std::string& why) {
    ++stats.failures;
    std::lock_guard lock(state_mu);
    auto it = peer_state.find(peer);
    if (it == peer_state.end()) {
      return;
    }
    ++it->second.failures;
    it->second.last_outcome = "failed";
    it->second.last_failure = it->second.last_round = unix_now();
    std::string text = why.substr(0, 1024);
    for (char& c : text) {  // peers' words, printed on a terminal by `recon status`
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) {
        c = '?';
      }
    }
    it->second.last_error = std::move(text);
  }

  // The SKS hash of a certificate as the peer sent it.
  static std::optional<Zp> sent_hash(const Bytes& cert) {
    auto parsed = openpgp::parse_certificates(cert);
    if (!parsed || parsed->size() != 1 || !parsed->front().cert) {
      return std::nullopt;
    }
    Bytes h = openpgp::sks_digest(*parsed->front().cert);
    return Zp::from_le(h);
  }

  // Fetches `elements` from host:port and uploads them. Returns how many
  // certificates were new or updated here.
  std::uint64_t recover(const std::string& peer, const std::string& host, std::uint16_t port,
                        const std::vector<Zp>& elements) {
    std::vector<Bytes> wanted;
    {
      std::lock_guard lock(state_mu);
      auto st = peer_state.find(peer);
      for (const Zp& z : elements) {
        Bytes le = z.to_le(recon::kZpBytes);
        if (le[16] != 0 || (st != peer_state.end() &&
                            (st->second.unconverged.count(z) || st->second.aliases.count(z)))) {
          continue;  // not a 128-bit hash, or known not to converge
        }
        le.resize(16);
        wanted.push_back(std::move(le));
      }
    }
    std::uint64_t changed = 0;
    std::uint64_t fetched = 0;
    for (std::size_t i = 0; i < wanted.size(); i += options.hashquery_batch) {
      std::vector<Bytes> batch(wanted.begin() + static_cast<std::ptrdiff_t>(i),
                               wanted.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                    wanted.size(), i + options.hashquery_batch)));
      auto certs = hashquery(host, port, batch, options.io_timeout_seconds);
      if (!certs) {
        spdlog::warn("recon: {}", certs.error().detail);
        record_failure(peer, certs.error().detail);
        break;
      }
      fetched += certs->size();
      if (certs->size() < batch.size()) {
        stats.fetch_missing += batch.size() - certs->size();
      }
      std::set<Zp> asked;
      for (const auto& h : batch) {
        asked.insert(Zp::from_le(h));
      }
      std::map<Zp, openpgp::Fingerprint> answered;  // asked hash → the key it stored as
      for (const auto& cert : *certs) {
        auto report = directory.upload(cert);
        if (!report) {
          continue;
        }
        for (const auto& s : report->stored) {
          if (s.outcome != service::Outcome::Unchanged) {
            ++changed;
          }
        }
        auto h = sent_hash(cert);
        if (h && asked.count(*h) && report->stored.size() == 1) {
          answered.emplace(*h, report->stored.front().fingerprint);
        }
      }
      // Hashes still missing after the upload: stored here in another form
      // (stripped, or merged with what we had). The peer keeps its form and
      // would fetch ours every round: from now on it is shown its own hash
      // for that key, as long as our form stays the same.
      std::vector<storage::KeyStore::AliasChange> changes;
      bool configured = false;
      std::unique_lock lock(state_mu);
      auto st = peer_state.find(peer);
      if (st == peer_state.end()) {
        continue;
      }
      configured = st->second.configured;
      for (const auto& h : batch) {
        Zp z = Zp::from_le(h);
        if (stored(h)) {
          continue;
        }
        auto a = answered.find(z);
        std::optional<storage::CertRecord> rec;
        if (a != answered.end()) {
          if (auto r = store.get(a->second); r && *r) {
            rec = std::move(**r);
          }
        }
        if (rec && st->second.aliases.size() < options.max_aliases_per_peer) {
          set_alias(st->second, z, Zp::from_le(rec->index.sks_hash), changes);
          ++stats.unconverged;
        } else if (certs->size() >= batch.size() &&
                   st->second.unconverged.size() < options.max_aliases_per_peer) {
          st->second.unconverged.insert(z);
          ++stats.unconverged;
        }
      }
      lock.unlock();
      persist(peer, configured, changes);
    }
    stats.recovered += changed;
    std::lock_guard lock(state_mu);
    if (auto st = peer_state.find(peer); st != peer_state.end()) {
      st->second.recovered += changed;
      st->second.fetched += fetched;
    }
    return changed;
  }

  void finish_round(const std::string& peer, const std::string& host, std::uint16_t hkp_port,
                    const recon::Outcome& out, std::chrono::steady_clock::time_point t0,
                    const char* role) {
    stats.bytes_in += out.bytes_in;
    stats.bytes_out += out.bytes_out;
    const auto failures_before = stats.failures.load();
    auto n = recover(peer, host, hkp_port, out.recover);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    stats.last_round_ms = static_cast<std::uint64_t>(ms);
    ++stats.rounds;
    {
      std::lock_guard lock(state_mu);
      if (auto st = peer_state.find(peer); st != peer_state.end()) {
        ++st->second.rounds;
        st->second.last_round = unix_now();
        if (stats.failures.load() == failures_before) {
          st->second.last_outcome = "ok";
        }
      }
    }
    spdlog::info("recon {} with {}: {} elements to fetch, {} certificates new or updated, {} ms",
                 role, peer, out.recover.size(), n, ms);
  }

  // The caller closes `fd`.
  void serve_connection(int fd, const std::string& remote) {
    recon::SocketStream stream(fd, options.io_timeout_seconds);
    std::string peer = remote;
    auto choose = [&](const recon::Config& theirs) {
      peer = inbound_peer(remote, theirs);
      return config(filters_of(peer));
    };
    std::unique_lock session(session_mu, std::try_to_lock);
    if (!session.owns_lock()) {
      ++stats.busy;
      (void)recon::answer_config(stream, choose, "sync not available, currently busy");
      return;
    }
    auto t0 = std::chrono::steady_clock::now();
    auto remote_config = recon::answer_config(stream, choose);
    if (!remote_config) {
      spdlog::warn("recon with {}: {}", peer, remote_config.error().detail);
      record_failure(peer, remote_config.error().detail);
      return;
    }
    auto view = view_for(peer);
    if (!view) {
      spdlog::error("recon: cannot read the store: {}", view.error().detail);
      record_failure(peer, "cannot read the store");
      return;
    }
    auto out = recon::serve_session(stream, **view, options.limits);
    if (!out) {
      spdlog::warn("recon with {}: {}", peer, out.error().detail);
      record_failure(peer, out.error().detail);
      return;
    }
    ::shutdown(fd, SHUT_RDWR);
    // A configured peer is asked on its configured HKP port, whatever the
    // connecting side announced: another process at the peer's address
    // (loopback, NAT) must not get its forms recorded as that peer's.
    // Others are asked where they announced (as conflux does).
    auto hkp_port = static_cast<std::uint16_t>(remote_config->http_port);
    for (const auto& p : options.peers) {
      if (p.name() == peer) {
        hkp_port = p.hkp_port;
      }
    }
    finish_round(peer, remote, hkp_port == 0 ? 11371 : hkp_port, *out, t0, "served");
  }

  void listen_loop() {
    while (!stopping) {
      pollfd p{listen_fd, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) {
        continue;
      }
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
      if (fd < 0) {
        continue;
      }
      std::string remote = peer_name(ss);
      if (!allowed.count(remote)) {
        spdlog::warn("recon: connection from {} refused (not a configured peer)", remote);
        ::close(fd);
        continue;
      }
      // One round at a time: a second peer gets "busy" from its own thread.
      // At most kMaxConnections threads; more connections are closed.
      {
        std::lock_guard lock(conn_mu);
        if (conn_fds.size() >= kMaxConnections) {
          ::close(fd);
          continue;
        }
        conn_fds.insert(fd);
      }
      std::thread([this, fd, remote] {
        serve_connection(fd, remote);
        std::lock_guard lock(conn_mu);
        conn_fds.erase(fd);
        ::close(fd);  // under the lock: stop() never shuts down a reused number
        conn_cv.notify_all();
      }).detach();
    }
  }

  void gossip_loop() {
    std::uniform_real_distribution<double> skew(0.9, 1.1);
    while (!stopping) {
      auto wait = std::chrono::milliseconds(
          static_cast<std::int64_t>(options.gossip_interval_seconds * 1000 * skew(rng)));
      {
        std::unique_lock lock(stop_mu);
        if (stop_cv.wait_for(lock, wait, [this] { return stopping.load(); })) {
          return;
        }
      }
      if (options.peers.empty()) {
        continue;
      }
      std::uniform_int_distribution<std::size_t> pick(0, options.peers.size() - 1);
      const auto& peer = options.peers[pick(rng)];
      auto r = gossip(peer);
      if (!r) {
        spdlog::warn("recon gossip with {}: {}", peer.name(), r.error().detail);
      }
    }
  }

  Result<std::uint64_t> gossip(const ReconPeerAddress& peer) {
    const std::string name = peer.name();
    std::unique_lock session(session_mu, std::try_to_lock);
    if (!session.owns_lock()) {
      ++stats.busy;
      return fail(ErrorCode::ProtocolError, "busy with another reconciliation");
    }
    auto t0 = std::chrono::steady_clock::now();
    auto failed = [&](const Error& e) -> Result<std::uint64_t> {
      record_failure(name, e.detail);
      return tl::unexpected(e);
    };
    auto fd = connect_to(peer.host, peer.recon_port, 10);
    if (!fd) {
      return failed(fd.error());
    }
    FdGuard guard(*fd);
    recon::SocketStream stream(*fd, options.io_timeout_seconds);
    auto remote_config = recon::exchange_config(stream, config(filters_of(name)));
    if (!remote_config) {
      return failed(remote_config.error());
    }
    auto view = view_for(name);
    if (!view) {
      return failed(view.error());
    }
    auto out = recon::answer_session(stream, **view, options.limits, rng);
    if (!out) {
      return failed(out.error());
    }
    ::shutdown(*fd, SHUT_RDWR);
    auto before = stats.recovered.load();
    finish_round(name, peer.host, peer.hkp_port, *out, t0, "gossip");
    return stats.recovered.load() - before;
  }

  std::string status(bool as_json) const {
    std::lock_guard lock(state_mu);
    if (as_json) {
      auto arr = nlohmann::json::array();
      for (const auto& [name, st] : peer_state) {
        auto time = [](std::int64_t t) {
          return t ? nlohmann::json(utc_timestamp(static_cast<std::uint64_t>(t)))
                   : nlohmann::json();
        };
        arr.push_back({{"peer", name},
                       {"filters", st.filters.announced()},
                       {"rounds", st.rounds},
                       {"failures", st.failures},
                       {"last_round", time(st.last_round)},
                       {"last_outcome", st.last_outcome.empty() ? nlohmann::json()
                                                                : nlohmann::json(st.last_outcome)},
                       {"last_failure", time(st.last_failure)},
                       {"last_error",
                        st.last_error.empty() ? nlohmann::json() : nlohmann::json(st.last_error)},
                       {"keys_fetched", st.fetched},
                       {"keys_new_or_updated", st.recovered},
                       {"shown_in_peer_form", st.aliases.size()},
                       {"not_fetched_again", st.unconverged.size()}});
      }
      return arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    std::string out;
    for (const auto& [name, st] : peer_state) {
      out += "peer          " + name + "\n";
      out += "  filters     " + st.filters.announced() + "\n";
      out += "  rounds      " + std::to_string(st.rounds) + " (" + std::to_string(st.failures) +
             " failed)\n";
      out += "  last round  " +
             (st.last_round
                  ? utc_timestamp(static_cast<std::uint64_t>(st.last_round)) + " " + st.last_outcome
                  : std::string("none yet")) +
             "\n";
      if (st.last_failure) {
        out += "  last failure " + utc_timestamp(static_cast<std::uint64_t>(st.last_failure)) +
               ": " + st.last_error + "\n";
      }
      out += "  keys        " + std::to_string(st.fetched) + " fetched, " +
             std::to_string(st.recovered) + " new or updated here, " +
             std::to_string(st.aliases.size()) + " shown in the peer's form, " +
             std::to_string(st.unconverged.size()) + " not fetched again\n";
    }
    return out;
  }
};

ReconPeer::ReconPeer(service::KeyDirectory& directory, storage::KeyStore& store,
                     ReconOptions options)
    : impl_(std::make_unique<Impl>(directory, store, std::move(options))) {}

ReconPeer::~ReconPeer() {
  stop();
}

Result<std::uint16_t> ReconPeer::start() {
  if (auto s = impl_->refresh_elements(); !s) {
    return tl::unexpected(s.error());
  }
  if (auto s = impl_->load_aliases(); !s) {
    return tl::unexpected(s.error());
  }
  spdlog::info("recon: prefix tree of {} elements", impl_->stats.elements.load());
  impl_->allowed = {"127.0.0.1", "::1"};
  for (const auto& p : impl_->options.peers) {
    auto addrs = resolve_all(p.host);
    impl_->allowed.insert(addrs.begin(), addrs.end());
  }
  for (const auto& a : impl_->options.allow) {
    impl_->allowed.insert(a);
  }
  std::uint16_t port = 0;
  if (impl_->options.listen) {
    auto fd = [&]() -> Result<int> {
      addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
      addrinfo* res = nullptr;
      std::string service = std::to_string(impl_->options.listen_port);
      if (::getaddrinfo(impl_->options.listen_host.c_str(), service.c_str(), &hints, &res) != 0) {
        return fail(ErrorCode::BadQuery,
                    "recon: cannot parse the listen address " + impl_->options.listen_host);
      }
      int s = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (s < 0 || ::bind(s, res->ai_addr, res->ai_addrlen) != 0 || ::listen(s, 16) != 0) {
        std::string why = std::strerror(errno);
        ::freeaddrinfo(res);
        if (s >= 0) {
          ::close(s);
        }
        return fail(ErrorCode::Internal, "recon: cannot listen on " + impl_->options.listen_host +
                                             ":" + service + ": " + why);
      }
      ::freeaddrinfo(res);
      return s;
    }();
    if (!fd) {
      return tl::unexpected(fd.error());
    }
    impl_->listen_fd = *fd;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(*fd, reinterpret_cast<sockaddr*>(&ss), &len);
    port = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    impl_->listener = std::thread(&Impl::listen_loop, impl_.get());
  }
  if (impl_->options.gossip_interval_seconds > 0 && !impl_->options.peers.empty()) {
    impl_->gossiper = std::thread(&Impl::gossip_loop, impl_.get());
  }
  return port;
}

void ReconPeer::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) {
    return;
  }
  impl_->stop_cv.notify_all();
  if (impl_->listener.joinable()) {
    impl_->listener.join();
  }
  if (impl_->gossiper.joinable()) {
    impl_->gossiper.join();
  }
  if (impl_->listen_fd >= 0) {
    ::close(impl_->listen_fd);
  }
  // Connections being served end now (their reads and writes fail), and
  // the directory must outlive their threads: wait for them.
  std::unique_lock lock(impl_->conn_mu);
  for (int fd : impl_->conn_fds) {
    ::shutdown(fd, SHUT_RDWR);
  }
  impl_->conn_cv.wait(lock, [this] { return impl_->conn_fds.empty(); });
  lock.unlock();
  std::lock_guard wait(impl_->session_mu);
}

Result<std::uint64_t> ReconPeer::gossip_once(const ReconPeerAddress& peer) {
  return impl_->gossip(peer);
}

const ReconStats& ReconPeer::stats() const {
  return impl_->stats;
}

Result<ReconPeer::TreeSummary> summarize(const recon::TreeView& tree) {
  ReconPeer::TreeSummary s;
  KEYDIR_TRY(auto root, tree.root_node());
  s.elements = root.size;
  Bytes all;
  for (const auto& v : root.svalues) {
    append(all, v.to_le(recon::kZpBytes));
  }
  s.root_digest = to_hex(ByteView(openpgp::crypto::sha256(all)).first(8));
  std::vector<recon::TreeNode> stack{std::move(root)};
  while (!stack.empty()) {
    auto n = std::move(stack.back());
    stack.pop_back();
    ++s.nodes;
    s.depth = std::max(s.depth, n.depth);
    if (n.leaf) {
      ++s.leaves;
      continue;
    }
    KEYDIR_TRY(auto children, tree.children_of(n));
    for (auto& c : children) {
      stack.push_back(std::move(c));
    }
  }
  return s;
}

Result<ReconPeer::TreeSummary> ReconPeer::summary() const {
  KEYDIR_TRY(auto view, impl_->tree());
  return summarize(*view);
}

std::string ReconPeer::peer_status(bool as_json) const {
  return impl_->status(as_json);
}

std::string ReconPeer::metrics() const {
  (void)impl_->refresh_elements();  // as the store has it now: one read
  const auto& s = impl_->stats;
  std::string out;
  auto line = [&out](const char* name, const char* help, const char* type, std::uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(v) + "\n";
  };
  line("keydir_recon_rounds_total", "Reconciliation rounds completed.", "counter", s.rounds);
  line("keydir_recon_failures_total", "Reconciliation rounds or fetches that failed.", "counter",
       s.failures);
  line("keydir_recon_busy_total", "Rounds refused because another was running.", "counter", s.busy);
  line("keydir_recon_recovered_total", "Certificates new or updated from peers.", "counter",
       s.recovered);
  line("keydir_recon_unconverged_total",
       "Peer hashes fetched that this server stores differently (stripped).", "counter",
       s.unconverged);
  line("keydir_recon_bytes_total", "Recon protocol bytes sent and received.", "counter",
       s.bytes_in + s.bytes_out);
  line("keydir_recon_last_round_milliseconds", "Duration of the last round, fetches included.",
       "gauge", s.last_round_ms);
  line("keydir_recon_elements", "SKS key hashes in the prefix tree.", "gauge", s.elements);
  return out;
}

}  // namespace keydir::server
