// The SKS reconciliation core: field, polynomials, prefix tree, messages and
// both session roles. Reference values were computed independently with
// Python's integers from the definitions in conflux (hockeypuck) and SKS:
// p, the sample points 0, -1, 1, -2, 2, -3, elements as little-endian
// integers, and the Config layout of recon/messages.go.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include "common/bytes.hpp"
#include "recon/adjusted_view.hpp"
#include "recon/filters.hpp"
#include "recon/messages.hpp"
#include "recon/poly.hpp"
#include "recon/ptree.hpp"
#include "recon/session.hpp"
#include "recon/zp.hpp"

namespace keydir::recon {
namespace {

Zp hash_element(std::string_view hex) {
  return Zp::from_le(*from_hex(hex));
}

Zp random_hash(std::mt19937_64& rng) {
  return random_element(rng);
}

TEST(Zp, ModulusAndSmallValues) {
  EXPECT_EQ(Zp::of_int(-1).to_string(), "530512889551602322505127520352579437338");
  EXPECT_EQ(Zp::from_decimal("530512889551602322505127520352579437339").to_string(), "0");
  EXPECT_EQ((Zp::of_int(7) * Zp::of_int(6)).to_string(), "42");
  EXPECT_EQ((Zp::of_int(3) - Zp::of_int(5)).to_string(), "530512889551602322505127520352579437337");
  EXPECT_EQ(Zp::of_int(123456789).inverse().to_string(), "143611309763929280716526652230503405454");
  EXPECT_EQ((Zp::of_int(123456789) / Zp::of_int(123456789)).to_string(), "1");
}

TEST(Zp, MultipliesHashesLikeTheReference) {
  // md5("a") and md5("b") as little-endian integers, times each other mod p.
  auto a = hash_element("0cc175b9c0f1b6a831c399e269772661");
  auto b = hash_element("92eb5ffee6ae2fec3ad71c777531578f");
  EXPECT_EQ((a * b).to_string(), "473718540285360453318924480015087368002");
}

TEST(Zp, LittleEndianRoundTripAndReduction) {
  auto bytes = *from_hex("21f402f25b1a0fd722b83169e10509f8");
  auto z = Zp::from_le(bytes);
  auto le = z.to_le(17);
  EXPECT_EQ(to_hex(ByteView(le).first(16)), "21F402F25B1A0FD722B83169E10509F8");
  EXPECT_EQ(le[16], 0);
  // 17 octets of 0xff (above p) reduce.
  Bytes big(17, 0xff);
  auto r = Zp::from_le(big);
  EXPECT_EQ(r.to_string(), Zp::from_decimal("108172045297465755782986164709634409139").to_string());
}

TEST(Zp, FieldLawsOnRandomValues) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 500; ++i) {
    Zp a = random_hash(rng), b = random_hash(rng), c = random_hash(rng);
    ASSERT_EQ(a * (b + c), a * b + a * c);
    ASSERT_EQ((a - b) + b, a);
    if (!a.is_zero()) {
      ASSERT_EQ(a * a.inverse(), Zp::of_int(1));
    }
    ASSERT_EQ(Zp::from_decimal(a.to_string()), a);
  }
}

TEST(Poly, RootsOfAProductOfLinearFactors) {
  std::mt19937_64 rng(1);
  Poly f = Poly({Zp::of_int(-3), Zp::of_int(1)}) * Poly({Zp::of_int(-5), Zp::of_int(1)}) *
           Poly({Zp::of_int(-7), Zp::of_int(1)});
  auto r = roots(f, rng);
  ASSERT_TRUE(r);
  std::set<std::string> got;
  for (const auto& z : *r) {
    got.insert(z.to_string());
  }
  EXPECT_EQ(got, (std::set<std::string>{"3", "5", "7"}));
  // A repeated root is not a set.
  EXPECT_FALSE(
      roots(Poly({Zp::of_int(-3), Zp::of_int(1)}) * Poly({Zp::of_int(-3), Zp::of_int(1)}), rng));
  // x^2 + 1 has no roots when -1 is not a square (p = 3 mod 4).
  EXPECT_FALSE(roots(Poly({Zp::of_int(1), Zp(), Zp::of_int(1)}), rng));
}

TEST(Poly, DivisionAndGcd) {
  Poly a = Poly({Zp::of_int(-1), Zp::of_int(1)}) * Poly({Zp::of_int(2), Zp::of_int(1)});
  Poly b = Poly({Zp::of_int(-1), Zp::of_int(1)}) * Poly({Zp::of_int(9), Zp::of_int(1)});
  EXPECT_EQ(Poly::gcd(a, b), Poly({Zp::of_int(-1), Zp::of_int(1)}));
  auto [q, r] = Poly::divmod(a, Poly({Zp::of_int(2), Zp::of_int(1)}));
  EXPECT_TRUE(r.is_zero());
  EXPECT_EQ(q, Poly({Zp::of_int(-1), Zp::of_int(1)}));
}

TEST(PrefixTree, SampleValuesMatchTheReference) {
  PrefixTree t;
  for (auto h : {"21f402f25b1a0fd722b83169e10509f8", "c2add694bf942dc77b376592d9c862cd",
                 "78f825aaa0103319aaa1a30bf4fe3ada"}) {
    ASSERT_TRUE(t.insert(hash_element(h)));
  }
  const char* expected[] = {
      "307866947984343671006382024821059421518", "188207924624500852723144454083629641575",
      "233508483576334017716407685574888861648", "405044303048407885371822493715178959152",
      "495645420952074215358348956697697399310", "427863193704462446447288623363127936904"};
  ASSERT_EQ(t.root().svalues.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(t.root().svalues[static_cast<std::size_t>(i)].to_string(), expected[i]) << i;
  }
  EXPECT_FALSE(t.insert(hash_element("21f402f25b1a0fd722b83169e10509f8")));  // duplicate
}

// Every node's values are the product over the elements below it, and its
// size their count, whatever splits and joins happened.
void check_tree(const PrefixTree& t) {
  std::vector<const PrefixTree::Node*> stack{&t.root()};
  while (!stack.empty()) {
    const auto* n = stack.back();
    stack.pop_back();
    auto els = n->all_elements();
    ASSERT_EQ(els.size(), n->size);
    for (std::size_t i = 0; i < t.points().size(); ++i) {
      Zp prod = Zp::of_int(1);
      for (const auto& e : els) {
        prod = prod * (t.points()[i] - e);
      }
      ASSERT_EQ(prod, n->svalues[i]);
    }
    auto key = n->key(t.config().bit_quantum);
    for (const auto& e : els) {
      auto bits = Bitstring::of(e);
      for (int b = 0; b < key.size(); ++b) {
        ASSERT_EQ(bits.get(b), key.get(b));
      }
    }
    if (n->is_leaf()) {
      ASSERT_LE(n->elements.size(), static_cast<std::size_t>(t.config().split_threshold() + 1));
    }
    for (const auto& c : n->children) {
      stack.push_back(c.get());
    }
  }
}

TEST(PrefixTree, SplitsAndJoinsKeepEveryNodeConsistent) {
  std::mt19937_64 rng(3);
  PrefixTree t;
  std::vector<Zp> all;
  for (int i = 0; i < 3000; ++i) {
    all.push_back(random_hash(rng));
    ASSERT_TRUE(t.insert(all.back()));
  }
  EXPECT_EQ(t.size(), 3000u);
  EXPECT_FALSE(t.root().is_leaf());
  check_tree(t);
  for (int i = 0; i < 2990; ++i) {
    ASSERT_TRUE(t.remove(all[static_cast<std::size_t>(i)]));
  }
  EXPECT_FALSE(t.remove(all[0]));
  EXPECT_EQ(t.size(), 10u);
  EXPECT_TRUE(t.root().is_leaf());
  check_tree(t);
  EXPECT_TRUE(t.contains(all[2995]));
  EXPECT_FALSE(t.contains(all[5]));
}

TEST(PrefixTree, AnElementsBitsStartWithItsFirstOctet) {
  auto b = Bitstring::of(hash_element("c0ffee00000000000000000000000000"));
  EXPECT_EQ(b.size(), 129);
  EXPECT_EQ(b.to_string().substr(0, 12), "110000001111");
}

TEST(Reconcile, RecoversBothSidesOfASmallDifference) {
  std::mt19937_64 rng(11);
  PrefixTree a, b;
  std::vector<Zp> a_only, b_only;
  for (int i = 0; i < 30; ++i) {
    Zp z = random_hash(rng);
    ASSERT_TRUE(a.insert(z));
    ASSERT_TRUE(b.insert(z));
  }
  for (int i = 0; i < 2; ++i) {
    a_only.push_back(random_hash(rng));
    ASSERT_TRUE(a.insert(a_only.back()));
  }
  b_only.push_back(random_hash(rng));
  ASSERT_TRUE(b.insert(b_only.back()));
  std::vector<Zp> values;
  for (std::size_t i = 0; i < a.points().size(); ++i) {
    values.push_back(a.root().svalues[i] / b.root().svalues[i]);
  }
  auto d =
      reconcile(values, a.points(), static_cast<int>(a.size()) - static_cast<int>(b.size()), rng);
  ASSERT_TRUE(d);
  std::sort(d->remote_only.begin(), d->remote_only.end());
  std::sort(a_only.begin(), a_only.end());
  EXPECT_EQ(d->remote_only, a_only);
  EXPECT_EQ(d->local_only, b_only);
  // Too large a difference for five samples: refused, not wrong.
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(a.insert(random_hash(rng)));
  }
  values.clear();
  for (std::size_t i = 0; i < a.points().size(); ++i) {
    values.push_back(a.root().svalues[i] / b.root().svalues[i]);
  }
  EXPECT_FALSE(
      reconcile(values, a.points(), static_cast<int>(a.size()) - static_cast<int>(b.size()), rng));
}

TEST(Messages, ConfigHasTheConfluxLayout) {
  Config c;
  c.version = "1.1.6";
  c.http_port = 11371;
  c.bit_quantum = 2;
  c.mbar = 5;
  c.filters = "yminsky.dedup,yminsky.merge";
  EXPECT_EQ(to_hex(encode(c)),
            "0000007E0A000000050000000776657273696F6E00000005312E312E36000000096874747020706F"
            "72740000000400002C6B0000000A6269747175616E74756D0000000400000002000000046D626172"
            "00000004000000050000000766696C746572730000001B796D696E736B792E64656475702C796D69"
            "6E736B792E6D65726765");
}

TEST(Messages, EveryTypeRoundTrips) {
  std::mt19937_64 rng(5);
  Bitstring prefix(6);
  prefix.set(0, 1);
  prefix.set(5, 1);
  std::vector<Message> all = {
      ReconRqstPoly{prefix, 1234, {random_hash(rng), random_hash(rng)}},
      ReconRqstFull{prefix, {random_hash(rng)}},
      Elements{{random_hash(rng), random_hash(rng), random_hash(rng)}},
      FullElements{{}},
      SyncFail{},
      Done{},
      Flush{},
      ErrorMsg{"oops"},
      Config{"1.1.6", 11371, 2, 5, "yminsky.dedup", {{"x", "y"}}},
  };
  for (const auto& m : all) {
    Bytes frame = encode(m);
    auto back = decode(ByteView(frame).subspan(4));
    ASSERT_TRUE(back) << message_name(m);
    EXPECT_EQ(encode(*back), frame) << message_name(m);
  }
}

TEST(Messages, MalformedInputIsAProtocolError) {
  Bytes frame = encode(Elements{{Zp::of_int(5), Zp::of_int(6)}});
  for (std::size_t cut = 5; cut < frame.size(); ++cut) {
    auto r = decode(ByteView(frame).subspan(4, cut - 4));
    ASSERT_FALSE(r) << cut;
    EXPECT_EQ(r.error().code, ErrorCode::ProtocolError);
  }
  Bytes huge = {2, 0xff, 0xff, 0xff, 0xff};  // 4 billion elements promised
  EXPECT_FALSE(decode(huge));
  Bytes unknown = {42};
  EXPECT_FALSE(decode(unknown));
  Bytes long_prefix = {1, 0, 0, 0x10, 0, 0, 0, 0x02, 0};  // 4096 bits
  EXPECT_FALSE(decode(long_prefix));
}

using FdStream = SocketStream;

struct Run {
  Result<Outcome> served = fail(ErrorCode::Internal, "not run");
  Result<Outcome> answered = fail(ErrorCode::Internal, "not run");
};

Run reconcile_over_socket(const PrefixTree& server, const PrefixTree& client,
                          SessionLimits limits = {}) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  Run run;
  Config cfg{"1.1.6", 11371, 2, 5, "yminsky.dedup,yminsky.merge", {}};
  std::thread t([&] {
    FdStream s(fds[0]);
    if (exchange_config(s, cfg)) {
      run.served = serve_session(s, server, limits);
    }
    ::shutdown(fds[0], SHUT_RDWR);
  });
  {
    FdStream s(fds[1]);
    std::mt19937_64 rng(9);
    if (exchange_config(s, cfg)) {
      run.answered = answer_session(s, client, limits, rng);
    }
  }
  t.join();
  ::close(fds[0]);
  ::close(fds[1]);
  return run;
}

std::set<Zp> as_set(const std::vector<Zp>& v) {
  return {v.begin(), v.end()};
}

TEST(Session, BothSidesLearnExactlyWhatTheyLack) {
  std::mt19937_64 rng(21);
  PrefixTree server, client;
  std::set<Zp> server_only, client_only;
  for (int i = 0; i < 5000; ++i) {
    Zp z = random_hash(rng);
    ASSERT_TRUE(server.insert(z));
    ASSERT_TRUE(client.insert(z));
  }
  for (int i = 0; i < 150; ++i) {
    Zp z = random_hash(rng);
    ASSERT_TRUE(server.insert(z));
    server_only.insert(z);
  }
  for (int i = 0; i < 70; ++i) {
    Zp z = random_hash(rng);
    ASSERT_TRUE(client.insert(z));
    client_only.insert(z);
  }
  auto run = reconcile_over_socket(server, client);
  ASSERT_TRUE(run.served) << run.served.error().detail;
  ASSERT_TRUE(run.answered) << run.answered.error().detail;
  EXPECT_EQ(as_set(run.served->recover), client_only);
  EXPECT_EQ(as_set(run.answered->recover), server_only);
}

TEST(Session, ASmallDifferenceCostsFarLessThanTheSet) {
  std::mt19937_64 rng(23);
  PrefixTree server, client;
  for (int i = 0; i < 20000; ++i) {
    Zp z = random_hash(rng);
    ASSERT_TRUE(server.insert(z));
    ASSERT_TRUE(client.insert(z));
  }
  std::set<Zp> server_only;
  for (int i = 0; i < 10; ++i) {
    Zp z = random_hash(rng);
    ASSERT_TRUE(server.insert(z));
    server_only.insert(z);
  }
  auto run = reconcile_over_socket(server, client);
  ASSERT_TRUE(run.served);
  ASSERT_TRUE(run.answered);
  EXPECT_EQ(as_set(run.answered->recover), server_only);
  // What one side sent is what the other received.
  EXPECT_EQ(run.served->bytes_out, run.answered->bytes_in);
  EXPECT_EQ(run.answered->bytes_out, run.served->bytes_in);
  const std::uint64_t both_ways = run.served->bytes_out + run.answered->bytes_out;
  EXPECT_LT(both_ways, 20000u * 17u / 10u) << both_ways;
}

TEST(Session, AnEmptySideRecoversEverythingUpToTheLimit) {
  std::mt19937_64 rng(22);
  PrefixTree server, client;
  for (int i = 0; i < 800; ++i) {
    ASSERT_TRUE(server.insert(random_hash(rng)));
  }
  SessionLimits limits;
  limits.max_recover = 500;
  auto run = reconcile_over_socket(server, client, limits);
  ASSERT_TRUE(run.served);
  ASSERT_TRUE(run.answered);
  EXPECT_TRUE(run.served->recover.empty());
  EXPECT_EQ(run.answered->recover.size(), 500u);
  for (const auto& z : run.answered->recover) {
    EXPECT_TRUE(server.contains(z));
  }
}

// A hostile asker: ReconRqstFull for the root, `count` times, never a Flush.
// Returns what answer_session made of it and how many requests got out.
std::pair<Result<Outcome>, int> never_flush(const PrefixTree& tree, const SessionLimits& limits,
                                            int count) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  int sent = 0;
  std::thread asker([&] {
    FdStream s(fds[0]);
    const Bytes rq = encode(ReconRqstFull{Bitstring(), {}});
    for (; sent < count; ++sent) {
      if (!s.write_all(rq)) {
        break;
      }
    }
    ::shutdown(fds[0], SHUT_RDWR);
  });
  Result<Outcome> out = fail(ErrorCode::Internal, "not run");
  {
    FdStream s(fds[1]);
    std::mt19937_64 rng(5);
    out = answer_session(s, tree, limits, rng);
    ::shutdown(fds[1], SHUT_RDWR);  // the asker's next write fails
  }
  asker.join();
  ::close(fds[0]);
  ::close(fds[1]);
  return {std::move(out), sent};
}

TEST(Session, RequestsWithoutFlushEndTheSession) {
  std::mt19937_64 rng(31);
  PrefixTree tree;
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(tree.insert(random_hash(rng)));
  }
  SessionLimits limits;
  limits.max_requests_per_flush = 200;
  auto [out, sent] = never_flush(tree, limits, 100000);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, ErrorCode::ProtocolError);
  EXPECT_NE(out.error().detail.find("more than 200 requests without a Flush"), std::string::npos)
      << out.error().detail;
  EXPECT_LT(sent, 100000);
}

TEST(Session, AnswersPilingUpWithoutFlushEndTheSession) {
  std::mt19937_64 rng(32);
  PrefixTree tree;
  for (int i = 0; i < 800; ++i) {
    ASSERT_TRUE(tree.insert(random_hash(rng)));
  }
  SessionLimits limits;
  limits.max_pending_bytes = 64 * 1024;  // about five answers for the root
  auto [out, sent] = never_flush(tree, limits, 100000);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().detail.find("without a Flush (limit 65536)"), std::string::npos)
      << out.error().detail;
  EXPECT_LT(sent, 100000);
}

TEST(Session, AFullRequestForALargeNodeEndsTheSessionBeforeReadingIt) {
  std::mt19937_64 rng(33);
  PrefixTree tree;
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(tree.insert(random_hash(rng)));
  }
  SessionLimits limits;
  limits.max_full_elements = 100;  // the root holds 300
  auto [out, sent] = never_flush(tree, limits, 10);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().detail.find("ReconRqstFull for a node of 300 elements"), std::string::npos)
      << out.error().detail;
  EXPECT_LE(sent, 10);
}

TEST(Session, MismatchedParametersAreRefusedWithAReason) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  Result<Config> a = fail(ErrorCode::Internal, ""), b = fail(ErrorCode::Internal, "");
  std::thread t([&] {
    FdStream s(fds[0]);
    a = exchange_config(s, Config{"1.1.6", 1, 2, 5, "", {}});
  });
  FdStream s(fds[1]);
  b = exchange_config(s, Config{"1.1.6", 1, 2, 6, "", {}});
  t.join();
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_FALSE(a);
  ASSERT_FALSE(b);
  EXPECT_NE(a.error().detail.find("mismatched mbar"), std::string::npos);
  EXPECT_NE(b.error().detail.find("mismatched mbar"), std::string::npos);
}

TEST(Session, MismatchedFiltersAreRefusedWithBothStrings) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  Result<Config> a = fail(ErrorCode::Internal, ""), b = fail(ErrorCode::Internal, "");
  std::thread t([&] {
    FdStream s(fds[0]);
    a = exchange_config(s, Config{"1.1.6", 1, 2, 5, "yminsky.dedup,yminsky.merge", {}});
  });
  FdStream s(fds[1]);
  b = answer_config(s, [](const Config&) { return Config{"1.1.6", 1, 2, 5, "yminsky.merge", {}}; });
  t.join();
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_FALSE(a);
  ASSERT_FALSE(b);
  EXPECT_NE(a.error().detail.find("mismatched filters"), std::string::npos) << a.error().detail;
  EXPECT_NE(b.error().detail.find("the peer announces \"yminsky.dedup,yminsky.merge\""),
            std::string::npos)
      << b.error().detail;
}

TEST(Session, TheAnsweringSideChoosesItsConfigAfterReadingThePeers) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  const std::string hp = parse_filters("hockeypuck-2.3")->announced();
  Result<Config> a = fail(ErrorCode::Internal, ""), b = fail(ErrorCode::Internal, "");
  std::thread t([&] {
    FdStream s(fds[0]);
    a = exchange_config(s, Config{"1.1.6", 1, 2, 5, hp, {}});
  });
  FdStream s(fds[1]);
  std::string seen;
  b = answer_config(s, [&](const Config& remote) {
    seen = remote.filters;
    return Config{"1.1.6", 2, 2, 5, remote.filters == hp ? hp : "yminsky.dedup,yminsky.merge", {}};
  });
  t.join();
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_TRUE(a) << a.error().detail;
  ASSERT_TRUE(b) << b.error().detail;
  EXPECT_EQ(seen, hp);
  EXPECT_EQ(a->http_port, 2u);
}

TEST(Filters, ProfilesAreTheStringsPeersAnnounce) {
  EXPECT_EQ(parse_filters("sks")->announced(), "yminsky.dedup,yminsky.merge");
  // Hockeypuck 2.3: hkp/sks/recon.go sksDefaultFilters, sorted as conflux sorts them.
  EXPECT_EQ(parse_filters("hockeypuck-2.3")->announced(),
            "drop:UAT,drop:hardRevokedCruft,drop:implausible,drop:invalidSelfSig,"
            "drop:structuralMartian,drop:unbound,drop:unparseable,schema:application/pgp-keys,"
            "versions:34,yminsky.dedup,yminsky.merge");
  EXPECT_TRUE(parse_filters("hockeypuck-2.3")->v3_v4_only());
  EXPECT_FALSE(parse_filters("sks")->v3_v4_only());
  // A list is sorted and deduplicated, as conflux does before comparing.
  EXPECT_EQ(parse_filters("yminsky.merge,yminsky.dedup,yminsky.merge")->announced(),
            "yminsky.dedup,yminsky.merge");
}

TEST(Filters, ATermKeydirDoesNotApplyIsRefused) {
  auto f = parse_filters("yminsky.merge,drop:everything");
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().detail.find("\"drop:everything\" is not one keydird applies"),
            std::string::npos)
      << f.error().detail;
  auto p = parse_filters("hockeypuck-9");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().detail.find("unknown filter profile"), std::string::npos) << p.error().detail;
  EXPECT_FALSE(parse_filters("yminsky.merge,"));  // an empty term
}

// A view of tree S minus R plus A is, to a peer, the tree of S - R + A.
TEST(AdjustedView, ReadsAsTheTreeOfTheAdjustedSet) {
  std::mt19937_64 rng(77);
  auto base = std::make_unique<PrefixTree>();
  PrefixTree expected;
  std::vector<Zp> all;
  for (int i = 0; i < 3000; ++i) {
    Zp z = random_hash(rng);
    ASSERT_TRUE(base->insert(z));
    all.push_back(z);
  }
  std::vector<Zp> remove(all.begin(), all.begin() + 40);
  std::vector<Zp> add;
  for (int i = 0; i < 25; ++i) {
    add.push_back(random_hash(rng));
  }
  for (std::size_t i = 40; i < all.size(); ++i) {
    expected.insert(all[i]);
  }
  for (const auto& z : add) {
    expected.insert(z);
  }
  // Ignored: removing an element the base lacks, adding one it has.
  std::vector<Zp> remove_more = remove;
  remove_more.push_back(random_hash(rng));
  std::vector<Zp> add_more = add;
  add_more.push_back(all[100]);
  auto view = AdjustedView::make(std::move(base), remove_more, add_more);
  ASSERT_TRUE(view) << view.error().detail;
  EXPECT_EQ((*view)->removed(), 40u);
  EXPECT_EQ((*view)->added(), 25u);
  auto root = (*view)->root_node();
  ASSERT_TRUE(root);
  auto want = expected.root_node();
  EXPECT_EQ(root->size, want->size);
  EXPECT_EQ(root->svalues, want->svalues);
  auto elements = (*view)->elements_of(*root);
  ASSERT_TRUE(elements);
  EXPECT_EQ(as_set(*elements), as_set(expected.root().all_elements()));
  // Every child of the root too (the structure is the base's).
  auto children = (*view)->children_of(*root);
  ASSERT_TRUE(children);
  for (const auto& c : *children) {
    auto e = (*view)->elements_of(c);
    ASSERT_TRUE(e);
    EXPECT_EQ(c.size, e->size());
  }
}

// Reconciling the adjusted view with a peer that holds S - R + A finds
// nothing to fetch on either side.
TEST(AdjustedView, APeerHoldingTheAdjustedSetHasNothingToFetch) {
  std::mt19937_64 rng(78);
  auto base = std::make_unique<PrefixTree>();
  PrefixTree peer;
  std::vector<Zp> ours_only, theirs_only;
  for (int i = 0; i < 4000; ++i) {
    Zp z = random_hash(rng);
    base->insert(z);
    if (i % 100 == 0) {
      ours_only.push_back(z);  // e.g. v6 keys, or our form of a key
    } else {
      peer.insert(z);
    }
  }
  for (int i = 0; i < 30; ++i) {
    Zp z = random_hash(rng);
    peer.insert(z);
    theirs_only.push_back(z);  // the peer's form of those keys
  }
  const PrefixTree& peer_ref = peer;
  auto view = AdjustedView::make(std::move(base), ours_only, theirs_only);
  ASSERT_TRUE(view);
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  Result<Outcome> served = fail(ErrorCode::Internal, ""), answered = fail(ErrorCode::Internal, "");
  std::thread t([&] {
    FdStream s(fds[0]);
    served = serve_session(s, **view, SessionLimits{});
    ::shutdown(fds[0], SHUT_RDWR);
  });
  {
    FdStream s(fds[1]);
    std::mt19937_64 r(5);
    answered = answer_session(s, peer_ref, SessionLimits{}, r);
  }
  t.join();
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_TRUE(served) << served.error().detail;
  ASSERT_TRUE(answered) << answered.error().detail;
  EXPECT_TRUE(served->recover.empty()) << served->recover.size();
  EXPECT_TRUE(answered->recover.empty()) << answered->recover.size();
}

}  // namespace
}  // namespace keydir::recon
