#include "common/rate_limit.hpp"

#include <gtest/gtest.h>

#include <string>

namespace keydir {
namespace {

TEST(ClientKey, Ipv4AsItIs) {
  EXPECT_EQ(client_key("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(client_key("127.0.0.1", 128), "127.0.0.1");
}

TEST(ClientKey, Ipv6ByNetwork) {
  EXPECT_EQ(client_key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_key("2001:DB8:1:2:a:b:c:d"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_key("[2001:db8:1:2::9]"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_key("fe80::1%eth0"), "fe80::/64");
  EXPECT_NE(client_key("2001:db8:1:3::1"), client_key("2001:db8:1:2::1"));
  EXPECT_EQ(client_key("::1"), "::/64");
}

TEST(ClientKey, PrefixIsConfigurable) {
  EXPECT_EQ(client_key("2001:db8:1:2::1", 48), "2001:db8:1::/48");
  EXPECT_EQ(client_key("2001:db8:1:2::1", 56), client_key("2001:db8:1:ff::1", 56));
  EXPECT_NE(client_key("2001:db8:1:2::1", 64), client_key("2001:db8:1:ff::1", 64));
  EXPECT_EQ(client_key("2001:db8:1:2::1", 128), "2001:db8:1:2::1/128");
  EXPECT_EQ(client_key("2001:db8:1:2::1", 60), "2001:db8:1::/60");
  EXPECT_EQ(client_key("2001:db8:1:2::1", 500), "2001:db8:1:2::1/128");  // clamped
}

TEST(ClientKey, MappedIpv4IsIpv4) {
  EXPECT_EQ(client_key("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(client_key("::FFFF:c000:0207"), "192.0.2.7");
  EXPECT_EQ(client_key("[::ffff:10.1.2.3]"), "10.1.2.3");
}

TEST(ClientKey, NonAddressesUnchanged) {
  EXPECT_EQ(client_key("alice@example.org"), "alice@example.org");
  EXPECT_EQ(client_key("not:an:address:at:all"), "not:an:address:at:all");
  EXPECT_EQ(client_key(""), "");
}

TEST(RateLimiter, BurstThenRate) {
  RateLimiter r(60, 3);  // one a second
  EXPECT_FALSE(r.take("a", 0));
  EXPECT_FALSE(r.take("a", 0));
  EXPECT_FALSE(r.take("a", 0));
  auto wait = r.take("a", 0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 1u);
  EXPECT_FALSE(r.take("a", 1.0));
  EXPECT_FALSE(r.take("b", 1.0));  // another key has its own bucket
}

TEST(RateLimiter, OneIpv6NetworkIsOneClient) {
  // What the HTTP adapter does: the key of the peer address, not the address.
  RateLimiter r(1, 2);
  EXPECT_FALSE(r.take(client_key("2001:db8:1:2::1"), 0));
  EXPECT_FALSE(r.take(client_key("2001:db8:1:2::2"), 0));
  EXPECT_TRUE(r.take(client_key("2001:db8:1:2::3"), 0));  // same /64: limited
  EXPECT_TRUE(r.take(client_key("2001:db8:1:2:dead::beef"), 0));
  EXPECT_FALSE(r.take(client_key("2001:db8:1:3::1"), 0));  // next /64: its own
  EXPECT_FALSE(r.take(client_key("::ffff:192.0.2.1"), 0));
  EXPECT_FALSE(r.take(client_key("192.0.2.1"), 0));
  EXPECT_TRUE(r.take(client_key("::ffff:192.0.2.1"), 0));  // mapped == IPv4
}

TEST(RateLimiter, BoundedWithoutReset) {
  RateLimiter r(60, 2, 100);
  for (int i = 0; i < 1000; ++i) {
    (void)r.take("k" + std::to_string(i), i * 0.001);
    ASSERT_LE(r.size(), 100u);
  }
  EXPECT_EQ(r.size(), 100u);
}

TEST(RateLimiter, FloodEvictsFullBucketsBeforeLimitedOnes) {
  RateLimiter r(6, 3, 1000);  // a token every 10 s
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(r.take("victim-limited", 0));
  }
  ASSERT_TRUE(r.take("victim-limited", 0));
  // A client seen long ago whose bucket is full again: nothing to keep.
  ASSERT_FALSE(r.take("old-full", -1000));
  // 1,000 new keys over 5 s.
  for (int i = 0; i < 1000; ++i) {
    (void)r.take("flood" + std::to_string(i), i * 0.005);
  }
  EXPECT_LE(r.size(), 1000u);
  EXPECT_TRUE(r.take("victim-limited", 5)) << "the limited client was forgotten";
}

TEST(RateLimiter, MailLimitsSurviveAFloodOfAddresses) {
  // Shaped like the per-address mail limit: 3 an hour, burst 2, the default
  // table size.
  RateLimiter per_address(3.0 / 60.0, 2);
  const std::string victim = "victim@example.org";
  ASSERT_FALSE(per_address.take(victim, 0));
  ASSERT_FALSE(per_address.take(victim, 1));
  ASSERT_TRUE(per_address.take(victim, 2));
  // 100,000 distinct addresses within a minute: more than the table holds.
  for (int i = 0; i < 100000; ++i) {
    (void)per_address.take("a" + std::to_string(i) + "@evil.example", 3 + i * 0.0005);
  }
  EXPECT_LE(per_address.size(), 100000u);
  EXPECT_TRUE(per_address.take(victim, 60)) << "a flood of addresses reset the victim's limit";
}

TEST(RateLimiter, DisabledTakesNothing) {
  RateLimiter r(0, 1);
  EXPECT_FALSE(r.enabled());
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(r.take("a", 0));
  }
  EXPECT_EQ(r.size(), 0u);
}

TEST(RateLimiter, ChargeRunsIntoDebt) {
  RateLimiter r(60, 10);         // one a second, ten saved
  ASSERT_FALSE(r.take("a", 0));  // 9 left
  r.charge("a", 29, 0);          // a 30-key upload: 20 in debt
  auto wait = r.take("a", 0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 21u);  // the debt and the next token, at one a second
  EXPECT_TRUE(r.take("a", 20.5));
  EXPECT_FALSE(r.take("a", 21.0));
  EXPECT_FALSE(r.take("b", 0)) << "the debt is a's only";
}

TEST(RateLimiter, ChargeNeverOverfillsAndIgnoresNothing) {
  RateLimiter r(60, 3);
  r.charge("a", 0, 0);   // nothing to charge
  r.charge("a", -5, 0);  // never a credit
  EXPECT_FALSE(r.take("a", 0));
  EXPECT_FALSE(r.take("a", 0));
  EXPECT_FALSE(r.take("a", 0));
  EXPECT_TRUE(r.take("a", 0));
  r.charge("c", 2, 0);  // a new client starts full: 1 left
  EXPECT_FALSE(r.take("c", 0));
  EXPECT_TRUE(r.take("c", 0));
}

TEST(RateLimiter, ChargedClientIsNotForgottenFirst) {
  RateLimiter r(60, 2, 2);
  ASSERT_FALSE(r.take("debtor", 0));
  r.charge("debtor", 100, 0);
  (void)r.take("other1", 1);
  (void)r.take("other2", 2);  // the table holds two: a full-soonest one goes
  EXPECT_TRUE(r.take("debtor", 3)) << "the debtor was forgotten and came back full";
}

TEST(RateLimiter, HugeDebtWaitIsTheLargestRetryAfter) {
  RateLimiter r(0.0001, 1);  // one key in 600 000 s
  ASSERT_FALSE(r.take("a", 0));
  r.charge("a", 1e9, 0);  // 6e14 s: beyond what a uint32 holds
  auto wait = r.take("a", 0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 4294967295u);
  EXPECT_TRUE(r.take("a", 4294967295.0)) << "the debt is still owed";
}

TEST(RateLimiter, DisabledChargesNothing) {
  RateLimiter r(0, 1);
  r.charge("a", 100, 0);
  EXPECT_FALSE(r.take("a", 0));
  EXPECT_EQ(r.size(), 0u);
}

}  // namespace
}  // namespace keydir
