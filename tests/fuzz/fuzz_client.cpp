// libFuzzer target: what a server (or a WKD host) answers keydir, through
// the client's own parsers, without the network. The first octet picks the
// parser, the rest is the answer's body:
//   0  an HKP machine-readable index (keydir search), then both printouts
//   1  a VKS upload answer (keydir upload / verify)
//   2  a VKS request-verify answer
//   3  an error answer's reason, as JSON and as text
//   4  a key answer to a fetch by fingerprint (HKP op=get, VKS by-fingerprint)
//   5  the same by key ID
//   6  the same by a subkey's key ID with --subkey
//   7  a WKD answer (a fetch by address)
//   8  text shown on the terminal (printable)
//   9  a /pks/add answer (keydir upload's per-key report)
//   10 a Retry-After value (keydir upload's waits)
// Beyond crashes, sanitizer reports and hangs, it traps when a printout
// holds a raw control character (or the index's JSON printout a non-ASCII
// octet), or when a check accepts what it must not
// (an index key that is not hex of a key ID or fingerprint length, a
// fingerprint answer whose primary key is not the one asked for).
#include <cstdint>
#include <sstream>
#include <string>

#include "client/remote.hpp"
#include "openpgp/certificate.hpp"

namespace {

using namespace keydir;
using namespace keydir::client;

constexpr std::uint64_t kNow = 1893456000;  // 2030-01-01, after every fixture
constexpr const char* kFingerprint = "FC5D7A6980F7E484468DB87F65C71B0D2BE692AA";

// No C0 control (but the newline between lines) and no DEL.
void require_printable(const std::string& s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\n') || u == 0x7F) {
      __builtin_trap();
    }
  }
}

const FetchQuery& query(int which) {
  static const FetchQuery by_fpr = *classify(kFingerprint);
  static const FetchQuery by_id = *classify("0x65C71B0D2BE692AA");
  static const FetchQuery by_sub = [] {
    auto q = *classify("0x86CDE6989B78F56C");
    q.subkey = true;
    return q;
  }();
  static const FetchQuery by_mail = *classify("multi@keydir.test");
  switch (which) {
    case 4:
      return by_fpr;
    case 5:
      return by_id;
    case 6:
      return by_sub;
    default:
      return by_mail;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const int which = data[0] % 11;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (which) {
    case 0: {
      auto entries = parse_mr_index(body);
      if (!entries) {
        require_printable(entries.error().detail);
        break;
      }
      for (const auto& e : *entries) {
        const auto n = e.key.size();
        if ((n != 8 && n != 16 && n != 32 && n != 40 && n != 64) ||
            e.key.find_first_not_of("0123456789ABCDEF") != std::string::npos) {
          __builtin_trap();
        }
      }
      std::ostringstream text, json;
      print_index(*entries, false, text);
      print_index(*entries, true, json);
      require_printable(text.str());
      require_printable(json.str());
      // The JSON is ASCII (\uXXXX), so no C1 control or bidi override either.
      for (char c : json.str()) {
        if (static_cast<unsigned char>(c) >= 0x80) {
          __builtin_trap();
        }
      }
      break;
    }
    case 1:
    case 2: {
      auto a = parse_vks_answer(body, which == 2);
      if (a && which == 1 && a->fpr.size() != 40 && a->fpr.size() != 64) {
        __builtin_trap();
      }
      break;
    }
    case 3:
      require_printable(server_reason("application/json", body));
      require_printable(server_reason("text/plain", body));
      break;
    case 4:
    case 5:
    case 6:
    case 7: {
      const auto& q = query(which);
      auto checked = check_answer(as_bytes(body), q, kNow);
      if (!checked) {
        if (checked.error().exit_code != kExitBadAnswer &&
            checked.error().exit_code != kExitWrongKey) {
          __builtin_trap();
        }
        break;
      }
      if (which == 4) {
        // Accepted by fingerprint: exactly one certificate, whose primary
        // key is the one asked for.
        auto certs = openpgp::parse_certificates(*checked);
        if (!certs || certs->size() != 1 || !certs->front().cert ||
            certs->front().cert->primary.fingerprint != *q.fingerprint) {
          __builtin_trap();
        }
      }
      break;
    }
    case 9: {
      // Bounded: never more keys than two batches, each key's fingerprint
      // hex or "-", each outcome one of the four words.
      auto a = parse_add_answer(body);
      if (!a) {
        break;
      }
      if (a->keys.size() > 2 * kMaxBatchCerts || a->other.size() > kMaxAddAnswerOther) {
        __builtin_trap();
      }
      for (const auto& k : a->keys) {
        if (k.outcome != "new" && k.outcome != "updated" && k.outcome != "unchanged" &&
            k.outcome != "refused") {
          __builtin_trap();
        }
        if (k.fpr != "-" && k.fpr.find_first_not_of("0123456789ABCDEF") != std::string::npos) {
          __builtin_trap();
        }
      }
      break;
    }
    case 10: {
      // Seconds saturate; a date in the past is 0; nothing throws.
      auto wait = parse_retry_after(body, kNow);
      if (wait && *wait > (std::uint64_t{1} << 32) &&
          body.find_first_not_of("0123456789") == std::string_view::npos) {
        __builtin_trap();
      }
      break;
    }
    default: {
      auto shown = printable(body, 1024);
      if (shown.find('\x1b') != std::string::npos || shown.find('\0') != std::string::npos) {
        __builtin_trap();
      }
      require_printable(shown);
      break;
    }
  }
  return 0;
}
