// keydird's HTTP/1.1 request parser: the requests it yields, the ones it
// refuses and why, and that how the octets are cut into reads never
// matters.
#include "server/http_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keydir::server {
namespace {

using Step = HttpParser::Step;

constexpr HttpLimits kSmall{
    .request_line = 64, .header_bytes = 256, .header_fields = 8, .body = 512};

struct Outcome {
  std::vector<WireRequest> requests;
  int refused = 0;  // the refusal's status, 0 if none
  std::string reason;
};

// Feeds `wire` in reads of `step` octets and collects what the parser yields.
Outcome parse(std::string_view wire, std::size_t step = 0, HttpLimits limits = kSmall) {
  HttpParser p(limits);
  Outcome o;
  if (step == 0) {
    step = wire.size() + 1;
  }
  for (std::size_t at = 0; at < wire.size(); at += step) {
    p.feed(wire.substr(at, step));
    WireRequest r;
    for (;;) {
      const auto s = p.next(r);
      if (s == Step::Request) {
        o.requests.push_back(r);
        continue;
      }
      if (s == Step::Refused) {
        o.refused = p.refusal().status;
        o.reason = p.refusal().reason;
        return o;
      }
      break;
    }
  }
  return o;
}

TEST(HttpParser, ReadsALookup) {
  auto o = parse(
      "GET /pks/lookup?op=get&search=0xABCD HTTP/1.1\r\nHost: Keys.Example.ORG:443\r\n"
      "Keydir-Log-Proof: 1\r\nAuthorization: Bearer t\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  const auto& r = o.requests[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/pks/lookup");
  EXPECT_EQ(r.query, "op=get&search=0xABCD");
  EXPECT_EQ(r.host, "keys.example.org");
  EXPECT_EQ(r.authorization, "Bearer t");
  EXPECT_TRUE(r.log_proof);
  EXPECT_FALSE(r.http10);
  EXPECT_FALSE(r.close);
  EXPECT_EQ(o.refused, 0);
}

TEST(HttpParser, KeepsANonDefaultPort) {
  auto o = parse("GET / HTTP/1.1\r\nHost: localhost:11371\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].host, "localhost:11371");
}

TEST(HttpParser, PersistentConnections) {
  auto close11 = parse("GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n");
  ASSERT_EQ(close11.requests.size(), 1u);
  EXPECT_TRUE(close11.requests[0].close);
  auto v10 = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(v10.requests.size(), 1u);
  EXPECT_TRUE(v10.requests[0].http10);
  EXPECT_TRUE(v10.requests[0].close);
  auto v10ka = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  ASSERT_EQ(v10ka.requests.size(), 1u);
  EXPECT_FALSE(v10ka.requests[0].close);
}

TEST(HttpParser, YieldsPipelinedRequestsInOrder) {
  const std::string wire =
      "POST /pks/add HTTP/1.1\r\nContent-Length: 10\r\n\r\nkeytext=ab"
      "GET /a HTTP/1.1\r\n\r\n"
      "POST /pks/hashquery HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n"
      "\r\nGET /b HTTP/1.1\r\n\r\n";
  for (std::size_t step : {0, 1, 2, 3, 7, 64}) {
    auto o = parse(wire, step);
    ASSERT_EQ(o.requests.size(), 4u) << "reads of " << step;
    EXPECT_EQ(o.requests[0].body, "keytext=ab");
    EXPECT_EQ(o.requests[1].path, "/a");
    EXPECT_EQ(o.requests[2].body, "abcde");
    EXPECT_EQ(o.requests[3].path, "/b");
    EXPECT_EQ(o.refused, 0);
  }
}

TEST(HttpParser, IgnoresChunkExtensions) {
  auto o = parse(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0 ; x\r\n\r\n", 1);
  ASSERT_EQ(o.requests.size(), 1u) << o.reason;
  EXPECT_EQ(o.requests[0].body, "abc");
}

TEST(HttpParser, AnswersALaterHttp1AsHttp11) {
  auto o = parse("GET / HTTP/1.2\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_FALSE(o.requests[0].http10);
}

TEST(HttpParser, AsksForTheBodyOnceWhenTheClientExpects100) {
  HttpParser p(kSmall);
  WireRequest r;
  p.feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(p.next(r), Step::More);
  EXPECT_TRUE(p.take_continue());
  EXPECT_FALSE(p.take_continue());
  p.feed("abcPOST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
  EXPECT_EQ(p.next(r), Step::Request);
  EXPECT_EQ(p.next(r), Step::Request);  // the body came with the head: no 100
  EXPECT_FALSE(p.take_continue());
}

TEST(HttpParser, AbsoluteFormNamesTheHost) {
  auto o = parse("GET http://Example.org:80/x?y=1 HTTP/1.1\r\nHost: other\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].path, "/x");
  EXPECT_EQ(o.requests[0].query, "y=1");
  EXPECT_EQ(o.requests[0].host, "example.org");
}

TEST(HttpParser, CountsForwardedForFields) {
  auto o = parse("GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\nx-forwarded-for: 5.6.7.8\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].forwarded_for_fields, 2);
  EXPECT_EQ(o.requests[0].forwarded_for, "1.2.3.4");
}

TEST(HttpParser, TakesRawUtf8InTheTarget) {
  auto o = parse("GET /.well-known/openpgpkey/hu/x?l=\xc3\x84 HTTP/1.1\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].query, "l=\xc3\x84");
}

struct Refused {
  const char* wire;
  int status;
  const char* reason;
};

class HttpParserRefuses : public testing::TestWithParam<Refused> {};

TEST_P(HttpParserRefuses, WithAStatusAndOneLine) {
  const auto& c = GetParam();
  for (std::size_t step : {0, 1, 5}) {
    auto o = parse(c.wire, step);
    EXPECT_EQ(o.refused, c.status) << c.wire << " in reads of " << step;
    EXPECT_EQ(o.reason, c.reason) << c.wire;
    EXPECT_TRUE(o.requests.empty()) << c.wire;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HttpParserRefuses,
    testing::Values(
        Refused{"GET  / HTTP/1.1\r\n\r\n", 400, "malformed request line"},
        Refused{"GET / HTTP/1.1 x\r\n\r\n", 400, "malformed request line"},
        Refused{"G(T / HTTP/1.1\r\n\r\n", 400, "malformed request line"},
        Refused{"GET /a\x01 HTTP/1.1\r\n\r\n", 400, "malformed request line"},
        Refused{"GET / HTTP/2.0\r\n\r\n", 505, "HTTP version not supported (1.0 and 1.1 are)"},
        Refused{"GET / SMTP/1.0\r\n\r\n", 400, "malformed request line"},
        Refused{"BREW / HTTP/1.1\r\n\r\n", 501, "unknown method"},
        Refused{"GET x HTTP/1.1\r\n\r\n", 400, "malformed request target"},
        Refused{"GET * HTTP/1.1\r\n\r\n", 400, "malformed request target"},
        Refused{"GET http://a b/ HTTP/1.1\r\n\r\n", 400, "malformed request line"},
        Refused{"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "malformed header field"},
        Refused{"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400, "malformed header field"},
        Refused{"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400, "malformed header field"},
        Refused{"GET / HTTP/1.1\r\nA: b\x7f"
                "c\r\n\r\n",
                400, "malformed header field (a control character)"},
        Refused{"GET / HTTP/1.1\r\nA: b\nc: d\r\n\r\n", 400,
                "malformed header field (a control character)"},
        Refused{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
                "repeated header field (Host)"},
        Refused{"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "malformed header field (Host)"},
        Refused{"POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx", 400,
                "repeated header field (content-length)"},
        Refused{"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "malformed Content-Length"},
        Refused{"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400, "malformed Content-Length"},
        Refused{"POST / HTTP/1.1\r\nContent-Length: 513\r\n\r\n", 413,
                "request body larger than 512 octets"},
        Refused{"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400,
                "malformed Content-Length"},
        Refused{"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
                "unsupported Transfer-Encoding (only chunked)"},
        Refused{"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                "ambiguous body length (Content-Length and Transfer-Encoding)"},
        Refused{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
                "malformed chunk size"},
        Refused{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                "Transfer-Encoding in an HTTP/1.0 request"},
        Refused{"GET http:///x HTTP/1.1\r\n\r\n", 400, "malformed request target"},
        Refused{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", 400,
                "malformed chunk (no CRLF after its data)"},
        Refused{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n201\r\n", 413,
                "request body larger than 512 octets"},
        Refused{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n000000001\r\n", 413,
                "chunk larger than 512 octets"},
        Refused{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA\n\r\n", 400,
                "malformed chunked trailer (bare LF)"}));

TEST(HttpParser, BoundsTheRequestLineAsItArrives) {
  HttpParser p(kSmall);
  WireRequest r;
  p.feed("GET /" + std::string(60, 'a'));
  EXPECT_EQ(p.next(r), Step::More);
  p.feed(std::string(10, 'a'));
  ASSERT_EQ(p.next(r), Step::Refused);
  EXPECT_EQ(p.refusal().status, 414);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(HttpParser, BoundsTheFieldsAsTheyArrive) {
  HttpParser p(kSmall);
  WireRequest r;
  p.feed("GET / HTTP/1.1\r\nX: " + std::string(300, 'a'));
  ASSERT_EQ(p.next(r), Step::Refused);
  EXPECT_EQ(p.refusal().status, 431);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 9; ++i) {
    many += "A: b\r\n";
  }
  auto o = parse(many + "\r\n");
  EXPECT_EQ(o.refused, 431);
}

TEST(HttpParser, BoundsAChunkedBodyWithItsFraming) {
  // 600 one-octet chunks: 600 octets of data would pass no single check but
  // their framing is 3,600 octets on the wire.
  std::string wire = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 600; ++i) {
    wire += "1\r\nx\r\n";
  }
  auto o = parse(wire, 7);
  EXPECT_EQ(o.refused, 413);
}

TEST(HttpParser, AcceptsTheLimitsExactly) {
  // A request line of exactly 64 octets, fields of exactly 256.
  const std::string line = "GET /" + std::string(64 - 14, 'a') + " HTTP/1.1";
  ASSERT_EQ(line.size(), 64u);
  const std::string field = "X: " + std::string(256 - 5, 'b') + "\r\n";
  ASSERT_EQ(field.size(), 256u);
  for (std::size_t step : {0, 1}) {
    auto o = parse(line + "\r\n" + field + "\r\n", step);
    EXPECT_EQ(o.refused, 0) << o.reason << " in reads of " << step;
    EXPECT_EQ(o.requests.size(), 1u);
  }
}

TEST(HttpParser, RefusesANulInAFieldValue) {
  const std::string wire("GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", 26);
  auto o = parse(wire);
  EXPECT_EQ(o.refused, 400);
  EXPECT_EQ(o.reason, "malformed header field (a control character)");
}

TEST(HttpParser, DropsEverythingAfterARefusal) {
  HttpParser p(kSmall);
  WireRequest r;
  p.feed("BREW / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(p.next(r), Step::Refused);
  p.feed("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.next(r), Step::Refused);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(HttpParser, NamesTheRefusedRequestWhenItCan) {
  HttpParser p(kSmall);
  WireRequest r;
  p.feed("POST /verify/secret HTTP/1.1\r\nContent-Length: 9999\r\n\r\n");
  ASSERT_EQ(p.next(r), Step::Refused);
  EXPECT_EQ(p.refusal().method, "POST");
  EXPECT_EQ(p.refusal().path, "/verify/secret");
}

TEST(HttpParser, HoldsOnlyWhatOneRequestNeeds) {
  // Between requests nothing stays buffered; a partial one is reported.
  HttpParser p(kSmall);
  WireRequest r;
  p.feed("GET / HTTP/1.1\r\n\r\nGET /x");
  EXPECT_EQ(p.next(r), Step::Request);
  EXPECT_EQ(p.next(r), Step::More);
  EXPECT_TRUE(p.partial());
  EXPECT_EQ(p.buffered(), 6u);
  EXPECT_FALSE(p.in_body());
  p.feed(" HTTP/1.1\r\nContent-Length: 5\r\n\r\nab");
  EXPECT_EQ(p.next(r), Step::More);
  EXPECT_TRUE(p.in_body());
  p.feed("cde");
  EXPECT_EQ(p.next(r), Step::Request);
  EXPECT_EQ(r.body, "abcde");
  EXPECT_FALSE(p.partial());
}

}  // namespace
}  // namespace keydir::server
