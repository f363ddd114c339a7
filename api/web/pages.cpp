#include "api/web/pages.hpp"

#include <algorithm>

#include "api/http/secret_routes.hpp"
#include "api/web/page_templates.hpp"
#include "api/web/templates.hpp"
#include "common/time_format.hpp"
#include "openpgp/types.hpp"

namespace keydir::api {

namespace {

constexpr std::string_view kCss =
    R"CSS(:root{--fg:#1b1b1b;--muted:#4a4a4a;--bg:#fff;--line:#c8c8c8;--accent:#0b57a4;--bad:#a8071a;--badbg:#fff1f0;--warn:#7a4d00;--warnbg:#fff7e0;--ok:#135200}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:60rem;margin:0 auto;padding:0 1rem}header{display:flex;flex-wrap:wrap;align-items:baseline;gap:1rem;border-bottom:1px solid var(--line)}
header h1{font-size:1.4rem;margin:.6rem 0}header h1 a{color:var(--fg);text-decoration:none}nav a{margin-right:1rem}a{color:var(--accent)}
footer{color:var(--muted);font-size:.9rem;border-top:1px solid var(--line);margin-top:2rem;padding-top:.5rem}
label{display:block;font-weight:600;margin:.8rem 0 .3rem}label.inline{display:inline;font-weight:400}form.inline{display:inline}form.inline button{margin:0 0 0 .5rem;padding:.1rem .6rem}fieldset{border:1px solid var(--line);border-radius:6px;margin:1rem 0}fieldset ul{list-style:none;padding-left:0}input[type=search],textarea{width:100%;padding:.5rem;font:inherit;border:1px solid #767676;border-radius:4px}
textarea{font-family:ui-monospace,monospace;font-size:.85rem}button{margin-top:.6rem;padding:.5rem 1.2rem;font:inherit;color:#fff;background:var(--accent);border:0;border-radius:4px;cursor:pointer}
button:focus,a:focus,input:focus,textarea:focus{outline:3px solid #ffbf47;outline-offset:1px}
.cert{border:1px solid var(--line);border-radius:6px;padding:.8rem 1rem;margin:1rem 0}.cert.revoked,.cert.expired{border:2px solid var(--bad)}
.banner{font-weight:700;padding:.4rem .6rem;border-radius:4px;margin:0 0 .6rem}.banner.revoked{color:var(--bad);background:var(--badbg)}.banner.expired{color:var(--warn);background:var(--warnbg)}
.fpr{font-family:ui-monospace,monospace;font-size:1.05rem;word-break:break-word}dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2rem 1rem;margin:.5rem 0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}code{overflow-wrap:anywhere}
ul.uids,ul.subkeys{padding-left:1.2rem;margin:.3rem 0}.tag{display:inline-block;font-size:.8rem;padding:0 .4rem;border:1px solid currentColor;border-radius:3px;margin-left:.4rem}
.tag.bad{color:var(--bad)}.tag.warn{color:var(--warn)}.ok{color:var(--ok)}.notice{padding:.6rem;border-left:4px solid var(--accent);background:#eef4fb}.error{border-left-color:var(--bad);background:var(--badbg)}
pre{background:#f4f4f4;padding:.6rem;overflow-x:auto}code{font-family:ui-monospace,monospace}
.fpr button{margin:0 0 0 .6rem;padding:.15rem .6rem;font-size:.85rem;vertical-align:middle}
.sr{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
@media (max-width:40rem){dl{grid-template-columns:1fr}dt{font-weight:600}}
)CSS";

// A key, drawn in one path.
constexpr std::string_view kIcon =
    R"SVG(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="10" cy="16" r="7" fill="none" stroke="#0b57a4" stroke-width="4"/><path d="M17 16h13v6M25 16v4" fill="none" stroke="#0b57a4" stroke-width="4"/></svg>)SVG";

constexpr std::string_view kJs = R"JS("use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-fpr]").forEach(function (el) {
    if (!navigator.clipboard) return;
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = "Copy";
    b.setAttribute("aria-label", "Copy the fingerprint");
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(el.getAttribute("data-fpr")).then(function () {
        b.textContent = "Copied";
      });
    });
    el.after(b);
  });
  var file = document.getElementById("keyfile");
  var text = document.getElementById("keytext");
  if (file && text) {
    file.addEventListener("change", function () {
      var f = file.files && file.files[0];
      if (!f || f.size > 1048576) return;
      f.text().then(function (t) {
        if (t.indexOf("-----BEGIN PGP PUBLIC KEY BLOCK-----") >= 0) {
          text.value = t;
          file.value = "";
        }
      });
    });
  }
});
)JS";

Reply html_reply(int status, std::string body) {
  Reply r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(body);
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'self'; script-src 'self'; "
                         "img-src 'self'; form-action 'self'; base-uri 'none'; "
                         "frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Cache-Control", "no-cache");
  // A page opened from /verify/<token> or /manage/<token> must not hand its
  // address (the token) to the next page's logs as a Referer.
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  return r;
}

std::string capabilities(std::optional<std::uint8_t> flags) {
  if (!flags) {
    return "no key flags";
  }
  std::vector<std::string> c;
  if (*flags & 0x01)
    c.emplace_back("certify");
  if (*flags & 0x02)
    c.emplace_back("sign");
  if (*flags & 0x0C)
    c.emplace_back("encrypt");
  if (*flags & 0x20)
    c.emplace_back("authenticate");
  if (c.empty()) {
    return "none";
  }
  std::string out;
  for (const auto& s : c) {
    out += (out.empty() ? "" : ", ") + s;
  }
  return out;
}

std::string key_type(const openpgp::PublicKey& k) {
  std::string s(openpgp::algorithm_name(k.algorithm));
  if (k.material.curve != openpgp::Curve::Unknown) {
    s += " " + std::string(openpgp::curve_name(k.material.curve));
  } else if (k.bits) {
    s += " " + std::to_string(k.bits) + " bits";
  }
  return s;
}

// A user ID as text: control characters (which no name or address needs)
// are shown as U+FFFD.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += "\xEF\xBF\xBD";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A whole page: `body` (a template of api/web/page_templates.hpp) in the
// layout, rendered with `data` (every value escaped: web::render()).
std::string page(std::string_view site, std::string_view title, std::string_view body,
                 web::View data = {}) {
  data.text("site_name", std::string(site)).text("page_title", std::string(title));
  return web::render(web::templates::kLayout, data,
                     {{"body", body},
                      {"search_form", web::templates::kSearchForm},
                      {"card", web::templates::kCard},
                      {"address_states", web::templates::kAddressStates}});
}

// A page holding only an error notice.
std::string error_page(std::string_view site, std::string_view title, std::string text,
                       bool alert) {
  return page(site, title, web::templates::kErrorNotice,
              web::View().text("text", text).flag("alert", alert));
}

}  // namespace

std::string grouped_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    if (i) {
      out += ' ';
    }
    out += hex.substr(i, 4);
  }
  return out;
}

Pages::Pages(service::KeyDirectory& directory, PagesOptions options, const UploadTokens& tokens,
             service::Verification* verification)
    : directory_(directory),
      options_(std::move(options)),
      tokens_(tokens),
      verification_(verification) {}

Reply Pages::message_page(int status, std::string_view title, std::string_view text,
                          bool error) const {
  return html_reply(status, page(options_.site_name, title, web::templates::kMessage,
                                 web::View().text("text", std::string(text)).flag("error", error)));
}

web::View Pages::address_states(const service::Stored& stored) const {
  const auto& fpr = stored.fingerprint;
  // Only the addresses this upload held: the stored key may have others that
  // its owner has not published (or took off), and the uploader may be
  // anyone who fetched the key by fingerprint.
  auto states = verifier()->states(fpr, stored.addresses);
  web::View v;
  if (!states || states->empty()) {
    return v.flag("no_addresses", true).flag("has_form", false);
  }
  std::vector<web::View> items;
  bool any = false;
  for (const auto& [addr, st] : *states) {
    const bool unpublished = st == service::AddressState::Unpublished;
    any = any || unpublished;
    items.push_back(web::View()
                        .text("id", "addr" + std::to_string(items.size()))
                        .text("address", addr)
                        .flag("unpublished", unpublished)
                        .text("state", std::string(service::state_name(st))));
  }
  return v.flag("no_addresses", false)
      .flag("has_form", true)
      .text("token", tokens_.make(UploadSession::of(fpr, stored.addresses)))
      .text("grouped", grouped_hex(fpr.to_hex()))
      .list("addresses", items)
      .flag("any", any);
}

Reply Pages::send_confirmations(const HttpRequest& request) const {
  if (!verifier()) {
    return message_page(Status::kNotFound, "Not needed", "This directory publishes every address.",
                        true);
  }
  auto form = parse_form(request.body, 32);
  if (!form) {
    return message_page(Status::kBadRequest, "Send confirmation mails", form.error().detail, true);
  }
  std::string token;
  std::vector<std::string> addresses;
  for (auto& [k, v] : *form) {
    if (k == "token") {
      token = v;
    } else if (k == "address") {
      auto e = openpgp::Email::parse(v);
      if (!e) {
        return message_page(Status::kBadRequest, "Send confirmation mails",
                            "not an e-mail address: " + v, true);
      }
      addresses.push_back(e->address());
    }
  }
  auto session = tokens_.check(token);
  if (!session) {
    return message_page(Status::kBadRequest, "Send confirmation mails", session.error().detail,
                        true);
  }
  if (addresses.empty()) {
    return message_page(Status::kBadRequest, "Send confirmation mails",
                        "Choose at least one address.", true);
  }
  for (const auto& a : addresses) {
    // The same answer whether or not the stored key has the address.
    if (!session->covers(a)) {
      return message_page(Status::kBadRequest, "Send confirmation mails",
                          "The upload did not contain the address " + a + ".", true);
    }
  }
  auto sent = verifier()->request(session->fingerprint, addresses, request.client);
  if (!sent) {
    const Error& e = sent.error();
    if (e.code == ErrorCode::MailFailed) {
      return message_page(Status::kServiceUnavailable, "Send confirmation mails",
                          "The mail could not be sent; try again later.", true);
    }
    Reply r = error_reply(e);
    return message_page(r.status, "Send confirmation mails", r.body, true);
  }
  std::string list;
  for (const auto& a : addresses) {
    list += (list.empty() ? "" : ", ") + a;
  }
  return message_page(Status::kOk, "Check your mail",
                      "A confirmation link was sent to " + list +
                          ". Each address is published when its link is followed.",
                      false);
}

Reply Pages::verify(const HttpRequest& request, std::string_view token) const {
  if (!verifier()) {
    return message_page(Status::kNotFound, "Not needed", "This directory publishes every address.",
                        true);
  }
  // A GET only shows what the link would do: mail scanners open links, and
  // publishing must be the owner's act (the button below, a POST).
  if (request.method != "POST") {
    auto t = verifier()->peek(token, storage::VerifyToken::Kind::Verify);
    if (!t) {
      return message_page(Status::kGone, "Link not valid", t.error().detail, true);
    }
    return html_reply(Status::kOk,
                      page(options_.site_name, "Publish your address", web::templates::kVerifyAsk,
                           web::View()
                               .text("email", t->email)
                               .text("grouped", grouped_hex(t->fingerprint.to_hex()))));
  }
  auto t = verifier()->confirm(token);
  if (!t) {
    if (t.error().code == ErrorCode::TokenInvalid) {
      return message_page(Status::kGone, "Link not valid", t.error().detail, true);
    }
    Reply r = error_reply(t.error());
    return message_page(r.status, "Publish your address", r.body, true);
  }
  const std::string hex = t->fingerprint.to_hex();
  return html_reply(
      Status::kOk,
      page(options_.site_name, "Published", web::templates::kVerifyDone,
           web::View().text("email", t->email).text("hex", hex).text("grouped", grouped_hex(hex))));
}

Reply Pages::manage(const HttpRequest& request) const {
  if (!verifier()) {
    return message_page(Status::kNotFound, "Not available",
                        "This directory publishes every address; there is nothing to manage.",
                        true);
  }
  if (request.method == "POST") {
    auto form = parse_form(request.body, 8);
    std::string email;
    if (form) {
      for (auto& [k, v] : *form) {
        if (k == "email") {
          email = v;
        }
      }
    }
    auto r = verifier()->request_manage(email, request.client);
    if (!r) {
      if (r.error().code == ErrorCode::MailFailed) {
        return message_page(Status::kServiceUnavailable, "Manage your key",
                            "The mail could not be sent; try again later.", true);
      }
      Reply e = error_reply(r.error());
      return message_page(e.status, "Manage your key", e.body, true);
    }
    // The same answer whether or not the address is published here.
    return message_page(Status::kOk, "Check your mail",
                        "If " + email +
                            " is published here, a link to manage its key was "
                            "sent to it.",
                        false);
  }
  return html_reply(Status::kOk,
                    page(options_.site_name, "Manage your key", web::templates::kManage));
}

Reply Pages::manage_key(const HttpRequest& request, std::string_view token) const {
  if (!verifier()) {
    return message_page(Status::kNotFound, "Not available", "Nothing to manage here.", true);
  }
  auto t = verifier()->peek(token, storage::VerifyToken::Kind::Manage);
  if (!t) {
    return message_page(Status::kGone, "Link not valid", t.error().detail, true);
  }
  web::View view;
  view.flag("has_notice", false);
  if (request.method == "POST") {
    auto form = parse_form(request.body, 8);
    std::string email;
    if (form) {
      for (auto& [k, v] : *form) {
        if (k == "address") {
          email = v;
        }
      }
    }
    auto r = verifier()->unpublish(token, email);
    if (!r) {
      Reply e = error_reply(r.error());
      return message_page(e.status, "Manage your key", e.body, true);
    }
    view.flag("has_notice", true).text("removed", email);
  }
  auto published = directory_.published(t->fingerprint);
  view.text("grouped", grouped_hex(t->fingerprint.to_hex()))
      .texts("published", published ? *published : std::vector<std::string>{});
  return html_reply(Status::kOk,
                    page(options_.site_name, "Manage your key", web::templates::kManageKey, view));
}

std::optional<Reply> Pages::handle(const HttpRequest& request) const {
  const std::string& p = request.path;
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (p == "/static/style.css" || p == "/static/app.js" || p == "/static/icon.svg" ||
      p == "/favicon.ico") {
    if (!get) {
      return method_not_allowed("GET, HEAD");
    }
    Reply r;
    if (p.ends_with(".css")) {
      r.content_type = "text/css; charset=utf-8";
      r.body = std::string(kCss);
    } else if (p.ends_with(".js")) {
      r.content_type = "text/javascript; charset=utf-8";
      r.body = std::string(kJs);
    } else {
      r.content_type = "image/svg+xml";
      r.body = std::string(kIcon);
    }
    r.headers.emplace_back("Cache-Control", "public, max-age=3600");
    return r;
  }
  if (p == "/" || p == "/index.html") {
    return get ? home("") : method_not_allowed("GET, HEAD");
  }
  if (p == "/search") {
    return get ? search(request) : method_not_allowed("GET, HEAD");
  }
  if (p == "/upload") {
    return request.method == "POST" ? upload(request) : method_not_allowed("POST");
  }
  if (p == "/upload/verify") {
    return request.method == "POST" ? send_confirmations(request) : method_not_allowed("POST");
  }
  // Token-bearing paths only through path_secret(): the access log redacts
  // exactly these (api/http/secret_routes.hpp).
  if (auto token = path_secret(p, SecretRoute::Verify)) {
    return get || request.method == "POST" ? verify(request, *token)
                                           : method_not_allowed("GET, HEAD, POST");
  }
  if (p == "/manage") {
    return get || request.method == "POST" ? manage(request)
                                           : method_not_allowed("GET, HEAD, POST");
  }
  if (auto token = path_secret(p, SecretRoute::Manage)) {
    return get || request.method == "POST" ? manage_key(request, *token)
                                           : method_not_allowed("GET, HEAD, POST");
  }
  if (p == "/about") {
    return get ? about(request) : method_not_allowed("GET, HEAD");
  }
  return std::nullopt;
}

Reply Pages::home(std::string_view notice) const {
  return html_reply(notice.empty() ? Status::kOk : Status::kBadRequest,
                    page(options_.site_name, "Search and publish", web::templates::kHome,
                         web::View()
                             .flag("has_notice", !notice.empty())
                             .text("notice", std::string(notice))
                             .text("query", "")));
}

web::View Pages::certificate_card(const openpgp::CertificateStates& vc) const {
  const auto& c = vc.cert();
  const auto now = directory_.now();
  const auto& ps = vc.primary_state();
  const bool revoked = vc.revoked();
  const bool expired = vc.expired(now);
  const std::string hex = c.primary.fingerprint.to_hex();
  web::View card;
  card.flag("revoked", revoked).flag("expired", !revoked && expired);
  if (revoked) {
    card.text("revoked_on", utc_date(ps.revocation->created))
        .flag("has_reason", !ps.revocation->reason.empty())
        .text("reason", ps.revocation->reason);
  } else if (expired) {
    card.text("expired_on", utc_date(*ps.expires));
  }
  card.text("hex", hex)
      .text("grouped", grouped_hex(hex))
      .text("type", key_type(c.primary))
      .text("version", std::to_string(c.primary.version))
      .text("created", utc_date(c.primary.created))
      .text("expires", ps.expires ? utc_date(*ps.expires) : std::string("never"))
      .text("can", capabilities(ps.flags));
  std::vector<web::View> uids;
  for (std::size_t i = 0; i < c.user_ids.size(); ++i) {
    const auto& st = vc.user_id_states()[i];
    uids.push_back(web::View()
                       .text("text", printable(as_chars(c.user_ids[i].body)))
                       .flag("primary", st.primary)
                       .flag("revoked", st.revocation.has_value()));
  }
  card.list("uids", uids).flag("verified_mode", directory_.verifies_addresses());
  std::vector<web::View> subkeys;
  for (std::size_t i = 0; i < c.subkeys.size(); ++i) {
    const auto& k = c.subkeys[i].key;
    const auto& st = vc.subkey_states()[i];
    const bool sub_revoked = st.revocation.has_value();
    subkeys.push_back(
        web::View()
            .text("grouped", grouped_hex(k.fingerprint.to_hex()))
            .text("type", key_type(k))
            .text("can", capabilities(st.flags))
            .text("created", utc_date(k.created))
            .text("expires", st.expires ? utc_date(*st.expires) : std::string("never"))
            .flag("revoked", sub_revoked)
            .flag("expired", !sub_revoked && st.expires && *st.expires <= now));
  }
  return card.list("subkeys", subkeys);
}

Reply Pages::search(const HttpRequest& request) const {
  std::string q(request.param("q").value_or(""));
  while (!q.empty() && (q.back() == ' ' || q.back() == '\t')) {
    q.pop_back();
  }
  while (!q.empty() && (q.front() == ' ' || q.front() == '\t')) {
    q.erase(q.begin());
  }
  if (q.empty()) {
    return home("Type an e-mail address, a fingerprint, a key ID or a name.");
  }
  if (q.size() > 256) {
    return home("That search is too long.");
  }
  // A bare 40/64-digit fingerprint (as people paste it, with spaces) works too.
  std::string compact;
  for (char ch : q) {
    if (ch != ' ') {
      compact.push_back(ch);
    }
  }
  bool hex = (compact.size() == 40 || compact.size() == 64 || compact.size() == 16) &&
             std::all_of(compact.begin(), compact.end(),
                         [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); });
  auto parsed = parse_search(hex ? "0x" + compact : q, false);
  if (!parsed) {
    return home(parsed.error().detail);
  }
  auto found = directory_.lookup(parsed->query, options_.max_results + 1);
  if (!found) {
    Reply r = error_reply(found.error());
    return html_reply(r.status, error_page(options_.site_name, "Error", r.body, false));
  }
  bool truncated = found->size() > options_.max_results;
  if (truncated) {
    found->resize(options_.max_results);
  }
  std::vector<web::View> cards;
  for (const auto& rec : *found) {
    if (auto vc = directory_.summarize(rec)) {
      cards.push_back(certificate_card(*vc));
    }
  }
  const std::size_t n = cards.size();
  web::View v;
  v.text("query", q)
      .text("heading",
            n == 0 ? std::string("No key found") : std::to_string(n) + (n == 1 ? " key" : " keys"))
      .flag("truncated", truncated)
      .text("max_results", std::to_string(options_.max_results))
      .list("cards", cards);
  return html_reply(n == 0 ? Status::kNotFound : Status::kOk,
                    page(options_.site_name, "Search: " + q, web::templates::kSearch, v));
}

Reply Pages::upload(const HttpRequest& request) const {
  if (request.body.size() > directory_.options().max_upload_bytes * 3) {
    return html_reply(Status::kPayloadTooLarge,
                      error_page(options_.site_name, "Upload",
                                 "The upload is larger than this server accepts.", true));
  }
  std::string keytext;
  if (request.content_type.starts_with("multipart/form-data")) {
    keytext = multipart_field(request.content_type, request.body, "keytext").value_or("");
    auto all_space = std::all_of(keytext.begin(), keytext.end(), [](char ch) {
      return std::isspace(static_cast<unsigned char>(ch));
    });
    if (all_space) {
      keytext = multipart_field(request.content_type, request.body, "keyfile").value_or("");
    }
  } else if (request.content_type.starts_with("application/x-www-form-urlencoded")) {
    auto form = parse_form(request.body, 8);
    if (form) {
      for (auto& [k, v] : *form) {
        if (k == "keytext") {
          keytext = std::move(v);
        }
      }
    }
  }
  if (std::all_of(keytext.begin(), keytext.end(),
                  [](char ch) { return std::isspace(static_cast<unsigned char>(ch)); })) {
    return home("Nothing to upload: paste a public key or choose a key file.");
  }
  auto report = directory_.upload(as_bytes(keytext), request.operator_upload);
  if (!report) {
    Reply e = error_reply(report.error());
    return html_reply(e.status, error_page(options_.site_name, "Upload",
                                           "The key was not accepted: " + e.body, true));
  }
  std::vector<web::View> stored;
  std::vector<web::View> states;
  for (const auto& s : report->stored) {
    const std::string hex = s.fingerprint.to_hex();
    web::View item;
    item.text("outcome", s.outcome == service::Outcome::New ? "Published: "
                         : s.outcome == service::Outcome::Updated
                             ? "Updated: "
                             : "Unchanged (already published): ")
        .text("hex", hex)
        .text("grouped", grouped_hex(hex))
        .flag("has_stripped", !s.stripped.empty());
    if (!s.stripped.empty()) {
      item.text("stripped_count", std::to_string(s.stripped.size()))
          .text("stripped_component", s.stripped.front().component)
          .text("stripped_reason", s.stripped.front().reason)
          .flag("more_stripped", s.stripped.size() > 1);
    }
    stored.push_back(std::move(item));
    if (verifier()) {
      states.push_back(address_states(s));
    }
  }
  std::vector<web::View> refused;
  for (const auto& r : report->refused) {
    refused.push_back(
        web::View()
            .flag("has_fpr", r.fingerprint.has_value())
            .text("grouped", r.fingerprint ? grouped_hex(r.fingerprint->to_hex()) : "")
            .text("reason", public_reason(r.error)));
  }
  int status = report->stored.empty() ? Status::kUnprocessable : Status::kOk;
  return html_reply(
      status,
      page(options_.site_name, "Upload", web::templates::kUpload,
           web::View().list("stored", stored).list("states", states).list("refused", refused)));
}

Reply Pages::about(const HttpRequest& request) const {
  const std::string host = request.host.empty() ? "keys.example.org" : request.host;
  const std::string scheme = options_.tls ? "https" : "http";
  const std::string hkp = options_.tls ? "hkps://" + host : "hkp://" + host;
  return html_reply(Status::kOk,
                    page(options_.site_name, "How to use this server", web::templates::kAbout,
                         web::View()
                             .text("hkp", hkp)
                             .flag("tls", options_.tls)
                             .text("thunderbird", options_.tls ? "hkps://" + host : hkp)
                             .text("base", scheme + "://" + host)
                             .flag("has_wkd", !options_.wkd_domains.empty())
                             .texts("wkd_domains", options_.wkd_domains)));
}

}  // namespace keydir::api
