#include "api/hkp/hkp.hpp"

#include <nlohmann/json.hpp>

#include "common/byte_reader.hpp"
#include "common/limits.hpp"
#include "common/time_format.hpp"
#include "openpgp/armor.hpp"
#include "openpgp/certificate.hpp"
#include "openpgp/verify.hpp"

namespace keydir::api {

using openpgp::Fingerprint;
using storage::Query;

namespace {

bool all_hex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return !s.empty();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace

Result<Search> parse_search(std::string_view search, bool exact) {
  if (search.empty()) {
    return fail(ErrorCode::BadQuery, "missing search parameter");
  }
  if (search.size() > limits::kMaxQueryBytes) {
    return fail(ErrorCode::BadQuery,
                "search longer than " + std::to_string(limits::kMaxQueryBytes) + " octets");
  }
  Search s;
  std::string_view hex = search;
  if (hex.size() > 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
    hex.remove_prefix(2);
    if (!all_hex(hex) ||
        (hex.size() != 8 && hex.size() != 16 && hex.size() != 40 && hex.size() != 64)) {
      return fail(ErrorCode::BadQuery,
                  "0x must be followed by 8, 16, 40 or 64 hex digits (key ID or fingerprint)");
    }
  }
  if (all_hex(hex) &&
      (hex.size() == 8 || hex.size() == 16 || hex.size() == 40 || hex.size() == 64) &&
      (hex.size() != search.size() || hex.size() >= 16)) {
    if (hex.size() == 8) {
      auto b = *from_hex(hex);
      std::uint32_t id =
          std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
      s.query = Query{Query::ByShortKeyId{id}};
    } else if (hex.size() == 16) {
      KEYDIR_TRY(auto id, openpgp::KeyId::from_hex(hex));
      s.query = Query{Query::ByKeyId{id}};
    } else {
      KEYDIR_TRY(auto fpr, Fingerprint::from_hex(hex));
      s.v6_fingerprint = fpr.version() == Fingerprint::Version::V6;
      s.query = Query{Query::ByFingerprint{fpr}};
    }
    return s;
  }
  if (search.find('@') != std::string_view::npos) {
    auto email = openpgp::Email::parse(search);
    if (email) {
      s.query = Query{Query::ByEmail{email->address()}};
      return s;
    }
    if (exact) {
      return fail(ErrorCode::BadQuery, "not an e-mail address");
    }
  }
  auto words = service::user_id_words(lower(search));
  if (words.empty()) {
    return fail(ErrorCode::BadQuery, "search needs a key ID, fingerprint, address or words");
  }
  s.query = Query{Query::ByWords{words}};
  return s;
}

std::string mr_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7E || c == '%' || c == ':') {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

Hkp::Hkp(service::KeyDirectory& directory, HkpOptions options, Metrics* metrics)
    : directory_(directory), options_(options), metrics_(metrics) {}

bool wants_log_proof(const HttpRequest& request) {
  if (request.log_proof) {
    return true;
  }
  if (request.path != "/pks/lookup") {
    return false;
  }
  auto options = request.param("options").value_or("");
  while (!options.empty()) {
    auto comma = options.find(',');
    if (options.substr(0, comma) == "proof") {
      return true;
    }
    options = comma == std::string_view::npos ? std::string_view() : options.substr(comma + 1);
  }
  return false;
}

Reply Hkp::lookup(const HttpRequest& request) const {
  auto op = request.param("op").value_or("get");
  auto options = request.param("options").value_or("");
  bool mr = options.find("mr") != std::string_view::npos;
  if (op == "stats") {
    return stats(mr);
  }
  auto search_text = request.param("search");
  if (!search_text) {
    return text_reply(Status::kBadRequest, "missing search parameter");
  }
  bool exact = request.param("exact").value_or("off") == "on";
  if (op == "hget") {
    if (search_text->size() != 32 || !all_hex(*search_text)) {
      return text_reply(Status::kBadRequest, "hget takes a 32-digit SKS key hash");
    }
    Search s{Query{Query::BySksHash{*from_hex(*search_text)}}, true, wants_log_proof(request)};
    return get(s);
  }
  if (op != "get" && op != "index" && op != "vindex") {
    return text_reply(Status::kNotImplemented,
                      "operation not implemented: " + std::string(op.substr(0, 32)));
  }
  auto s = parse_search(*search_text, exact);
  if (!s) {
    return error_reply(s.error());
  }
  if (op == "get") {
    s->whole = wants_log_proof(request);
    return get(*s);
  }
  return index(*s, mr, op == "vindex");
}

Reply Hkp::get(const Search& s) const {
  auto found = s.whole ? directory_.lookup_published(s.query, options_.max_results + 1)
                       : directory_.lookup(s.query, options_.max_results + 1);
  if (!found) {
    return error_reply(found.error());
  }
  Bytes all;
  std::size_t n = 0;
  for (const auto& r : *found) {
    // v6 certificates only when asked for by v6 fingerprint: GnuPG 2.2
    // rejects a whole answer that holds a v6 packet.
    if (r.fingerprint.version() == Fingerprint::Version::V6 && !s.v6_fingerprint) {
      continue;
    }
    if (n == options_.max_results) {
      break;
    }
    append(all, r.cert);
    ++n;
  }
  if (n == 0) {
    return text_reply(Status::kNotFound, "no key found");
  }
  Reply r;
  r.content_type = "application/pgp-keys";
  // Verified and managed mode: say why user IDs may be missing (GnuPG 2.2
  // reports "no user ID" for a key new to it; updates of a key it has still
  // apply), in the words of the mode in force (service::public_view_note).
  // The same words on every answer, never a count: how many user IDs a key
  // has beyond the published ones is its owner's business.
  std::vector<std::pair<std::string, std::string>> headers;
  if (std::string note = directory_.public_view_note(); !note.empty()) {
    headers.emplace_back("Comment", std::move(note));
  }
  r.body = openpgp::armor(all, openpgp::ArmorKind::PublicKey, headers);
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  r.headers.emplace_back("Cache-Control", "public, max-age=300");
  return r;
}

Reply Hkp::index(const Search& s, bool mr, bool verbose) const {
  auto found = directory_.lookup(s.query, options_.max_results + 1);
  if (!found) {
    return error_reply(found.error());
  }
  bool truncated = found->size() > options_.max_results;
  if (truncated) {
    found->resize(options_.max_results);
  }
  const auto now = directory_.now();
  std::size_t count = 0;
  std::string lines;
  std::string html;
  for (const auto& rec : *found) {
    auto summary = directory_.summarize(rec);
    if (!summary) {
      continue;
    }
    const auto& vc = *summary;
    const auto& c = vc.cert();
    ++count;
    std::string flags;
    if (vc.revoked()) {
      flags += "r";
    }
    if (vc.expired(now)) {
      flags += "e";
    }
    auto exp = vc.primary_state().expires;
    lines += "pub:" + c.primary.fingerprint.to_hex() + ":" +
             std::to_string(static_cast<int>(c.primary.algorithm)) + ":" +
             std::to_string(c.primary.bits) + ":" + std::to_string(c.primary.created) + ":" +
             (exp ? std::to_string(*exp) : "") + ":" + flags + "\n";
    html += "<pre>pub  " + std::to_string(c.primary.bits) + " " +
            html_escape(openpgp::algorithm_name(c.primary.algorithm)) +
            " <a href=\"/pks/lookup?op=get&amp;search=0x" + c.primary.fingerprint.to_hex() + "\">" +
            c.primary.fingerprint.to_hex() + "</a> " + utc_date(c.primary.created) +
            (vc.revoked() ? " [revoked]" : "") + (vc.expired(now) ? " [expired]" : "") + "\n";
    for (std::size_t i = 0; i < c.user_ids.size(); ++i) {
      const auto& st = vc.user_id_states()[i];
      std::string_view uid = as_chars(c.user_ids[i].body);
      lines += "uid:" + mr_escape(uid) + ":::" + (st.revocation ? "r" : "") + "\n";
      html += "uid  " + html_escape(uid) + (st.revocation ? " [revoked]" : "") + "\n";
    }
    if (verbose) {
      for (std::size_t i = 0; i < c.subkeys.size(); ++i) {
        const auto& k = c.subkeys[i].key;
        html += "sub  " + std::to_string(k.bits) + " " +
                html_escape(openpgp::algorithm_name(k.algorithm)) + " " + k.fingerprint.to_hex() +
                " " + utc_date(k.created) + (vc.subkey_states()[i].revocation ? " [revoked]" : "") +
                "\n";
      }
    }
    html += "</pre>\n";
  }
  if (count == 0) {
    return text_reply(Status::kNotFound, "no key found");
  }
  Reply r;
  r.headers.emplace_back("X-HKP-Results-Count", std::to_string(count));
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  if (mr) {
    r.content_type = "text/plain; charset=utf-8";
    r.body = "info:1:" + std::to_string(count) + "\n" + lines;
    return r;
  }
  r.content_type = "text/html; charset=utf-8";
  r.body =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>keydir: search "
      "results</title></head><body>\n<h1>Search results</h1>\n" +
      html +
      (truncated ? "<p>Only the first " + std::to_string(options_.max_results) +
                       " results are shown.</p>\n"
                 : "") +
      "</body></html>\n";
  return r;
}

Reply Hkp::stats(bool mr) const {
  auto st = directory_.stats();
  if (!st) {
    return error_reply(st.error());
  }
  auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
          .count();
  // Change rates since start: certificates created or updated per hour.
  std::array<std::uint64_t, 4> up{};
  if (metrics_) {
    up = metrics_->uploads();
  }
  double hours = std::max(1.0, static_cast<double>(uptime)) / 3600.0;
  auto per_hour = [&](std::uint64_t n) { return static_cast<double>(n) / hours; };
  Reply r;
  if (mr) {
    nlohmann::json j = {
        {"software", "keydir"},
        {"version", "0.1.0"},
        {"certificates", st->certificates},
        {"last_change", st->last_seq},
        {"uptime_seconds", uptime},
        {"uploads_since_start",
         {{"new", up[0]}, {"updated", up[1]}, {"unchanged", up[2]}, {"refused", up[3]}}},
        {"new_per_hour", per_hour(up[0])},
        {"updated_per_hour", per_hour(up[1])}};
    auto peers = nlohmann::json::array();
    for (const auto& p : options_.peers) {
      peers.push_back({{"httpAddr", p.http_addr}, {"reconAddr", p.recon_addr}});
    }
    j["peers"] = std::move(peers);
    r.content_type = "application/json";
    r.body = j.dump() + "\n";
    return r;
  }
  r.content_type = "text/html; charset=utf-8";
  r.body =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>keydir "
      "statistics</title></head><body>\n<h1>keydir 0.1.0</h1>\n<p>Certificates: " +
      std::to_string(st->certificates) + "</p>\n<p>Changes: " + std::to_string(st->last_seq) +
      "</p>\n<p>Uptime: " + std::to_string(uptime) +
      " s</p>\n<p>Since start: " + std::to_string(up[0]) + " new, " + std::to_string(up[1]) +
      " updated, " + std::to_string(up[2]) + " unchanged, " + std::to_string(up[3]) + " refused (" +
      std::to_string(static_cast<std::uint64_t>(per_hour(up[0] + up[1]))) +
      " changes per hour)</p>\n";
  if (!options_.peers.empty()) {
    r.body += "<h2>Peers</h2>\n<table>\n<tr><th>HKP</th><th>recon</th></tr>\n";
    for (const auto& p : options_.peers) {
      r.body += "<tr><td>" + html_escape(p.http_addr) + "</td><td>" + html_escape(p.recon_addr) +
                "</td></tr>\n";
    }
    r.body += "</table>\n";
  }
  r.body += "</body></html>\n";
  return r;
}

Reply Hkp::hashquery(const HttpRequest& request) const {
  if (directory_.mode() != service::PublishMode::Open) {
    // Peers would receive user IDs whose owners have not confirmed them.
    return text_reply(Status::kForbidden,
                      "this server publishes confirmed addresses only and does not peer");
  }
  if (request.body.size() > limits::kMaxHashqueryBytes) {
    return text_reply(Status::kPayloadTooLarge, "hashquery larger than the limit");
  }
  ByteReader in(as_bytes(request.body), "hashquery");
  auto count = in.read_u32();
  if (!count || *count > limits::kMaxHashqueryHashes) {
    return text_reply(Status::kBadRequest, "hashquery: a count of at most " +
                                               std::to_string(limits::kMaxHashqueryHashes) +
                                               " hashes first");
  }
  std::string out(4, '\0');  // the count, known at the end
  std::uint32_t found = 0;
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto hash = in.read_length_prefixed(4, 16, 16);
    if (!hash) {
      return text_reply(Status::kBadRequest, "hashquery: each hash is 16 octets with its length");
    }
    if (out.size() >= limits::kMaxHashqueryAnswerBytes) {
      continue;  // the asker gets the rest in a later round
    }
    auto recs = directory_.lookup(Query{Query::BySksHash{Bytes(hash->begin(), hash->end())}}, 1);
    if (!recs) {
      return error_reply(recs.error());
    }
    for (const auto& rec : *recs) {
      append_be(out, rec.cert.size(), 4);
      out.append(reinterpret_cast<const char*>(rec.cert.data()), rec.cert.size());
      ++found;
    }
  }
  std::string found_count;
  append_be(found_count, found, 4);
  out.replace(0, 4, found_count);
  out += "\r\n";
  Reply r;
  r.content_type = "application/octet-stream";
  r.body = std::move(out);
  return r;
}

Reply Hkp::add(const HttpRequest& request) const {
  if (request.body.size() > limits::kMaxArmoredUploadBytes * 3) {
    return text_reply(Status::kPayloadTooLarge, "upload larger than the limit");
  }
  std::string keytext;
  if (request.content_type.starts_with("multipart/form-data")) {
    auto k = multipart_field(request.content_type, request.body, "keytext");
    if (!k) {
      return text_reply(Status::kBadRequest, "no keytext field in the form");
    }
    keytext = std::move(*k);
  } else if (request.content_type.empty() ||
             request.content_type.starts_with("application/x-www-form-urlencoded")) {
    auto form = parse_form(request.body, 8);
    if (!form) {
      return error_reply(form.error());
    }
    bool found = false;
    for (auto& [k, v] : *form) {
      if (k == "keytext") {
        keytext = std::move(v);
        found = true;
        break;
      }
    }
    if (!found) {
      return text_reply(Status::kBadRequest, "no keytext field in the form");
    }
  } else {
    return text_reply(
        Status::kUnsupportedMediaType,
        "use application/x-www-form-urlencoded or multipart/form-data with a keytext field");
  }
  if (keytext.size() > limits::kMaxArmoredUploadBytes) {
    return text_reply(
        Status::kPayloadTooLarge,
        "key text larger than " + std::to_string(limits::kMaxArmoredUploadBytes) + " octets");
  }
  auto report = directory_.upload(as_bytes(keytext), request.operator_upload);
  if (!report) {
    return error_reply(report.error());
  }
  // Per key "new|updated|unchanged FPR", then for each address this upload
  // held "  published ADDR" or "  withheld ADDR: REASON" (addresses are
  // normalised, reasons are one line of the server's own words).
  std::string body;
  for (const auto& s : report->stored) {
    body += std::string(service::outcome_name(s.outcome)) + " " + s.fingerprint.to_hex() + "\n";
    for (const auto& a : s.publication) {
      body += a.state == service::Publication::Published
                  ? "  published " + a.address + "\n"
                  : "  withheld " + a.address + ": " + a.reason + "\n";
    }
    if (metrics_) {
      metrics_->upload(service::outcome_name(s.outcome));
    }
  }
  if (metrics_) {
    for (std::size_t i = 0; i < report->refused.size(); ++i) {
      metrics_->upload("refused");
    }
  }
  int status = report->stored.empty() ? Status::kUnprocessable : Status::kOk;
  const std::size_t certificates = report->stored.size() + report->refused.size();
  for (const auto& r : report->refused) {
    // A storage failure is the server's, not the key's: logged with its
    // detail, answered without it.
    body += "refused " + (r.fingerprint ? r.fingerprint->to_hex() : std::string("-")) + ": " +
            public_reason(r.error) + "\n";
    if (report->stored.empty() && report->refused.size() == 1) {
      status = http_status(r.error.code, Surface::Upload);
    }
  }
  Reply r = text_reply(status, body);
  r.upload_certificates = certificates;
  return r;
}

}  // namespace keydir::api
