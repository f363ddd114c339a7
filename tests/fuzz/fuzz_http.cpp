// libFuzzer target: what an HTTP client sends keydird (server/http_parser).
// The first octet picks how the rest is cut into reads; the parser runs
// once on the whole input and once read by read, with small bounds so that
// every one of them is reached. Checks: no crash, nothing held beyond the
// bounds, every request yielded within them, a refusal for good, and the
// same requests and the same refusal however the input was cut.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "server/http_parser.hpp"

namespace {

using keydir::server::HttpLimits;
using keydir::server::HttpParser;
using keydir::server::WireRequest;

constexpr HttpLimits kSmall{
    .request_line = 64, .header_bytes = 256, .header_fields = 8, .body = 512};

void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

std::string describe(const WireRequest& r) {
  return r.method + '\n' + r.path + '\n' + r.query + '\n' + r.host + '\n' + r.content_type + '\n' +
         r.authorization + '\n' + r.forwarded_for + '\n' + std::to_string(r.forwarded_for_fields) +
         (r.http10 ? "a" : "b") + (r.close ? "c" : "d") + (r.log_proof ? "e" : "f") + '\n' + r.body;
}

// The requests yielded, then "refused <status>" or "more".
std::vector<std::string> run(const std::uint8_t* data, std::size_t size, std::size_t step) {
  HttpParser p(kSmall);
  std::vector<std::string> seen;
  WireRequest r;
  for (std::size_t at = 0; at < size || at == 0; at += step) {
    const std::size_t n = std::min(step, size - at);
    p.feed(std::string_view(reinterpret_cast<const char*>(data) + at, n));
    // What one read can add, beyond one request at its bounds.
    require(p.buffered() <=
            kSmall.request_line + kSmall.header_bytes + 2 * kSmall.body + 64 + step);
    for (;;) {
      const auto s = p.next(r);
      if (s == HttpParser::Step::Request) {
        require(!r.method.empty() && !r.path.empty());
        require(r.body.size() <= kSmall.body);
        seen.push_back(describe(r));
        continue;
      }
      if (s == HttpParser::Step::Refused) {
        require(p.refusal().status >= 400 && p.refusal().status < 600);
        require(p.refusal().reason.find('\n') == std::string::npos);
        require(p.next(r) == HttpParser::Step::Refused);  // for good
        p.feed("GET / HTTP/1.1\r\n\r\n");
        require(p.next(r) == HttpParser::Step::Refused && p.buffered() == 0);
        seen.push_back("refused " + std::to_string(p.refusal().status));
        return seen;
      }
      break;
    }
    if (size == 0) {
      break;
    }
  }
  seen.emplace_back("more");
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::size_t step = 1 + data[0] % 17;
  const auto whole = run(data + 1, size - 1, size);
  const auto cut = run(data + 1, size - 1, step);
  require(whole == cut);
  return 0;
}
