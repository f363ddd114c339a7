#include "api/web/pages.hpp"

#include <algorithm>

#include "api/http/secret_routes.hpp"
#include "api/web/api_doc_html.hpp"
#include "api/web/page_templates.hpp"
#include "api/web/templates.hpp"
#include "common/time_format.hpp"
#include "openpgp/types.hpp"

namespace keydir::api {

namespace {

constexpr std::string_view kCss =
    R"CSS(:root{--fg:#1b1b1b;--muted:#4a4a4a;--bg:#fff;--line:#c8c8c8;--accent:#0b57a4;--bad:#a8071a;--badbg:#fff1f0;--warn:#7a4d00;--warnbg:#fff7e0;--ok:#135200}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:60rem;margin:0 auto;padding:0 1rem}main,footer{overflow-wrap:anywhere}header{display:flex;flex-wrap:wrap;align-items:baseline;gap:1rem;border-bottom:1px solid var(--line)}
header h1{font-size:1.4rem;margin:.6rem 0}header h1 a{color:var(--fg);text-decoration:none}nav{display:flex;flex-wrap:wrap;gap:.1rem 1rem}nav a{white-space:nowrap}a{color:var(--accent)}
footer{color:var(--muted);font-size:.9rem;border-top:1px solid var(--line);margin-top:2rem;padding-top:.5rem}
label{display:block;font-weight:600;margin:.8rem 0 .3rem}label.inline{display:inline;font-weight:400}form.inline{display:inline}form.inline button{margin:0 0 0 .5rem;padding:.1rem .6rem}fieldset{border:1px solid var(--line);border-radius:6px;margin:1rem 0}fieldset ul{list-style:none;padding-left:0}input[type=search],textarea{width:100%;padding:.5rem;font:inherit;border:1px solid #767676;border-radius:4px}
textarea{font-family:ui-monospace,monospace;font-size:.85rem}button{margin-top:.6rem;padding:.5rem 1.2rem;font:inherit;color:#fff;background:var(--accent);border:0;border-radius:4px;cursor:pointer}
button:focus,a:focus,input:focus,textarea:focus{outline:3px solid #ffbf47;outline-offset:1px}
.cert{border:1px solid var(--line);border-radius:6px;padding:.8rem 1rem;margin:1rem 0}.cert.revoked,.cert.expired{border:2px solid var(--bad)}
.banner{font-weight:700;padding:.4rem .6rem;border-radius:4px;margin:0 0 .6rem}.banner.revoked{color:var(--bad);background:var(--badbg)}.banner.expired{color:var(--warn);background:var(--warnbg)}
.fpr{font-family:ui-monospace,monospace;font-size:1.05rem;word-break:break-word}.fpr a{color:var(--fg)}dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2rem 1rem;margin:.5rem 0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}code{overflow-wrap:anywhere}
ul.uids,ul.subkeys{padding-left:1.2rem;margin:.3rem 0}.tag{display:inline-block;font-size:.8rem;padding:0 .4rem;border:1px solid currentColor;border-radius:3px;margin-left:.4rem}
.tag.bad{color:var(--bad)}.tag.warn{color:var(--warn)}.ok{color:var(--ok)}.notice{padding:.6rem;border-left:4px solid var(--accent);background:#eef4fb}.error{border-left-color:var(--bad);background:var(--badbg)}
pre{background:#f4f4f4;padding:.6rem;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}.muted{color:var(--muted)}
.doc table{border-collapse:collapse;display:block;overflow-x:auto;max-width:100%}.doc th,.doc td{border:1px solid var(--line);padding:.2rem .5rem;text-align:left;vertical-align:top}.doc pre code{overflow-wrap:anywhere}code{font-family:ui-monospace,monospace}
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

// A key's type in the words people know: "Ed25519", "Curve25519",
// "RSA 4096", "NIST P-256" (what it can do is said next to it).
std::string key_type(const openpgp::PublicKey& k) {
  using A = openpgp::PublicKeyAlgorithm;
  using C = openpgp::Curve;
  const std::string bits = k.bits ? " " + std::to_string(k.bits) : std::string();
  switch (k.algorithm) {
    case A::Rsa:
    case A::RsaEncryptOnly:
    case A::RsaSignOnly:
      return "RSA" + bits;
    case A::Dsa:
      return "DSA" + bits;
    case A::ElGamalEncryptOnly:
    case A::ElGamalEncryptOrSign:
      return "ElGamal" + bits;
    case A::Ed25519:
      return "Ed25519";
    case A::Ed448:
      return "Ed448";
    case A::X25519:
      return "Curve25519";
    case A::X448:
      return "Curve448";
    default:
      break;
  }
  switch (k.material.curve) {
    case C::Ed25519Legacy:
      return "Ed25519";
    case C::Curve25519Legacy:
      return "Curve25519";
    case C::NistP256:
      return "NIST P-256";
    case C::NistP384:
      return "NIST P-384";
    case C::NistP521:
      return "NIST P-521";
    case C::BrainpoolP256r1:
      return "Brainpool P-256";
    case C::BrainpoolP384r1:
      return "Brainpool P-384";
    case C::BrainpoolP512r1:
      return "Brainpool P-512";
    case C::Secp256k1:
      return "secp256k1";
    default:
      break;
  }
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

// The operator's policy text as blocks of kPolicy: "#" lines are headings,
// "- " and "* " lines list items, other lines paragraphs (a blank line ends
// one). Everything is text: escaped when rendered, never HTML.
std::vector<web::View> policy_blocks(std::string_view text) {
  std::vector<web::View> blocks;
  std::string para;
  std::vector<std::string> items;
  auto block = [](bool heading, bool is_para, bool list, const std::string& t,
                  const std::vector<std::string>& lines) {
    return web::View()
        .flag("heading", heading)
        .flag("para", is_para)
        .flag("list", list)
        .text("text", t)
        .texts("lines", lines);
  };
  auto flush = [&] {
    if (!para.empty()) {
      blocks.push_back(block(false, true, false, para, {}));
      para.clear();
    }
    if (!items.empty()) {
      blocks.push_back(block(false, false, true, "", items));
      items.clear();
    }
  };
  std::size_t from = 0;
  while (from <= text.size()) {
    std::size_t end = text.find('\n', from);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view raw = text.substr(from, end - from);
    from = end + 1;
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\r' || raw.back() == '\t')) {
      raw.remove_suffix(1);
    }
    const std::string line = printable(raw);
    std::size_t lead = line.find_first_not_of(' ');
    if (lead == std::string::npos) {
      flush();
      continue;
    }
    std::string_view l = std::string_view(line).substr(lead);
    if (l.starts_with("#")) {
      flush();
      l.remove_prefix(
          l.find_first_not_of('#') == std::string_view::npos ? l.size() : l.find_first_not_of('#'));
      while (!l.empty() && l.front() == ' ') {
        l.remove_prefix(1);
      }
      blocks.push_back(block(true, false, false, std::string(l), {}));
    } else if (l.starts_with("- ") || l.starts_with("* ")) {
      if (!para.empty()) {
        blocks.push_back(block(false, true, false, para, {}));
        para.clear();
      }
      items.emplace_back(l.substr(2));
    } else if (!items.empty() && lead >= 2) {
      items.back() += " " + std::string(l);  // an item's next line
    } else {
      if (!items.empty()) {
        flush();
      }
      para += (para.empty() ? "" : " ") + std::string(l);
    }
    if (end == text.size()) {
      break;
    }
  }
  flush();
  return blocks;
}

std::string_view header_of(const Reply& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) {
      return v;
    }
  }
  return {};
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& x : v) {
    out += (out.empty() ? "" : std::string(sep)) + x;
  }
  return out;
}

// The URLs of the pages' examples, from the Host header.
struct SiteUrls {
  std::string hkp;   // hkp://host or hkps://host
  std::string base;  // http(s)://host
};
SiteUrls site_urls(const HttpRequest& request, bool tls) {
  const std::string host = request.host.empty() ? "keys.example.org" : request.host;
  return {(tls ? "hkps://" : "hkp://") + host, (tls ? "https://" : "http://") + host};
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
  if (error) {
    return this->error(status, title, text);
  }
  return html_reply(status, page(title, web::templates::kMessage,
                                 web::View().text("text", std::string(text)).flag("error", error)));
}

bool Pages::takes_uploads() const {
  return !(directory_.mode() == service::PublishMode::Managed &&
           options_.managed_uploads_need_token);
}

std::string Pages::page(std::string_view title, std::string_view body) const {
  return page(title, body, web::View());
}

std::string Pages::page(std::string_view title, std::string_view body, web::View data) const {
  const auto mode = directory_.mode();
  const bool open = mode == service::PublishMode::Open;
  std::vector<std::string> domains;
  if (mode == service::PublishMode::Managed) {
    domains = directory_.mode_setting().managed_domains;
  }
  data.text("site_name", options_.site_name)
      .text("page_title", std::string(title))
      .flag("has_manage", verifier() != nullptr)
      .flag("has_contact", !options_.contact.empty())
      .text("contact", options_.contact)
      .flag("has_version", !options_.version.empty())
      .text("version", options_.version)
      .flag("uploads", takes_uploads())
      .flag("verifies", !open)
      .flag("open", open)
      .texts("domains", domains)
      .text("search_label", open ? "E-mail address, fingerprint, key ID or name"
                                 : "E-mail address, fingerprint or key ID");
  return web::render(web::templates::kLayout, data,
                     {{"body", body},
                      {"search_form", web::templates::kSearchForm},
                      {"card", web::templates::kCard},
                      {"address_states", web::templates::kAddressStates},
                      {"managed_note", web::templates::kManagedNote},
                      {"api_doc", web::generated::kApiDocHtml}});
}

Reply Pages::error(int status, std::string_view title, std::string_view text) const {
  return html_reply(
      status,
      page(title, web::templates::kErrorPage,
           web::View().text("text", std::string(text)).text("status", std::to_string(status))));
}

Reply Pages::not_allowed(std::string_view allow) const {
  return html_error(method_not_allowed(allow));
}

bool Pages::is_web_path(std::string_view p) {
  for (std::string_view api : {"/pks/", "/vks/", "/.well-known/", "/static/"}) {
    if (p.starts_with(api)) {
      return false;
    }
  }
  return p != "/healthz" && p != "/metrics" && p != "/favicon.ico" && p != "/pks" && p != "/vks";
}

Reply Pages::html_error(const Reply& plain) const {
  std::string_view title = "Something went wrong";
  std::string text = plain.body;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  switch (plain.status) {
    case Status::kBadRequest:
      title = "Bad request";
      break;
    case Status::kUnauthorized:
      title = "Not authorized";
      break;
    case Status::kNotFound:
      title = "Page not found";
      if (text == "not found") {
        text = "There is no page at this address.";
      }
      break;
    case Status::kMethodNotAllowed:
      title = "Method not allowed";
      text = "This page cannot be used that way (it answers " +
             std::string(header_of(plain, "Allow")) + ").";
      break;
    case Status::kGone:
      title = "Gone";
      break;
    case Status::kPayloadTooLarge:
      title = "Too large";
      break;
    case Status::kTooManyRequests:
      title = "Too many requests";
      break;
    case Status::kServiceUnavailable:
      title = "Service unavailable";
      break;
    default:
      break;
  }
  if (!text.empty()) {
    text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
    if (text.back() != '.' && text.back() != ')') {
      text += '.';
    }
  }
  Reply r = error(plain.status, title, text);
  for (const auto& h : plain.headers) {
    r.headers.push_back(h);
  }
  return r;
}

Reply Pages::uploads_need_token() const {
  Reply r = html_reply(Status::kUnauthorized,
                       page("Uploads by the operators only", web::templates::kUploadsClosed));
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"keydir\"");
  return r;
}

std::string Pages::mode_text() const {
  switch (directory_.mode()) {
    case service::PublishMode::Open:
      return "Anyone can publish a key here. Every user ID of a key that passes the checks is "
             "published as it was uploaded: nobody confirms that an address belongs to the "
             "person who uploaded it. Keys are found by e-mail address, fingerprint, key ID or "
             "name.";
    case service::PublishMode::Verified:
      return "Anyone can upload a key here, but an e-mail address on it is published only once "
             "its owner confirms it through a link mailed to that address. Keys are found by "
             "e-mail address, fingerprint or key ID; search by name is not offered.";
    case service::PublishMode::Managed:
      break;
  }
  const std::string domains = join(directory_.mode_setting().managed_domains, ", ");
  if (options_.managed_uploads_need_token) {
    return "This directory serves the addresses at " + domains +
           ": its operators publish the keys of these addresses. Keys are found by e-mail "
           "address, fingerprint or key ID; search by name is not offered.";
  }
  return "This directory serves the addresses at " + domains +
         ": an address there is published once its owner confirms it through a link mailed "
         "to it, or when the operators add it. Keys are found by e-mail address, fingerprint "
         "or key ID; search by name is not offered.";
}

std::string Pages::withheld_note() const {
  if (directory_.mode() == service::PublishMode::Verified) {
    return "This directory shows only the user IDs whose addresses their owners have confirmed "
           "by e-mail. Any other user IDs of a key are withheld.";
  }
  // The words of the armor's Comment header (service::public_view_note).
  return "This directory shows " + directory_.public_view_note() +
         ". Any other user IDs of a key are withheld.";
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
      return used_link(token).value_or(
          message_page(Status::kGone, "Link not valid", t.error().detail, true));
    }
    return html_reply(Status::kOk,
                      page("Publish your address", web::templates::kVerifyAsk,
                           web::View()
                               .text("email", t->email)
                               .text("grouped", grouped_hex(t->fingerprint.to_hex()))));
  }
  auto t = verifier()->confirm(token);
  if (!t) {
    if (t.error().code == ErrorCode::TokenInvalid) {
      return used_link(token).value_or(
          message_page(Status::kGone, "Link not valid", t.error().detail, true));
    }
    Reply r = error_reply(t.error());
    return message_page(r.status, "Publish your address", r.body, true);
  }
  const std::string hex = t->fingerprint.to_hex();
  return html_reply(
      Status::kOk,
      page("Published", web::templates::kVerifyDone,
           web::View().text("email", t->email).text("hex", hex).text("grouped", grouped_hex(hex))));
}

std::optional<Reply> Pages::used_link(std::string_view token) const {
  auto used = verifier()->used_link(token);
  if (!used) {
    return std::nullopt;
  }
  return html_reply(
      Status::kOk,
      page(used->still_published() ? "Already published" : "No longer published",
           web::templates::kUsedLink,
           web::View()
               .text("text", service::describe(*used))
               // No longer published: not which key it was.
               .flag("has_key", used->still_published())
               .text("hex", used->still_published() ? used->fingerprint.to_hex() : std::string())));
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
  return html_reply(Status::kOk, page("Manage your key", web::templates::kManage));
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
  return html_reply(Status::kOk, page("Manage your key", web::templates::kManageKey, view));
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
  if (!is_web_path(p)) {
    return std::nullopt;
  }
  if (p == "/" || p == "/index.html") {
    return get ? home("") : not_allowed("GET, HEAD");
  }
  if (p == "/search") {
    return get ? search(request) : not_allowed("GET, HEAD");
  }
  if (p == "/upload") {
    // GET shows the form (or, where uploads are for operators only, whom to ask).
    return request.method == "POST" ? upload(request)
           : get                    ? home("")
                                    : not_allowed("GET, HEAD, POST");
  }
  if (p == "/upload/verify") {
    return request.method == "POST" ? send_confirmations(request) : not_allowed("POST");
  }
  // Token-bearing paths only through path_secret(): the access log redacts
  // exactly these (api/http/secret_routes.hpp).
  if (auto token = path_secret(p, SecretRoute::Verify)) {
    return get || request.method == "POST" ? verify(request, *token)
                                           : not_allowed("GET, HEAD, POST");
  }
  if (p == "/manage") {
    return get || request.method == "POST" ? manage(request) : not_allowed("GET, HEAD, POST");
  }
  if (auto token = path_secret(p, SecretRoute::Manage)) {
    return get || request.method == "POST" ? manage_key(request, *token)
                                           : not_allowed("GET, HEAD, POST");
  }
  if (p == "/about") {
    return get ? about(request) : not_allowed("GET, HEAD");
  }
  if (p.starts_with("/key/")) {
    return get ? key_page(request, std::string_view(p).substr(5)) : not_allowed("GET, HEAD");
  }
  if (p == "/policy") {
    return get ? policy() : not_allowed("GET, HEAD");
  }
  if (p == "/api") {
    return get ? api_page() : not_allowed("GET, HEAD");
  }
  return std::nullopt;
}

Reply Pages::home(std::string_view notice) const {
  return html_reply(notice.empty() ? Status::kOk : Status::kBadRequest,
                    page(takes_uploads() ? "Search and publish" : "Search", web::templates::kHome,
                         web::View()
                             .flag("has_notice", !notice.empty())
                             .text("notice", std::string(notice))
                             .text("query", "")));
}

web::View Pages::certificate_card(const openpgp::CertificateStates& vc,
                                  const std::vector<std::string>& published) const {
  const auto& c = vc.cert();
  const auto now = directory_.now();
  const auto& ps = vc.primary_state();
  const bool revoked = vc.revoked();
  const bool expired = vc.expired(now);
  const std::string hex = c.primary.fingerprint.to_hex();
  web::View card;
  card.flag("on_key_page", false).flag("revoked", revoked).flag("expired", !revoked && expired);
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
  const bool reduced = directory_.verifies_addresses();
  for (std::size_t i = 0; i < c.user_ids.size(); ++i) {
    const auto& st = vc.user_id_states()[i];
    if (reduced) {
      // As public_view() serves the key: only user IDs of a published address.
      auto email = openpgp::Email::from_user_id(as_chars(c.user_ids[i].body));
      if (!email ||
          std::find(published.begin(), published.end(), email->address()) == published.end()) {
        continue;
      }
    }
    uids.push_back(web::View()
                       .text("text", printable(as_chars(c.user_ids[i].body)))
                       .flag("primary", st.primary)
                       .flag("revoked", st.revocation.has_value()));
  }
  card.list("uids", uids).flag("verified_mode", reduced);
  if (reduced) {
    card.text("withheld_note", withheld_note());
  }
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
    return html_error(r);
  }
  bool truncated = found->size() > options_.max_results;
  if (truncated) {
    found->resize(options_.max_results);
  }
  std::vector<web::View> cards;
  const auto* by_email = std::get_if<storage::Query::ByEmail>(&parsed->query.what);
  for (const auto& rec : *found) {
    if (!directory_.verifies_addresses()) {
      if (auto vc = directory_.summarize(rec)) {
        cards.push_back(certificate_card(*vc, {}));
      }
      continue;
    }
    // The stored key with its states, shown with its published user IDs
    // (a key without one is still found by fingerprint and key ID).
    auto vc = directory_.stored_summary(rec.fingerprint);
    auto published = directory_.published(rec.fingerprint);
    if (!vc || !published) {
      continue;
    }
    if (by_email) {
      *published = {by_email->address};  // as a lookup by address answers
    }
    cards.push_back(certificate_card(*vc, *published));
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
                    page("Search: " + q, web::templates::kSearch, v));
}

Reply Pages::upload(const HttpRequest& request) const {
  if (request.body.size() > directory_.options().max_upload_bytes * 3) {
    return error(Status::kPayloadTooLarge, "Upload",
                 "The upload is larger than this server accepts.");
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
    return error(e.status, "Upload", "The key was not accepted: " + e.body);
  }
  std::vector<web::View> stored;
  std::vector<web::View> states;
  for (const auto& s : report->stored) {
    const std::string hex = s.fingerprint.to_hex();
    web::View item;
    // In Verified and Managed mode the key is stored and its addresses wait
    // (their states are listed below it): "Published" would not be true.
    const bool verifies = directory_.verifies_addresses();
    item.text("outcome",
              s.outcome == service::Outcome::New ? (verifies ? "Stored: " : "Published: ")
              : s.outcome == service::Outcome::Updated
                  ? "Updated: "
                  : (verifies ? "Unchanged (already stored): " : "Unchanged (already published): "))
        .text("hex", hex)
        .text("grouped", grouped_hex(hex))
        .flag("has_stripped", !s.stripped.empty());
    if (!s.stripped.empty()) {
      item.text("stripped_count", std::to_string(s.stripped.size()))
          .text("stripped_component", s.stripped.front().component)
          .text("stripped_reason", s.stripped.front().reason)
          .flag("more_stripped", s.stripped.size() > 1);
    }
    // What became of each address (without the confirmation form: managed
    // mode by operator token, where nothing is mailed).
    std::vector<web::View> publication;
    if (verifies && !verifier()) {
      for (const auto& a : s.publication) {
        publication.push_back(web::View()
                                  .text("address", a.address)
                                  .flag("published", a.state == service::Publication::Published)
                                  .text("reason", a.reason));
      }
    }
    item.list("publication", publication)
        .flag("without_address", verifies && s.withheld_without_address > 0)
        .text("without_address_count", std::to_string(s.withheld_without_address));
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
  Reply r = html_reply(
      status,
      page("Upload", web::templates::kUpload,
           web::View().list("stored", stored).list("states", states).list("refused", refused)));
  // The page takes a keyring as /pks/add does: the upload limit counts its
  // keys (Api::dispatch charges the further ones).
  r.upload_certificates = report->stored.size() + report->refused.size();
  return r;
}

Reply Pages::about(const HttpRequest& request) const {
  const auto urls = site_urls(request, options_.tls);
  return html_reply(Status::kOk, page("About this directory", web::templates::kAbout,
                                      web::View()
                                          .text("mode_text", mode_text())
                                          .text("hkp", urls.hkp)
                                          .text("thunderbird", urls.hkp)
                                          .text("base", urls.base)
                                          .flag("has_wkd", !options_.wkd_domains.empty())
                                          .texts("wkd_domains", options_.wkd_domains)
                                          .text("first_domain", options_.wkd_domains.empty()
                                                                    ? std::string("example.org")
                                                                    : options_.wkd_domains.front())
                                          .flag("has_log", !options_.log_vkey.empty())
                                          .text("log_vkey", options_.log_vkey)
                                          .flag("has_witnesses", !options_.log_witnesses.empty())
                                          .texts("log_witnesses", options_.log_witnesses)));
}

Reply Pages::key_page(const HttpRequest& request, std::string_view id) const {
  std::string hex;
  for (char ch : id.starts_with("0x") || id.starts_with("0X") ? id.substr(2) : id) {
    hex.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  }
  const bool all_hex = !hex.empty() && std::all_of(hex.begin(), hex.end(), [](char ch) {
    return std::isxdigit(static_cast<unsigned char>(ch));
  });
  auto redirect = [this](std::string to) {
    Reply r = html_reply(
        Status::kFound,
        page("Moved", web::templates::kMessage,
             web::View().text("text", "This key is at " + to + ".").flag("error", false)));
    r.headers.emplace_back("Location", std::move(to));
    return r;
  };
  if (all_hex && hex.size() == openpgp::KeyId::kSize * 2) {
    auto kid = openpgp::KeyId::from_hex(hex);
    if (!kid) {
      return html_error(error_reply(kid.error()));
    }
    auto found = directory_.lookup(storage::Query{storage::Query::ByKeyId{*kid}}, 2);
    if (!found) {
      return html_error(error_reply(found.error()));
    }
    if (found->empty()) {
      return error(Status::kNotFound, "No such key",
                   "No key with the key ID " + hex + " is published here.");
    }
    // One key: its page; several share the ID: the list to choose from.
    return redirect(found->size() == 1 ? "/key/" + found->front().fingerprint.to_hex()
                                       : "/search?q=0x" + hex);
  }
  auto fpr = openpgp::Fingerprint::from_hex(hex);
  if (!all_hex || (hex.size() != 40 && hex.size() != 64) || !fpr) {
    return error(Status::kNotFound, "No such key",
                 "A key's page is /key/ and its fingerprint (40 or 64 hexadecimal digits) or key "
                 "ID (16).");
  }
  auto found = directory_.lookup(storage::Query{storage::Query::ByFingerprint{*fpr}}, 2);
  if (!found) {
    return html_error(error_reply(found.error()));
  }
  if (found->empty()) {
    return error(Status::kNotFound, "No such key",
                 "No key with the fingerprint " + grouped_hex(hex) + " is published here.");
  }
  const auto& rec = found->front();
  const std::string primary = rec.fingerprint.to_hex();
  if (primary != id) {  // a subkey's fingerprint, lower case or 0x: the one address
    return redirect("/key/" + primary);
  }
  std::optional<openpgp::StoredCertificate> vc;
  std::vector<std::string> published;
  if (directory_.verifies_addresses()) {
    auto full = directory_.stored_summary(rec.fingerprint);
    auto pub = directory_.published(rec.fingerprint);
    if (!full) {
      return html_error(error_reply(full.error()));
    }
    if (!pub) {
      return html_error(error_reply(pub.error()));
    }
    vc = std::move(*full);
    published = std::move(*pub);
  } else {
    vc = directory_.summarize(rec);
    if (!vc) {
      return error(Status::kInternalError, "Key", "This key cannot be shown.");
    }
  }
  const auto urls = site_urls(request, options_.tls);
  return html_reply(
      Status::kOk,
      page("Key " + grouped_hex(primary), web::templates::kKeyPage,
           web::View()
               .object("key", certificate_card(*vc, published).flag("on_key_page", true))
               .text("hex", primary)
               .text("hkp", urls.hkp)
               .text("base", urls.base)));
}

Reply Pages::policy() const {
  if (options_.policy_text) {
    return html_reply(Status::kOk,
                      page("Privacy and usage policy", web::templates::kPolicy,
                           web::View().list("blocks", policy_blocks(*options_.policy_text))));
  }
  // The default: what the mode in force stores and publishes.
  const auto mode = directory_.mode();
  std::string t =
      "# What this directory stores\n"
      "- The public keys uploaded to it, once their signatures are checked: each key with its "
      "subkeys, its user IDs (names and e-mail addresses), their dates and revocations. Secret "
      "keys are refused; signatures that do not verify and photo IDs are left out.\n";
  if (mode != service::PublishMode::Open) {
    t += "- Which e-mail addresses of a key are published, and, while a confirmation or "
         "manage link is valid, that link's address and key.\n";
  }
  t += "- Like any web server, this one can keep a log of requests (the client's address, the "
       "time and the path asked for). Its operator decides whether and for how long.\n\n"
       "# What it publishes\n";
  switch (mode) {
    case service::PublishMode::Open:
      t += "Every key stored here, with all the user IDs that passed the checks, to anyone: "
           "through these pages, HKP (what GnuPG uses), the VKS API and the Web Key Directory. "
           "Anyone can search by e-mail address, fingerprint, key ID or words of a name. Nobody "
           "confirms that an address belongs to the person who uploaded the key.\n\n";
      break;
    case service::PublishMode::Verified:
      t += "A key is served by its fingerprint and key ID, with its subkeys and revocations, so "
           "that updates reach everyone who has it. Its user IDs are published only once the "
           "owner of each address confirms it through a link mailed to that address; the others "
           "are withheld. Search by name is not offered: look a key up by e-mail address, "
           "fingerprint or key ID.\n\n";
      break;
    case service::PublishMode::Managed:
      t += "The keys of addresses at " + join(directory_.mode_setting().managed_domains, ", ") +
           ", published by this directory's operators" +
           (options_.managed_uploads_need_token ? ""
                                                : " or confirmed by the owner of each address") +
           ". User IDs of other addresses are withheld; a key is still served by its "
           "fingerprint and key ID, with its subkeys and revocations. Search by name is not "
           "offered: look a key up by e-mail address, fingerprint or key ID.\n\n";
      break;
  }
  t += "# Taking a key off\n";
  if (verifier()) {
    t += "Unpublish your addresses at any time through \"Manage your key\" (/manage): you get "
         "a link by e-mail. The key itself stays available by fingerprint, so that its "
         "revocation reaches everyone.\n\n";
  } else if (mode == service::PublishMode::Managed) {
    t += "Ask the operators to take an address off. The key itself stays available by "
         "fingerprint, so that its revocation reaches everyone.\n\n";
  } else {
    t += "A published key cannot be taken back here: revoke it and upload the revocation, so "
         "that everyone learns it is no longer to be used. Ask the operator about anything "
         "else.\n\n";
  }
  t += "# Usage\n"
       "Looking keys up is open to anyone, by people and programs. Lookups and uploads are "
       "limited per client address to keep the directory available. Do not use it to collect "
       "addresses.\n";
  return html_reply(Status::kOk, page("Privacy and usage policy", web::templates::kPolicy,
                                      web::View().list("blocks", policy_blocks(t))));
}

Reply Pages::api_page() const {
  return html_reply(Status::kOk, page("The HTTP API", web::templates::kApi));
}

}  // namespace keydir::api
