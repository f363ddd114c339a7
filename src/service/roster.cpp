#include "service/roster.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "common/time_format.hpp"
#include "openpgp/certificate.hpp"
#include "service/store_access.hpp"

namespace keydir::service {

namespace {

using nlohmann::json;

// One code point of `s` at `i`: its value and length; an invalid octet
// (a stray continuation, an overlong form, a surrogate, past U+10FFFF, cut
// short) is -1 with length 1.
std::pair<std::int32_t, std::size_t> decode(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    return {b, 1};
  }
  std::size_t len = 0;
  std::int32_t cp = 0;
  std::int32_t min = 0;
  if ((b & 0xe0) == 0xc0) {
    len = 2, cp = b & 0x1f, min = 0x80;
  } else if ((b & 0xf0) == 0xe0) {
    len = 3, cp = b & 0x0f, min = 0x800;
  } else if ((b & 0xf8) == 0xf0) {
    len = 4, cp = b & 0x07, min = 0x10000;
  } else {
    return {-1, 1};
  }
  if (i + len > s.size()) {
    return {-1, 1};
  }
  for (std::size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xc0) != 0x80) {
      return {-1, 1};
    }
    cp = cp << 6 | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return {-1, 1};
  }
  return {cp, len};
}

std::int32_t fold(std::int32_t c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 0xc0 && c <= 0xde && c != 0xd7) ||
      (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) || (c >= 0x410 && c <= 0x42f)) {
    return c + 32;
  }
  if (c >= 0x400 && c <= 0x40f) {
    return c + 80;
  }
  if (c == 0x3c2) {
    return 0x3c3;  // final sigma
  }
  if (c == 0x178) {
    return 0xff;
  }
  // Latin Extended-A: upper and lower case alternate (the odd stretch
  // U+0139..U+0148 and U+0179..U+017E starts with an upper case letter).
  const bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e);
  const bool even_upper = (c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177);
  if ((odd_upper && c % 2 == 1) || (even_upper && c % 2 == 0)) {
    return c + 1;
  }
  return c;
}

std::vector<std::int32_t> folded(std::string_view s) {
  std::vector<std::int32_t> out;
  for (std::size_t i = 0; i < s.size();) {
    auto [cp, len] = decode(s, i);
    // An invalid octet stands for itself, apart from every code point.
    out.push_back(cp < 0 ? -1 - static_cast<std::int32_t>(static_cast<unsigned char>(s[i]))
                         : fold(cp));
    i += len;
  }
  return out;
}

bool escaped_code_point(std::int32_t cp) {
  return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
         cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

std::string name_part(std::string_view uid) {
  auto lt = uid.find('<');
  if (lt == std::string_view::npos) {
    return {};
  }
  std::string_view n = uid.substr(0, lt);
  while (!n.empty() && (n.back() == ' ' || n.back() == '\t')) {
    n.remove_suffix(1);
  }
  while (!n.empty() && (n.front() == ' ' || n.front() == '\t')) {
    n.remove_prefix(1);
  }
  return std::string(n);
}

std::string domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : std::string(address.substr(at + 1));
}

std::string date_or(const std::optional<std::uint64_t>& t, const char* none) {
  return t ? utc_timestamp(*t) : std::string(none);
}

}  // namespace

std::string_view roster_state_name(RosterState s) {
  switch (s) {
    case RosterState::Published:
      return "published";
    case RosterState::Pending:
      return "pending";
    case RosterState::Withheld:
      return "withheld";
  }
  return "withheld";
}

std::optional<RosterState> parse_roster_state(std::string_view name) {
  for (auto s : {RosterState::Published, RosterState::Pending, RosterState::Withheld}) {
    if (name == roster_state_name(s)) {
      return s;
    }
  }
  return std::nullopt;
}

std::string RosterCursor::to_string() const {
  return fingerprint.to_hex() + ":" + to_hex(as_bytes(address));
}

Result<RosterCursor> RosterCursor::parse(std::string_view text) {
  auto bad = [&] {
    return fail(ErrorCode::BadQuery, "not a cursor of keydird admin list: " + shown_text(text));
  };
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return bad();
  }
  auto fpr = Fingerprint::from_hex(text.substr(0, colon));
  auto address = from_hex(text.substr(colon + 1));
  if (!fpr || !address) {
    return bad();
  }
  return RosterCursor{*fpr, std::string(as_chars(*address))};
}

bool contains_folded(std::string_view haystack, std::string_view needle) {
  const auto h = folded(haystack);
  const auto n = folded(needle);
  return std::search(h.begin(), h.end(), n.begin(), n.end()) != h.end();
}

std::string shown_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  char buf[16];
  for (std::size_t i = 0; i < s.size();) {
    auto [cp, len] = decode(s, i);
    if (cp < 0x20 || cp == 0x7f) {  // invalid UTF-8 decodes as negative
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(s[i]));
      out += buf;
    } else if (escaped_code_point(cp)) {
      std::snprintf(buf, sizeof buf, "\\u{%04x}", static_cast<unsigned>(cp));
      out += buf;
    } else if (cp == '\\') {
      out += "\\\\";
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out;
}

std::string csv_cell(std::string_view s) {
  std::string v = shown_text(s);
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@')) {
    v.insert(v.begin(), '\'');
  }
  const bool quote = v.find_first_of(",\"") != std::string::npos ||
                     (!v.empty() && (v.front() == ' ' || v.back() == ' '));
  if (!quote) {
    return v;
  }
  std::string q = "\"";
  for (char c : v) {
    q += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return q + "\"";
}

Result<void> walk_roster(const KeyDirectory& directory, const RosterFilter& filter,
                         const std::optional<RosterCursor>& after,
                         const std::function<bool(const RosterRow&)>& visit) {
  const storage::KeyStore& store = directory.store_ref(StoreAccess{});
  const bool open = !directory.verifies_addresses();
  const std::uint64_t now = directory.now();
  // Outstanding confirmation links: as many as the mail limits let out.
  std::set<std::pair<Fingerprint, std::string>> pending;
  KEYDIR_CHECK(store.for_each_token([&](ByteView, const storage::VerifyToken& t) {
    if (t.kind == storage::VerifyToken::Kind::Verify && t.expires > now && t.used_at == 0) {
      pending.emplace(t.fingerprint, t.email);
    }
    return true;
  }));
  Result<void> status;
  KEYDIR_CHECK(store.for_each([&](const storage::CertRecord& rec) {
    if (after && rec.fingerprint < after->fingerprint) {
      return true;
    }
    auto vc = directory.summarize(rec);
    if (!vc) {
      return true;  // a certificate that does not parse: `keydird check` reports it
    }
    struct Acc {
      RosterRow row;
      bool current = false;  // a user ID with the address is not revoked
      bool primary = false;  // the name is the primary user ID's
    };
    std::map<std::string, Acc> rows;
    const auto& uids = vc->cert().user_ids;
    const auto& states = vc->user_id_states();
    for (std::size_t i = 0; i < states.size() && i < uids.size(); ++i) {
      if (!states[i].email) {
        continue;
      }
      const std::string& a = states[i].email->address();
      const bool current = !states[i].revocation;
      auto [it, fresh] = rows.try_emplace(a);
      Acc& acc = it->second;
      if (fresh || (current && !acc.current) || (current && states[i].primary && !acc.primary)) {
        acc.row.name = name_part(as_chars(uids[i].body));
        acc.primary = current && states[i].primary;
      }
      acc.current = acc.current || current;
    }
    if (rows.empty()) {
      return true;
    }
    std::map<std::string, std::uint64_t> marks;
    if (!open) {
      auto times = store.published_times(rec.fingerprint);
      if (!times) {
        status = tl::unexpected(times.error());
        return false;
      }
      marks.insert(times->begin(), times->end());
    }
    const bool key_revoked = vc->revoked();
    for (auto& [address, acc] : rows) {
      if (after && rec.fingerprint == after->fingerprint && address <= after->address) {
        continue;
      }
      RosterRow& r = acc.row;
      r.fingerprint = rec.fingerprint;
      r.address = address;
      r.key_created = vc->cert().primary.created;
      if (auto e = vc->primary_state().expires) {
        r.key_expires = *e;
      }
      r.revoked = key_revoked || !acc.current;
      auto mark = marks.find(address);
      if (mark != marks.end() && mark->second != 0) {
        r.published_at = mark->second;
      }
      if (!r.revoked && (open || mark != marks.end())) {
        r.state = RosterState::Published;
      } else if (pending.count({rec.fingerprint, address})) {
        r.state = RosterState::Pending;
      } else {
        r.state = RosterState::Withheld;
      }
      if (!filter.domains.empty() && std::find(filter.domains.begin(), filter.domains.end(),
                                               domain_of(address)) == filter.domains.end()) {
        continue;
      }
      if (filter.state && *filter.state != r.state) {
        continue;
      }
      if (!filter.match.empty() && !contains_folded(r.name, filter.match) &&
          !contains_folded(address, filter.match)) {
        continue;
      }
      if (!visit(r)) {
        return false;
      }
    }
    return true;
  }));
  return status;
}

void RosterWriter::begin() {
  switch (format_) {
    case RosterFormat::Text:
      out_ << "FINGERPRINT STATE ADDRESS CREATED EXPIRES REVOKED PUBLISHED NAME\n";
      break;
    case RosterFormat::Csv:
      out_ << "fingerprint,address,name,state,key_created,key_expires,revoked,published_at\r\n";
      break;
    case RosterFormat::Json:
      out_ << "{\"rows\":[";
      break;
  }
}

void RosterWriter::row(const RosterRow& r) {
  const std::optional<std::uint64_t>& expires = r.key_expires;
  switch (format_) {
    case RosterFormat::Text:
      out_ << r.fingerprint.to_hex() << " " << roster_state_name(r.state) << " "
           << shown_text(r.address) << " " << utc_date(r.key_created) << " "
           << (expires ? utc_date(*expires) : std::string("never")) << " "
           << (r.revoked ? "revoked" : "-") << " " << date_or(r.published_at, "-") << " "
           << (r.name.empty() ? std::string("-") : shown_text(r.name)) << "\n";
      break;
    case RosterFormat::Csv:
      out_ << r.fingerprint.to_hex() << "," << csv_cell(r.address) << "," << csv_cell(r.name) << ","
           << roster_state_name(r.state) << "," << utc_timestamp(r.key_created) << ","
           << date_or(expires, "") << "," << (r.revoked ? "yes" : "no") << ","
           << date_or(r.published_at, "") << "\r\n";
      break;
    case RosterFormat::Json: {
      json j = {
          {"fingerprint", r.fingerprint.to_hex()},
          {"address", r.address},
          {"name", r.name},
          {"state", roster_state_name(r.state)},
          {"key-created", utc_timestamp(r.key_created)},
          {"key-expires", expires ? json(utc_timestamp(*expires)) : json(nullptr)},
          {"revoked", r.revoked},
          {"published-at", r.published_at ? json(utc_timestamp(*r.published_at)) : json(nullptr)}};
      // ASCII only (\u escapes): safe to print on a terminal as well.
      out_ << (rows_ ? "," : "") << "\n" << j.dump(-1, ' ', true, json::error_handler_t::replace);
      break;
    }
  }
  ++rows_;
}

void RosterWriter::end(const std::optional<RosterCursor>& next) {
  switch (format_) {
    case RosterFormat::Text:
      if (next) {
        out_ << "next: --after " << next->to_string() << "\n";
      }
      break;
    case RosterFormat::Csv:
      break;
    case RosterFormat::Json:
      out_ << "\n],\"next\":" << (next ? json(next->to_string()) : json(nullptr)).dump() << "}\n";
      break;
  }
}

}  // namespace keydir::service
