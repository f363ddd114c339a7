#include "api/web/pages.hpp"

#include <algorithm>

#include "api/http/secret_routes.hpp"
#include "common/time_format.hpp"
#include "openpgp/types.hpp"

namespace keydir::api {

namespace {

constexpr std::string_view kCss = R"CSS(:root{--fg:#1b1b1b;--muted:#4a4a4a;--bg:#fff;--line:#c8c8c8;--accent:#0b57a4;--bad:#a8071a;--badbg:#fff1f0;--warn:#7a4d00;--warnbg:#fff7e0;--ok:#135200}
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

std::string page(std::string_view site, std::string_view title, std::string_view body) {
  std::string out;
  out.reserve(body.size() + 1024);
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>";
  out += html_escape(title);
  out += " · ";
  out += html_escape(site);
  out += "</title><link rel=\"stylesheet\" href=\"/static/style.css\">"
         "<link rel=\"icon\" href=\"/static/icon.svg\" type=\"image/svg+xml\">"
         "<script src=\"/static/app.js\" defer></script></head><body>"
         "<header><h1><a href=\"/\">";
  out += html_escape(site);
  out += "</a></h1><nav aria-label=\"Main\"><a href=\"/\">Search and publish</a>"
         "<a href=\"/about\">How to use this server</a></nav></header><main>";
  out += body;
  out += "</main><footer>An OpenPGP key directory: HKP, WKD and the VKS API. "
         "Keys are checked before they are stored; this server does not vouch for who owns "
         "them.</footer></body></html>\n";
  return out;
}

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
  if (*flags & 0x01) c.emplace_back("certify");
  if (*flags & 0x02) c.emplace_back("sign");
  if (*flags & 0x0C) c.emplace_back("encrypt");
  if (*flags & 0x20) c.emplace_back("authenticate");
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

std::string search_form(std::string_view value) {
  return "<form action=\"/search\" method=\"get\" role=\"search\">"
         "<label for=\"q\">E-mail address, fingerprint, key ID or name</label>"
         "<input id=\"q\" name=\"q\" type=\"search\" required value=\"" +
         html_escape(value) +
         "\" placeholder=\"alice@example.org\"><button type=\"submit\">Search</button></form>";
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
  std::string b = "<h2>" + html_escape(title) + "</h2><p class=\"notice" +
                  (error ? std::string(" error\" role=\"alert") : std::string()) + "\">" +
                  html_escape(text) + "</p><p><a href=\"/\">Back</a></p>";
  return html_reply(status, page(options_.site_name, title, b));
}

std::string Pages::address_states(const service::Stored& stored) const {
  if (!verifier()) {
    return "";
  }
  const auto& fpr = stored.fingerprint;
  // Only the addresses this upload held: the stored key may have others that
  // its owner has not published (or took off), and the uploader may be
  // anyone who fetched the key by fingerprint.
  auto states = verifier()->states(fpr, stored.addresses);
  if (!states || states->empty()) {
    return "<p>This upload has no e-mail address to publish.</p>";
  }
  std::string b = "<form action=\"/upload/verify\" method=\"post\"><input type=\"hidden\" "
                  "name=\"token\" value=\"" +
                  tokens_.make(UploadSession::of(fpr, stored.addresses)) +
                  "\"><fieldset><legend>Addresses of <code>" + grouped_hex(fpr.to_hex()) +
                  "</code> in this upload</legend><ul>";
  bool any = false;
  std::size_t n = 0;
  for (const auto& [addr, st] : *states) {
    const std::string id = "addr" + std::to_string(n++);
    b += "<li>";
    if (st == service::AddressState::Unpublished) {
      any = true;
      b += "<input type=\"checkbox\" name=\"address\" id=\"" + id + "\" value=\"" +
           html_escape(addr) + "\" checked> <label class=\"inline\" for=\"" + id + "\">" +
           html_escape(addr) + "</label>";
    } else {
      b += html_escape(addr);
    }
    b += " <span class=\"tag\">" + std::string(service::state_name(st)) + "</span></li>";
  }
  b += "</ul></fieldset>";
  if (any) {
    b += "<p>An address is published only once its owner confirms it: each one gets a mail "
         "with a link.</p><button type=\"submit\">Send confirmation mails</button>";
  }
  return b + "</form>";
}

Reply Pages::send_confirmations(const HttpRequest& request) const {
  if (!verifier()) {
    return message_page(404, "Not needed", "This directory publishes every address.", true);
  }
  auto form = parse_form(request.body, 32);
  if (!form) {
    return message_page(400, "Send confirmation mails", form.error().detail, true);
  }
  std::string token;
  std::vector<std::string> addresses;
  for (auto& [k, v] : *form) {
    if (k == "token") {
      token = v;
    } else if (k == "address") {
      auto e = openpgp::Email::parse(v);
      if (!e) {
        return message_page(400, "Send confirmation mails", "not an e-mail address: " + v, true);
      }
      addresses.push_back(e->address());
    }
  }
  auto session = tokens_.check(token);
  if (!session) {
    return message_page(400, "Send confirmation mails", session.error().detail, true);
  }
  if (addresses.empty()) {
    return message_page(400, "Send confirmation mails", "Choose at least one address.", true);
  }
  for (const auto& a : addresses) {
    // The same answer whether or not the stored key has the address.
    if (!session->covers(a)) {
      return message_page(400, "Send confirmation mails",
                          "The upload did not contain the address " + a + ".", true);
    }
  }
  auto sent = verifier()->request(session->fingerprint, addresses, request.client);
  if (!sent) {
    const Error& e = sent.error();
    if (e.code == ErrorCode::MailFailed) {
      return message_page(503, "Send confirmation mails",
                          "The mail could not be sent; try again later.", true);
    }
    Reply r = error_reply(e);
    return message_page(r.status, "Send confirmation mails", r.body, true);
  }
  std::string list;
  for (const auto& a : addresses) {
    list += (list.empty() ? "" : ", ") + a;
  }
  return message_page(200, "Check your mail",
                      "A confirmation link was sent to " + list +
                          ". Each address is published when its link is followed.",
                      false);
}

Reply Pages::verify(const HttpRequest& request, std::string_view token) const {
  if (!verifier()) {
    return message_page(404, "Not needed", "This directory publishes every address.", true);
  }
  // A GET only shows what the link would do: mail scanners open links, and
  // publishing must be the owner's act (the button below, a POST).
  if (request.method != "POST") {
    auto t = verifier()->peek(token, storage::VerifyToken::Kind::Verify);
    if (!t) {
      return message_page(410, "Link not valid", t.error().detail, true);
    }
    std::string b = "<h2>Publish your address</h2><p>Publish <strong>" + html_escape(t->email) +
                    "</strong> with the OpenPGP key <code>" +
                    grouped_hex(t->fingerprint.to_hex()) +
                    "</code>? Anyone will then find this key by that address.</p>"
                    "<form method=\"post\"><button type=\"submit\">Publish</button></form>";
    return html_reply(200, page(options_.site_name, "Publish your address", b));
  }
  auto t = verifier()->confirm(token);
  if (!t) {
    if (t.error().code == ErrorCode::TokenInvalid) {
      return message_page(410, "Link not valid", t.error().detail, true);
    }
    Reply r = error_reply(t.error());
    return message_page(r.status, "Publish your address", r.body, true);
  }
  std::string b = "<h2>Published</h2><p class=\"notice\">" + html_escape(t->email) +
                  " is now published with the key <a href=\"/search?q=0x" +
                  t->fingerprint.to_hex() + "\"><code>" + grouped_hex(t->fingerprint.to_hex()) +
                  "</code></a>. To take it off later, use <a href=\"/manage\">Manage your "
                  "key</a>.</p>";
  return html_reply(200, page(options_.site_name, "Published", b));
}

Reply Pages::manage(const HttpRequest& request) const {
  if (!verifier()) {
    return message_page(404, "Not available",
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
        return message_page(503, "Manage your key", "The mail could not be sent; try again later.",
                            true);
      }
      Reply e = error_reply(r.error());
      return message_page(e.status, "Manage your key", e.body, true);
    }
    // The same answer whether or not the address is published here.
    return message_page(200, "Check your mail",
                        "If " + email + " is published here, a link to manage its key was "
                        "sent to it.",
                        false);
  }
  std::string b = "<h2>Manage your key</h2><form action=\"/manage\" method=\"post\">"
                  "<label for=\"email\">Your e-mail address</label><input id=\"email\" "
                  "name=\"email\" type=\"email\" required autocomplete=\"email\">"
                  "<p>You get a link from which you can unpublish the addresses of your key.</p>"
                  "<button type=\"submit\">Send me a link</button></form>";
  return html_reply(200, page(options_.site_name, "Manage your key", b));
}

Reply Pages::manage_key(const HttpRequest& request, std::string_view token) const {
  if (!verifier()) {
    return message_page(404, "Not available", "Nothing to manage here.", true);
  }
  auto t = verifier()->peek(token, storage::VerifyToken::Kind::Manage);
  if (!t) {
    return message_page(410, "Link not valid", t.error().detail, true);
  }
  std::string notice;
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
    notice = "<p class=\"notice\" role=\"status\">" + html_escape(email) +
             " is no longer published.</p>";
  }
  auto published = directory_.published(t->fingerprint);
  std::string b = "<h2>Manage your key</h2>" + notice + "<p>Key <code>" +
                  grouped_hex(t->fingerprint.to_hex()) + "</code>. Published addresses:</p><ul>";
  if (published && !published->empty()) {
    for (const auto& a : *published) {
      b += "<li>" + html_escape(a) + " <form class=\"inline\" method=\"post\"><input "
           "type=\"hidden\" name=\"address\" value=\"" + html_escape(a) +
           "\"><button type=\"submit\">Unpublish</button></form></li>";
    }
  } else {
    b += "<li>none</li>";
  }
  b += "</ul><p>The key itself (and its revocations) stays available by fingerprint: a revoked "
       "key must remain findable so that others learn it was revoked.</p>";
  return html_reply(200, page(options_.site_name, "Manage your key", b));
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
    return get || request.method == "POST" ? manage(request) : method_not_allowed("GET, HEAD, POST");
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
  std::string b;
  if (!notice.empty()) {
    b += "<p class=\"notice error\" role=\"alert\">" + html_escape(notice) + "</p>";
  }
  b += "<section aria-labelledby=\"find\"><h2 id=\"find\">Find a key</h2>" + search_form("") +
       "</section>";
  b += "<section aria-labelledby=\"pub\"><h2 id=\"pub\">Publish your public key</h2>"
       "<form action=\"/upload\" method=\"post\" enctype=\"multipart/form-data\">"
       "<label for=\"keytext\">Paste your public key (ASCII armored)</label>"
       "<textarea id=\"keytext\" name=\"keytext\" rows=\"8\" spellcheck=\"false\" "
       "placeholder=\"-----BEGIN PGP PUBLIC KEY BLOCK-----\"></textarea>"
       "<label for=\"keyfile\">or choose a key file</label>"
       "<input id=\"keyfile\" name=\"keyfile\" type=\"file\" "
       "accept=\".asc,.gpg,.pgp,.key,application/pgp-keys\">"
       "<p>Only public keys are accepted. Each key is checked: signatures that do not verify, "
       "third-party certifications and photo IDs are left out.</p>"
       "<button type=\"submit\">Upload</button></form></section>";
  return html_reply(notice.empty() ? 200 : 400, page(options_.site_name, "Search and publish", b));
}

std::string Pages::certificate_card(const openpgp::CertificateStates& vc) const {
  const auto& c = vc.cert();
  const auto now = directory_.now();
  const auto& ps = vc.primary_state();
  const bool revoked = vc.revoked();
  const bool expired = vc.expired(now);
  const std::string hex = c.primary.fingerprint.to_hex();
  std::string s = "<article class=\"cert";
  s += revoked ? " revoked" : expired ? " expired" : "";
  s += "\">";
  if (revoked) {
    s += "<p class=\"banner revoked\">REVOKED on " + utc_date(ps.revocation->created);
    if (!ps.revocation->reason.empty()) {
      s += ": " + html_escape(ps.revocation->reason);
    }
    s += " — do not use this key.</p>";
  } else if (expired) {
    s += "<p class=\"banner expired\">EXPIRED on " + utc_date(*ps.expires) +
         " — do not use this key.</p>";
  }
  s += "<h3 class=\"fpr\"><span data-fpr=\"" + hex + "\">" + grouped_hex(hex) + "</span></h3>";
  s += "<dl><dt>Type</dt><dd>" + html_escape(key_type(c.primary)) + " (v" +
       std::to_string(c.primary.version) + ")</dd>";
  s += "<dt>Created</dt><dd>" + utc_date(c.primary.created) + "</dd>";
  s += "<dt>Expires</dt><dd>" + (ps.expires ? utc_date(*ps.expires) : std::string("never")) +
       "</dd>";
  s += "<dt>Can</dt><dd>" + capabilities(ps.flags) + "</dd>";
  s += "<dt>Download</dt><dd><a href=\"/pks/lookup?op=get&amp;options=mr&amp;search=0x" + hex +
       "\" download=\"" + hex + ".asc\">" + hex + ".asc</a></dd></dl>";
  s += "<h4>User IDs</h4><ul class=\"uids\">";
  for (std::size_t i = 0; i < c.user_ids.size(); ++i) {
    const auto& st = vc.user_id_states()[i];
    s += "<li>" + html_escape(printable(as_chars(c.user_ids[i].body)));
    if (st.primary) {
      s += "<span class=\"tag\">primary</span>";
    }
    if (st.revocation) {
      s += "<span class=\"tag bad\">revoked</span>";
    }
    s += "</li>";
  }
  if (c.user_ids.empty()) {
    s += "<li>(none)</li>";
  }
  s += "</ul>";
  if (directory_.verifies_addresses()) {
    // The same words on every card: how many user IDs a key has beyond the
    // published ones is its owner's business (issue #16).
    s += "<p class=\"notice\">This directory shows only the user IDs whose addresses their "
         "owners have confirmed by e-mail.";
    if (c.user_ids.empty()) {
      s += " GnuPG 2.2 skips a key with no user ID when it is new to it; updates of a key "
           "already in its keyring (revocations, new subkeys) still reach it.";
    }
    s += "</p>";
  }
  s += "<h4>Subkeys</h4><ul class=\"subkeys\">";
  for (std::size_t i = 0; i < c.subkeys.size(); ++i) {
    const auto& k = c.subkeys[i].key;
    const auto& st = vc.subkey_states()[i];
    s += "<li><code>" + grouped_hex(k.fingerprint.to_hex()) + "</code> " +
         html_escape(key_type(k)) + ", " + capabilities(st.flags) + ", created " +
         utc_date(k.created) + ", expires " +
         (st.expires ? utc_date(*st.expires) : std::string("never"));
    if (st.revocation) {
      s += "<span class=\"tag bad\">revoked</span>";
    } else if (st.expires && *st.expires <= now) {
      s += "<span class=\"tag warn\">expired</span>";
    }
    s += "</li>";
  }
  if (c.subkeys.empty()) {
    s += "<li>(none)</li>";
  }
  s += "</ul></article>";
  return s;
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
    return html_reply(r.status, page(options_.site_name, "Error",
                                     "<p class=\"notice error\">" + html_escape(r.body) + "</p>"));
  }
  bool truncated = found->size() > options_.max_results;
  if (truncated) {
    found->resize(options_.max_results);
  }
  std::string cards;
  std::size_t n = 0;
  for (const auto& rec : *found) {
    if (auto vc = directory_.summarize(rec)) {
      cards += certificate_card(*vc);
      ++n;
    }
  }
  std::string b = "<section aria-labelledby=\"find\"><h2 id=\"find\" class=\"sr\">Search</h2>" +
                  search_form(q) + "</section><section aria-labelledby=\"res\">";
  b += "<h2 id=\"res\">";
  b += n == 0 ? "No key found" : std::to_string(n) + (n == 1 ? " key" : " keys");
  b += " for “" + html_escape(q) + "”</h2>";
  if (truncated) {
    b += "<p class=\"notice\">Only the first " + std::to_string(options_.max_results) +
         " are shown; make the search more precise.</p>";
  }
  b += cards + "</section>";
  return html_reply(n == 0 ? 404 : 200, page(options_.site_name, "Search: " + q, b));
}

Reply Pages::upload(const HttpRequest& request) const {
  if (request.body.size() > directory_.options().max_upload_bytes * 3) {
    return html_reply(413, page(options_.site_name, "Upload",
                                "<p class=\"notice error\" role=\"alert\">The upload is larger "
                                "than this server accepts.</p>"));
  }
  std::string keytext;
  if (request.content_type.starts_with("multipart/form-data")) {
    keytext = multipart_field(request.content_type, request.body, "keytext").value_or("");
    auto all_space = std::all_of(keytext.begin(), keytext.end(),
                                 [](char ch) { return std::isspace(static_cast<unsigned char>(ch)); });
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
    return html_reply(e.status, page(options_.site_name, "Upload",
                                     "<p class=\"notice error\" role=\"alert\">The key was not "
                                     "accepted: " + html_escape(e.body) + "</p>"));
  }
  std::string b = "<h2>Upload</h2><ul>";
  for (const auto& s : report->stored) {
    const std::string hex = s.fingerprint.to_hex();
    b += "<li class=\"ok\">";
    b += s.outcome == service::Outcome::New       ? "Published: "
         : s.outcome == service::Outcome::Updated ? "Updated: "
                                                   : "Unchanged (already published): ";
    b += "<a href=\"/search?q=0x" + hex + "\"><code>" + grouped_hex(hex) + "</code></a>";
    if (!s.stripped.empty()) {
      b += " — left out: " + std::to_string(s.stripped.size()) + " part(s) (" +
           html_escape(s.stripped.front().component) + ": " +
           html_escape(s.stripped.front().reason) + (s.stripped.size() > 1 ? ", …" : "") + ")";
    }
    b += "</li>";
  }
  b += "</ul>";
  for (const auto& st : report->stored) {
    b += address_states(st);
  }
  b += "<ul>";
  for (const auto& r : report->refused) {
    b += "<li class=\"notice error\">Refused";
    if (r.fingerprint) {
      b += " <code>" + grouped_hex(r.fingerprint->to_hex()) + "</code>";
    }
    b += ": " + html_escape(public_reason(r.error)) + "</li>";
  }
  b += "</ul><p><a href=\"/\">Back</a></p>";
  int status = report->stored.empty() ? 422 : 200;
  return html_reply(status, page(options_.site_name, "Upload", b));
}

Reply Pages::about(const HttpRequest& request) const {
  const std::string host = request.host.empty() ? "keys.example.org" : request.host;
  const std::string scheme = options_.tls ? "https" : "http";
  const std::string hkp = options_.tls ? "hkps://" + host : "hkp://" + host;
  const std::string base = scheme + "://" + host;
  std::string b = "<h2>How to use this server</h2>";
  b += "<h3>GnuPG</h3><p>In <code>~/.gnupg/dirmngr.conf</code>:</p><pre>keyserver " +
       html_escape(hkp) + "</pre><pre>gpg --send-keys YOUR-FINGERPRINT\n"
       "gpg --recv-keys FINGERPRINT\ngpg --search-keys alice@example.org\n"
       "gpg --refresh-keys</pre>";
  if (!options_.tls) {
    b += "<p class=\"notice\">This server answers in plain HTTP here. Put it behind HTTPS (or "
         "start it with <code>--tls-cert</code> and <code>--tls-key</code>) so that keys and "
         "searches do not travel in clear text.</p>";
  }
  b += "<h3>Thunderbird</h3><p>Settings → General → Config Editor: set "
       "<code>mail.openpgp.keyserver_list</code> to <code>" +
       html_escape(options_.tls ? "hkps://" + host : hkp) +
       "</code>. Thunderbird also finds keys by e-mail address through this server's "
       "VKS API and the Web Key Directory of the domains below.</p>";
  b += "<h3>curl</h3><pre>curl '" + html_escape(base) +
       "/pks/lookup?op=get&amp;options=mr&amp;search=alice@example.org'\n"
       "curl " + html_escape(base) + "/vks/v1/by-email/alice@example.org\n"
       "curl --data-urlencode keytext@key.asc " + html_escape(base) + "/pks/add\n"
       "curl -H 'Content-Type: application/json' --data '{\"keytext\": \"…\"}' " +
       html_escape(base) + "/vks/v1/upload</pre>";
  b += "<h3>Web Key Directory</h3>";
  if (options_.wkd_domains.empty()) {
    b += "<p>This server publishes no Web Key Directory. An operator turns it on per domain "
         "with <code>keydird serve --wkd-domain example.org</code> (or "
         "<code>wkd_domains</code> in the configuration file).</p>";
  } else {
    b += "<p>This server publishes the Web Key Directory of:</p><ul>";
    for (const auto& d : options_.wkd_domains) {
      b += "<li><code>" + html_escape(d) + "</code></li>";
    }
    b += "</ul><p>To make <code>gpg --locate-keys</code> and mail clients find keys of a "
         "domain <var>D</var> here, use one of the two methods of the draft:</p><ol>"
         "<li><strong>Advanced:</strong> a DNS record <code>openpgpkey.<var>D</var></code> "
         "pointing to this server, and an HTTPS certificate for that name. Clients ask "
         "<code>https://openpgpkey.<var>D</var>/.well-known/openpgpkey/<var>D</var>/hu/…</code>"
         ".</li><li><strong>Direct:</strong> the web server of <code><var>D</var></code> "
         "passes <code>/.well-known/openpgpkey/</code> on to this server (keeping the "
         "<code>Host</code> header).</li></ol><p>Or export a static tree for your own web "
         "server: <code>keydird wkd-export --data DIR --domain <var>D</var> --out "
         "DIR</code>. Check with <code>gpg-wks-client --print-wkd-url you@<var>D</var></code> "
         "and <code>gpg --auto-key-locate clear,nodefault,wkd --locate-keys "
         "you@<var>D</var></code>.</p>";
  }
  return html_reply(200, page(options_.site_name, "How to use this server", b));
}

}  // namespace keydir::api
