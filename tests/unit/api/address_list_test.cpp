// AddressList: who may read /metrics (loopback and metrics-allow), and the
// router's /metrics answer by the request's whole client address.
#include <gtest/gtest.h>

#include "api/router.hpp"
#include "requests.hpp"
#include "storage/memory_key_store.hpp"
#include "test_data.hpp"

namespace keydir::api {
namespace {

TEST(AddressList, Loopback) {
  EXPECT_TRUE(AddressList::is_loopback("127.0.0.1"));
  EXPECT_TRUE(AddressList::is_loopback("127.3.2.1"));
  EXPECT_TRUE(AddressList::is_loopback("::1"));
  EXPECT_TRUE(AddressList::is_loopback("[::1]"));
  EXPECT_TRUE(AddressList::is_loopback("::ffff:127.0.0.1"));
  EXPECT_FALSE(AddressList::is_loopback("128.0.0.1"));
  EXPECT_FALSE(AddressList::is_loopback("::2"));
  EXPECT_FALSE(AddressList::is_loopback("::"));
  EXPECT_FALSE(AddressList::is_loopback(""));
  EXPECT_FALSE(AddressList::is_loopback("localhost"));
  EXPECT_FALSE(AddressList::is_loopback("127.0.0.1, 203.0.113.9"));
}

TEST(AddressList, AddressesAndNetworks) {
  auto list = AddressList::parse({"192.0.2.7", "10.0.0.0/8", "2001:db8::/32", "fe80::1"});
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->contains("192.0.2.7"));
  EXPECT_FALSE(list->contains("192.0.2.8"));
  EXPECT_TRUE(list->contains("10.255.1.2"));
  EXPECT_FALSE(list->contains("11.0.0.1"));
  EXPECT_TRUE(list->contains("::ffff:10.1.2.3"));  // IPv4-mapped counts as IPv4
  EXPECT_TRUE(list->contains("2001:db8:ffff::1"));
  EXPECT_TRUE(list->contains("[2001:db8::5]"));
  EXPECT_FALSE(list->contains("2001:db9::1"));
  EXPECT_TRUE(list->contains("fe80::1%eth0"));
  EXPECT_FALSE(list->contains("fe80::2"));
  EXPECT_FALSE(list->contains("not an address"));
  EXPECT_FALSE(list->contains(""));
  // An IPv4 network covers no IPv6 address but the mapped ones.
  EXPECT_FALSE(list->contains("::a00:1"));
}

TEST(AddressList, OddPrefixesAndEmpty) {
  auto list = AddressList::parse({"192.0.2.128/25", "2001:db8:8000::/33", "0.0.0.0/0"});
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->contains("203.0.113.1"));  // /0: every IPv4 address
  EXPECT_FALSE(list->contains("2001:db8::1"));
  EXPECT_TRUE(list->contains("2001:db8:8000::1"));
  auto none = AddressList::parse({});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->contains("192.0.2.1"));
}

TEST(AddressList, BadEntriesAreRefused) {
  for (const char* e : {"10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/x",
                        "keys.example.org", "10.0.0", "192.0.2.1/-1", ""}) {
    auto list = AddressList::parse({e});
    ASSERT_FALSE(list) << e;
    EXPECT_NE(list.error().detail.find(std::string("'") + e + "'"), std::string::npos)
        << list.error().detail;
  }
}

// The router: /metrics by HttpRequest::address, 404 like an unknown path.
TEST(MetricsAccess, LoopbackAndAllowedOnly) {
  storage::MemoryKeyStore store;
  service::KeyDirectory directory(store, service::DirectoryOptions{}, [] { return test::kNow; });
  ApiOptions options;
  options.metrics_allow = *AddressList::parse({"192.0.2.0/24"});
  Api api(directory, options);
  auto get = [&](const std::string& address, const std::string& method = "GET") {
    HttpRequest r = testing::get_request("/metrics", "keys.test", {}, address, method);
    r.address = address;
    return api.dispatch(r);
  };
  EXPECT_EQ(get("127.0.0.1").status, 200);
  EXPECT_NE(get("::1").body.find("keydir_http_requests_total"), std::string::npos);
  EXPECT_EQ(get("192.0.2.9").status, 200);
  Reply denied = get("203.0.113.9");
  HttpRequest elsewhere = testing::get_request("/pks/nothing", "keys.test", {}, "203.0.113.9");
  Reply unknown = api.dispatch(elsewhere);
  EXPECT_EQ(denied.status, 404);
  EXPECT_EQ(denied.body, unknown.body);  // like a path that does not exist
  EXPECT_EQ(denied.content_type, unknown.content_type);
  EXPECT_EQ(get("203.0.113.9", "POST").status, 404);  // not 405: nothing is there
  EXPECT_EQ(get("127.0.0.1", "POST").status, 405);
  EXPECT_EQ(get("").status, 404);  // the client is unknown (an untrusted proxy)
}

}  // namespace
}  // namespace keydir::api
