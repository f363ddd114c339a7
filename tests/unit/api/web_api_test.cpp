// WKD, the VKS API and the web pages through Api::dispatch, on a
// MemoryKeyStore (no HTTP server: the adapter is tested end to end by
// tests/integration).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "api/router.hpp"
#include "api/web/page_templates.hpp"
#include "api/web/templates.hpp"
#include "cert_generator.hpp"
#include "common/limits.hpp"
#include "openpgp/armor.hpp"
#include "openpgp/certificate.hpp"
#include "requests.hpp"
#include "service/verification.hpp"
#include "storage/memory_key_store.hpp"
#include "test_data.hpp"

namespace keydir::api {
namespace {

using nlohmann::json;

// gpg-wks-client --print-wkd-hash multi@keydir.test
constexpr const char* kMultiHash = "9ee39dq1zictybt7ncyswqsi1npqzhsa";
constexpr const char* kMultiFpr = "FC5D7A6980F7E484468DB87F65C71B0D2BE692AA";

struct Env {
  std::unique_ptr<storage::MemoryKeyStore> store = std::make_unique<storage::MemoryKeyStore>();
  std::unique_ptr<service::KeyDirectory> directory;
  std::unique_ptr<Api> api;
  std::uint64_t now = test::kNow;

  Env() {
    directory = std::make_unique<service::KeyDirectory>(*store, service::DirectoryOptions{},
                                                        [this] { return now; });
    ApiOptions o;
    o.add_per_minute = 0;  // no rate limit in unit tests
    o.wkd.domains = {"keydir.test", "Example.ORG"};
    o.wkd.submission_address = "key-submission@keydir.test";
    o.token_secret = std::string(32, 'k');
    o.pages.wkd_domains = o.wkd.domains;
    api = std::make_unique<Api>(*directory, o);
  }
  void upload(const Bytes& cert) {
    auto r = directory->upload(cert);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->stored.size(), 1u) << (r->refused.empty() ? "" : r->refused[0].error.detail);
  }
  Reply get(std::string path, std::string host = "keydir.test",
            std::vector<std::pair<std::string, std::string>> query = {},
            std::string method = "GET") const {
    return api->dispatch(testing::get_request(std::move(path), std::move(host), std::move(query),
                                              "127.0.0.1", std::move(method)));
  }
  Reply post(std::string path, std::string content_type, std::string body) const {
    return api->dispatch(testing::post_request(std::move(path), std::move(content_type),
                                               std::move(body), "127.0.0.1"));
  }
};

using testing::header;

// The user IDs of the certificates in a binary answer.
std::vector<std::string> user_ids_of(std::string_view binary) {
  auto certs = openpgp::parse_certificates(as_bytes(binary));
  EXPECT_TRUE(certs);
  std::vector<std::string> out;
  for (const auto& c : *certs) {
    EXPECT_TRUE(c.cert);
    for (const auto& u : c.cert->user_ids) {
      out.emplace_back(as_chars(u.body));
    }
  }
  return out;
}

TEST(Wkd, DirectMethodAnswersTheBinaryKeyWithOnlyThatAddress) {
  Env env;
  env.upload(test::fixture("gpg-multi.asc"));
  Reply r = env.get(std::string("/.well-known/openpgpkey/hu/") + kMultiHash, "keydir.test:443",
                    {{"l", "multi"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/octet-stream");
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(user_ids_of(r.body), std::vector<std::string>{"keydir test multi <multi@keydir.test>"});
  auto certs = openpgp::parse_certificates(as_bytes(r.body));
  EXPECT_EQ(certs->front().cert->subkeys.size(), 2u);  // all subkeys stay
  EXPECT_EQ(certs->front().cert->primary.fingerprint.to_hex(), kMultiFpr);
}

TEST(Wkd, AdvancedMethodTakesTheDomainFromThePath) {
  Env env;
  env.upload(test::fixture("gpg-multi.asc"));
  Reply r = env.get(std::string("/.well-known/openpgpkey/keydir.test/hu/") + kMultiHash,
                    "openpgpkey.keydir.test");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(user_ids_of(r.body).size(), 1u);
  // The advanced host asking with a direct path is the same domain.
  EXPECT_EQ(
      env.get(std::string("/.well-known/openpgpkey/hu/") + kMultiHash, "openpgpkey.keydir.test")
          .status,
      200);
}

TEST(Wkd, NotFoundUnconfiguredRevokedAndMalformed) {
  Env env;
  env.upload(test::fixture("gpg-multi.asc"));
  // gpg-wks-client --print-wkd-hash gone@keydir.test: a revoked user ID.
  EXPECT_EQ(env.get("/.well-known/openpgpkey/hu/w5x77kt4e11ckmkrfbrrxiasbnjmeym6").status, 404);
  Reply other = env.get(std::string("/.well-known/openpgpkey/hu/") + kMultiHash, "other.org");
  EXPECT_EQ(other.status, 404);
  EXPECT_NE(other.body.find("other.org"), std::string::npos);
  EXPECT_EQ(env.get(std::string("/.well-known/openpgpkey/other.org/hu/") + kMultiHash).status, 404);
  EXPECT_EQ(env.get("/.well-known/openpgpkey/hu/short").status, 400);
  EXPECT_EQ(env.get("/.well-known/openpgpkey/hu/" + std::string(32, 'l')).status,
            400);  // not z-base-32
  Reply post = env.post(std::string("/.well-known/openpgpkey/hu/") + kMultiHash, "", "");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(header(post, "Allow"), "GET, HEAD");
}

TEST(Wkd, PolicyAndSubmissionAddressInBothLayouts) {
  Env env;
  for (std::string p :
       {"/.well-known/openpgpkey/policy", "/.well-known/openpgpkey/example.org/policy"}) {
    Reply r = env.get(p, "example.org");
    EXPECT_EQ(r.status, 200) << p;
    EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "*");
  }
  Reply s = env.get("/.well-known/openpgpkey/keydir.test/submission-address");
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.body, "key-submission@keydir.test\n");
  HttpRequest head;
  head.method = "HEAD";
  head.path = "/.well-known/openpgpkey/policy";
  head.host = "keydir.test";
  Reply h = env.api->dispatch(head);
  EXPECT_EQ(h.status, 200);
  EXPECT_TRUE(h.body.empty());
  EXPECT_NE(header(h, "Content-Length"), "0");
}

TEST(Wkd, HostDomain) {
  EXPECT_EQ(host_domain("Example.ORG:443"), "example.org");
  EXPECT_EQ(host_domain("example.org."), "example.org");
  EXPECT_EQ(host_domain("[::1]:11371"), "[::1]:11371");
  EXPECT_EQ(host_domain(""), "");
}

TEST(Vks, LookupsAnswerArmoredKeysAndPlainErrors) {
  Env env;
  env.upload(test::fixture("gpg-multi.asc"));
  const std::string fpr = kMultiFpr;
  const std::vector<std::string> paths = {
      "/vks/v1/by-fingerprint/" + fpr,
      "/vks/v1/by-fingerprint/fc5d7a6980f7e484468db87f65c71b0d2be692aa",
      "/vks/v1/by-keyid/" + fpr.substr(24), "/vks/v1/by-email/multi%40keydir.test",
      "/vks/v1/by-email/multi@keydir.test"};
  for (const std::string& path : paths) {
    Reply r = env.get(path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/pgp-keys");
    EXPECT_TRUE(r.body.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")) << path;
    EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "*");
  }
  EXPECT_EQ(env.get("/vks/v1/by-fingerprint/0x" + fpr).status, 400);
  EXPECT_EQ(env.get("/vks/v1/by-fingerprint/" + fpr.substr(1)).status, 400);
  EXPECT_EQ(env.get("/vks/v1/by-keyid/XYZ").status, 400);
  EXPECT_EQ(env.get("/vks/v1/by-email/not-an-address").status, 400);
  Reply miss = env.get("/vks/v1/by-email/nobody%40keydir.test");
  EXPECT_EQ(miss.status, 404);
  EXPECT_EQ(env.get("/vks/v1/by-fingerprint/" + std::string(40, 'A')).status, 404);
  EXPECT_EQ(env.get("/vks/v1/nothing/x").status, 404);
}

TEST(Vks, UploadAnswersFingerprintStatusAndToken) {
  Env env;
  std::string armored(as_chars(test::fixture("gpg-multi.asc")));
  Reply r = env.post("/vks/v1/upload", "application/json", json{{"keytext", armored}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  json j = json::parse(r.body);
  EXPECT_EQ(j["key_fpr"], kMultiFpr);
  EXPECT_EQ(j["status"]["multi@keydir.test"], "published");
  EXPECT_EQ(j["status"]["second@keydir.test"], "published");
  EXPECT_EQ(j["status"]["gone@keydir.test"], "revoked");
  EXPECT_EQ(j["status"].size(), 3u);
  ASSERT_TRUE(j["token"].is_string());

  // request-verify with that token, for one address.
  json req{{"token", j["token"]}, {"addresses", {"Multi@Keydir.test"}}};
  Reply v = env.post("/vks/v1/request-verify", "application/json", req.dump());
  ASSERT_EQ(v.status, 200) << v.body;
  json vj = json::parse(v.body);
  EXPECT_EQ(vj["key_fpr"], kMultiFpr);
  EXPECT_EQ(vj["status"], (json{{"multi@keydir.test", "published"}}));

  // An address the key does not have, a tampered token, an expired one.
  json other{{"token", j["token"]}, {"addresses", {"x@keydir.test"}}};
  EXPECT_EQ(env.post("/vks/v1/request-verify", "application/json", other.dump()).status, 400);
  std::string tampered = j["token"];
  tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
  Reply t = env.post("/vks/v1/request-verify", "application/json",
                     json{{"token", tampered}, {"addresses", json::array()}}.dump());
  EXPECT_EQ(t.status, 400);
  EXPECT_EQ(json::parse(t.body)["error"], "invalid upload token");
  env.now += 3601;
  Reply e = env.post("/vks/v1/request-verify", "application/json", req.dump());
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(json::parse(e.body)["error"].get<std::string>().find("expired"), std::string::npos);
}

TEST(Vks, UploadErrorsAreJson) {
  Env env;
  auto error_of = [](const Reply& r) {
    EXPECT_EQ(r.content_type, "application/json");
    json j = json::parse(r.body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error") && j["error"].is_string()) << r.body;
    return r.status;
  };
  EXPECT_EQ(error_of(env.post("/vks/v1/upload", "text/plain", "x")), 400);
  EXPECT_EQ(error_of(env.post("/vks/v1/upload", "application/json", "{not json")), 400);
  EXPECT_EQ(error_of(env.post("/vks/v1/upload", "application/json", R"({"keytext": 5})")), 400);
  EXPECT_EQ(error_of(env.post("/vks/v1/upload", "application/json", R"({"keytext": "garbage"})")),
            400);
  std::string secret(as_chars(test::fixture("gpg-secret-key.asc")));
  EXPECT_EQ(
      error_of(env.post("/vks/v1/upload", "application/json", json{{"keytext", secret}}.dump())),
      400);
  std::string two = std::string(as_chars(test::fixture("gpg-multi.asc"))) +
                    std::string(as_chars(test::fixture("gpg-ed25519.asc")));
  EXPECT_EQ(error_of(env.post("/vks/v1/upload", "application/json", json{{"keytext", two}}.dump())),
            400);
  EXPECT_EQ(env.get("/vks/v1/upload").status, 405);
  EXPECT_EQ(error_of(env.post("/vks/v1/request-verify", "application/json", "[]")), 400);
}

TEST(Pages, SearchShowsTheKeyAndEscapesUserIds) {
  Env env;
  test::CertGenerator gen(7);
  test::CertSpec spec;
  // A user ID with markup carries no address (a second '<'): the key is found
  // by its other user ID.
  spec.user_ids = {"Mallory <mallory@keydir.test>", "Mallory <script>alert(1)</script>"};
  env.upload(gen.make(spec));
  env.upload(test::fixture("gpg-revoked.asc"));
  Reply r = env.get("/search", "keydir.test", {{"q", "mallory@keydir.test"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r.body.find("<script>alert"), std::string::npos);
  EXPECT_NE(r.body.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(header(r, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  Reply rev = env.get("/search", "keydir.test", {{"q", "revoked@keydir.test"}});
  ASSERT_EQ(rev.status, 200);
  EXPECT_NE(rev.body.find("REVOKED on"), std::string::npos);
  EXPECT_EQ(env.get("/search", "keydir.test", {{"q", "nobody@keydir.test"}}).status, 404);
  EXPECT_EQ(env.get("/search", "keydir.test", {{"q", ""}}).status, 400);
  // A search term is echoed escaped.
  Reply echo = env.get("/search", "keydir.test", {{"q", "\"><img src=x>"}});
  EXPECT_EQ(echo.body.find("<img src=x>"), std::string::npos);
}

TEST(Pages, UploadFormAcceptsMultipartAndUrlencoded) {
  Env env;
  std::string armored(as_chars(test::fixture("gpg-ed25519.asc")));
  std::string body = "--B\r\nContent-Disposition: form-data; name=\"keytext\"\r\n\r\n" + armored +
                     "\r\n--B\r\nContent-Disposition: form-data; name=\"keyfile\"; "
                     "filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--B--\r\n";
  Reply r = env.post("/upload", "multipart/form-data; boundary=B", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("Published"), std::string::npos);
  // The binary file field when the text box is empty.
  std::string binary(as_chars(test::fixture("gpg-ed25519.pgp")));
  std::string file_body =
      "--B\r\nContent-Disposition: form-data; name=\"keytext\"\r\n\r\n\r\n"
      "--B\r\nContent-Disposition: form-data; name=\"keyfile\"; "
      "filename=\"k.pgp\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
      binary + "\r\n--B--\r\n";
  Reply f = env.post("/upload", "multipart/form-data; boundary=B", file_body);
  ASSERT_EQ(f.status, 200) << f.body;
  EXPECT_NE(f.body.find("Unchanged"), std::string::npos);
  EXPECT_EQ(env.post("/upload", "application/x-www-form-urlencoded", "keytext=").status, 400);
  EXPECT_EQ(env.post("/upload", "application/x-www-form-urlencoded", "keytext=garbage").status,
            400);
  // GET shows the upload form (no dead end for a bookmarked or reloaded page).
  Reply form = env.get("/upload");
  EXPECT_EQ(form.status, 200);
  EXPECT_NE(form.body.find("<form action=\"/upload\" method=\"post\""), std::string::npos);
}

TEST(Pages, HomeAboutAndStaticFiles) {
  Env env;
  Reply home = env.get("/");
  ASSERT_EQ(home.status, 200);
  EXPECT_NE(home.body.find("<label for=\"q\">"), std::string::npos);
  EXPECT_NE(home.body.find("<label for=\"keytext\">"), std::string::npos);
  Reply about = env.get("/about", "keys.keydir.test:11371");
  ASSERT_EQ(about.status, 200);
  EXPECT_NE(about.body.find("keyserver hkp://keys.keydir.test:11371"), std::string::npos);
  EXPECT_NE(about.body.find("<code>keydir.test</code>"), std::string::npos);
  EXPECT_EQ(env.get("/static/style.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(env.get("/static/app.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(env.get("/static/nothing.js").status, 404);
}

// web::render(), the one helper that makes the pages' HTML: every value is
// escaped, and a template that could output one unescaped is refused.
TEST(WebTemplates, EscapesEveryValueByDefault) {
  EXPECT_EQ(web::render("{{v}}", web::View().text("v", "<>&\"'")), "&lt;&gt;&amp;&quot;&#39;");
  const std::string hostile = "<script>alert(\"x\" & 'y')</script>";
  const std::string escaped = "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;";
  EXPECT_EQ(web::render("<p title=\"{{v}}\">{{v}}</p>", web::View().text("v", hostile)),
            "<p title=\"" + escaped + "\">" + escaped + "</p>");
  // In lists and objects too.
  EXPECT_EQ(
      web::render("{{#l}}[{{.}}]{{/l}}{{#o}}{{v}}{{/o}}",
                  web::View().texts("l", {"<a>", "&"}).object("o", web::View().text("v", "'"))),
      "[&lt;a&gt;][&amp;]&#39;");
  // A value is text, never a template: its tags are not expanded.
  EXPECT_EQ(web::render("{{v}}", web::View().text("v", "{{{w}}}{{>p}}").text("w", "<b>")),
            "{{{w}}}{{&gt;p}}");
  // Partials are constant templates, their values escaped the same way.
  EXPECT_EQ(web::render("<b>{{>p}}</b>", web::View().text("v", "<i>"), {{"p", "{{ v }}"}}),
            "<b>&lt;i&gt;</b>");
  // Sections: only a false flag and an empty list are false.
  EXPECT_EQ(web::render("{{#f}}F{{/f}}{{^f}}not F{{/f}}{{^l}}empty{{/l}}",
                        web::View().flag("f", false).texts("l", {})),
            "not Fempty");
}

// Each thread keeps the templates it parsed: a template rendered again, with
// other data, other partials or on other threads, gives each its own page.
TEST(WebTemplates, ARenderedTemplateRendersAgainWithOtherData) {
  const std::string_view tmpl = "<p>{{v}}</p>{{#l}}[{{.}}]{{/l}}{{^l}}none{{/l}}{{>p}}";
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(web::render(tmpl, web::View().text("v", "a").texts("l", {"1", "2"}), {{"p", "x"}}),
              "<p>a</p>[1][2]x");
    EXPECT_EQ(web::render(tmpl, web::View().text("v", "<b>"), {{"p", "{{v}}"}}),
              "<p>&lt;b&gt;</p>none&lt;b&gt;");
    EXPECT_THROW((void)web::render("{{#s}}unclosed", web::View()), std::invalid_argument);
  }
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (std::size_t t = 0; t < wrong.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string v = std::to_string(t) + "-" + std::to_string(i);
        if (web::render(tmpl, web::View().text("v", v), {{"p", ""}}) != "<p>" + v + "</p>none") {
          ++wrong[t];
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

TEST(WebTemplates, RefusesUnescapedTagsAndUnknownPartials) {
  const web::View data = web::View().text("v", "<b>").text("p", "{{{v}}}").flag("s", true);
  for (std::string_view t :
       {"{{{v}}}", "{{&v}}", "{{ & v }}", "{{ {v} }}", "<p>{{#s}}{{{v}}}{{/s}}</p>",
        "{{=<% %>=}}<%&v%>", "{{>p}}", "{{> nope}}", "{{#s}}unclosed", "{{v"}) {
    EXPECT_FALSE(web::template_error(t).empty()) << t;
    EXPECT_THROW((void)web::render(t, data), std::invalid_argument) << t;
  }
  // In a partial too, and a partial that includes itself.
  EXPECT_THROW((void)web::render("{{>p}}", data, {{"p", "{{&v}}"}}), std::invalid_argument);
  EXPECT_FALSE(web::template_error("{{>p}}", {{"p", "x{{>p}}"}}).empty());
  // Every template of the pages passes.
  namespace t = web::templates;
  const web::Partials partials = {{"body", ""},
                                  {"search_form", t::kSearchForm},
                                  {"card", t::kCard},
                                  {"address_states", t::kAddressStates},
                                  {"managed_note", t::kManagedNote},
                                  {"api_doc", "<p>the API</p>"}};
  for (std::string_view page :
       {t::kLayout,      t::kSearchForm,    t::kMessage,       t::kErrorNotice, t::kHome,
        t::kCard,        t::kSearch,        t::kAddressStates, t::kUpload,      t::kVerifyAsk,
        t::kVerifyDone,  t::kManage,        t::kManageKey,     t::kAbout,       t::kErrorPage,
        t::kManagedNote, t::kUploadsClosed, t::kKeyPage,       t::kPolicy,      t::kApi,
        t::kUsedLink}) {
    EXPECT_EQ(web::template_error(page, partials), "") << page.substr(0, 60);
  }
}

TEST(Pages, EscapeHostileUserIdsQueriesAndHosts) {
  Env env;
  test::CertGenerator gen(8);
  test::CertSpec spec;
  spec.user_ids = {"Q \"quoted\" & 'apos' <q@keydir.test>", "Evil\x01\x1b[31m name",
                   "<img src=x onerror=alert(1)>"};
  env.upload(gen.make(spec));
  Reply r = env.get("/search", "keydir.test", {{"q", "q@keydir.test"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<li>Q &quot;quoted&quot; &amp; &#39;apos&#39; &lt;q@keydir.test&gt;"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("<li>&lt;img src=x onerror=alert(1)&gt;<span"), std::string::npos)
      << r.body;
  // Control characters are shown as U+FFFD.
  EXPECT_NE(r.body.find("<li>Evil\xEF\xBF\xBD\xEF\xBF\xBD[31m name</li>"), std::string::npos);
  EXPECT_EQ(r.body.find('\x1b'), std::string::npos);
  EXPECT_EQ(r.body.find("<img"), std::string::npos);
  EXPECT_EQ(r.body.find("'apos'"), std::string::npos);
  // The query, in the search box, the heading and the title.
  Reply q = env.get("/search", "keydir.test", {{"q", "\"><svg onload=x>"}});
  EXPECT_EQ(q.status, 404);
  const std::string eq = "&quot;&gt;&lt;svg onload=x&gt;";
  EXPECT_NE(q.body.find("value=\"" + eq + "\""), std::string::npos) << q.body;
  EXPECT_NE(q.body.find("No key found for “" + eq + "”"), std::string::npos);
  EXPECT_NE(q.body.find("<title>Search: " + eq + " · keydir</title>"), std::string::npos);
  EXPECT_EQ(q.body.find("<svg"), std::string::npos);
  // The Host header, in /about.
  Reply a = env.get("/about", "a<b>\"c'&d");
  ASSERT_EQ(a.status, 200);
  EXPECT_NE(a.body.find("keyserver hkp://a&lt;b&gt;&quot;c&#39;&amp;d</pre>"), std::string::npos)
      << a.body;
  EXPECT_NE(a.body.find("curl http://a&lt;b&gt;&quot;c&#39;&amp;d/vks/v1/by-email/"),
            std::string::npos);
  EXPECT_EQ(a.body.find("a<b>"), std::string::npos);
}

class RecordingMailer final : public service::Mailer {
 public:
  Result<void> send(const service::MailMessage& m) override {
    sent.push_back(m);
    return {};
  }
  // The token of the last link to `route` ("/verify/", "/manage/").
  std::string last_token(const std::string& route) const {
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      auto at = it->body.find(route);
      if (at != std::string::npos) {
        at += route.size();
        return it->body.substr(at, it->body.find_first_of(" \n", at) - at);
      }
    }
    return "";
  }
  std::vector<service::MailMessage> sent;
};

// Verified mode: the pages that show addresses.
struct VerifiedEnv {
  std::unique_ptr<storage::MemoryKeyStore> store = std::make_unique<storage::MemoryKeyStore>();
  std::unique_ptr<service::KeyDirectory> directory;
  RecordingMailer mailer;
  std::unique_ptr<service::Verification> verification;
  std::unique_ptr<Api> api;

  VerifiedEnv() {
    service::DirectoryOptions d;
    d.mode = service::PublishMode::Verified;
    directory = std::make_unique<service::KeyDirectory>(*store, d, [] { return test::kNow; });
    verification =
        std::make_unique<service::Verification>(*directory, mailer, service::VerificationOptions{});
    ApiOptions o;
    o.add_per_minute = 0;
    o.token_secret = std::string(32, 'k');
    o.verification = verification.get();
    api = std::make_unique<Api>(*directory, o);
  }
  Reply get(std::string path) const {
    return api->dispatch(testing::get_request(std::move(path), "keydir.test", {}, "192.0.2.7"));
  }
  Reply post(std::string path, std::string body) const {
    return api->dispatch(testing::post_request(std::move(path), "application/x-www-form-urlencoded",
                                               std::move(body), "192.0.2.7"));
  }
};

std::string form_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_') {
      out.push_back(ch);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

TEST(Pages, EscapeHostileAddressesInVerifiedMode) {
  VerifiedEnv env;
  // An address with ' and & (RFC 5322 atext), and one with markup.
  const std::string addr = "o'x&y@keydir.test";
  const std::string esc = "o&#39;x&amp;y@keydir.test";
  const std::string markup = "<b>\"'&";
  const std::string markup_esc = "&lt;b&gt;&quot;&#39;&amp;";
  test::CertGenerator gen(9);
  test::CertSpec spec;
  spec.user_ids = {"V <v@keydir.test>", "Evil \"q\" <" + addr + ">"};
  std::string cert(as_chars(gen.make(spec)));
  auto no_raw = [&](const Reply& r) {
    EXPECT_EQ(r.body.find(addr), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("<b>"), std::string::npos) << r.body;
  };

  // Upload: the address states, with the confirmation form.
  Reply up = env.post("/upload", "keytext=" + form_encode(cert));
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_NE(up.body.find("value=\"" + esc + "\" checked> <label class=\"inline\" for=\"addr0\">" +
                         esc + "</label>"),
            std::string::npos)
      << up.body;
  no_raw(up);
  const std::string marker = "name=\"token\" value=\"";
  auto at = up.body.find(marker);
  ASSERT_NE(at, std::string::npos);
  at += marker.size();
  const std::string token = up.body.substr(at, up.body.find('"', at) - at);

  // Send confirmation mails: a bad address is echoed escaped.
  Reply bad =
      env.post("/upload/verify", "token=" + form_encode(token) + "&address=" + form_encode(markup));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("not an e-mail address: " + markup_esc), std::string::npos) << bad.body;
  no_raw(bad);
  Reply sent =
      env.post("/upload/verify", "token=" + form_encode(token) + "&address=" + form_encode(addr));
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_NE(sent.body.find("A confirmation link was sent to " + esc + "."), std::string::npos);
  no_raw(sent);

  // The confirmation link: asked (GET), then followed (POST).
  const std::string vt = env.mailer.last_token("/verify/");
  Reply ask = env.get("/verify/" + vt);
  ASSERT_EQ(ask.status, 200) << ask.body;
  EXPECT_NE(ask.body.find("Publish <strong>" + esc + "</strong>"), std::string::npos);
  no_raw(ask);
  Reply done = env.post("/verify/" + vt, "");
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_NE(done.body.find("<p class=\"notice\">" + esc + " is now published"), std::string::npos);
  no_raw(done);
  // Opened again (or the button pressed twice): what it did, not "not valid".
  for (const Reply& again : {env.get("/verify/" + vt), env.post("/verify/" + vt, "")}) {
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_NE(again.body.find("<title>Already published"), std::string::npos) << again.body;
    EXPECT_NE(again.body.find(esc + " is already published with the key "), std::string::npos);
    EXPECT_NE(again.body.find(" since "), std::string::npos);
    no_raw(again);
  }
  // A link that never was: still 410.
  EXPECT_EQ(env.get("/verify/" + std::string(43, 'A')).status, 410);

  // Manage: the request for a link, and the manage page.
  Reply m_bad = env.post("/manage", "email=" + form_encode(markup));
  EXPECT_EQ(m_bad.status, 400);
  EXPECT_NE(m_bad.body.find("not an e-mail address"), std::string::npos) << m_bad.body;
  no_raw(m_bad);
  Reply m = env.post("/manage", "email=" + form_encode(addr));
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_NE(m.body.find("If " + esc + " is published here"), std::string::npos);
  no_raw(m);
  const std::string mt = env.mailer.last_token("/manage/");
  Reply page = env.get("/manage/" + mt);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("<li>" + esc +
                           " <form class=\"inline\" method=\"post\"><input "
                           "type=\"hidden\" name=\"address\" value=\"" +
                           esc + "\">"),
            std::string::npos)
      << page.body;
  no_raw(page);
  Reply off = env.post("/manage/" + mt, "address=" + form_encode(addr));
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_NE(
      off.body.find("<p class=\"notice\" role=\"status\">" + esc + " is no longer published.</p>"),
      std::string::npos)
      << off.body;
  EXPECT_NE(off.body.find("<li>none</li>"), std::string::npos);
  no_raw(off);
  // The used link opened again after that: it says so, and neither the
  // address nor the key the owner took it off (whoever holds the link).
  Reply gone = env.get("/verify/" + vt);
  EXPECT_EQ(gone.status, 200) << gone.body;
  EXPECT_NE(gone.body.find("<title>No longer published"), std::string::npos) << gone.body;
  EXPECT_NE(gone.body.find("is no longer published"), std::string::npos) << gone.body;
  EXPECT_EQ(gone.body.find(esc), std::string::npos) << gone.body;
  EXPECT_EQ(gone.body.find("/key/"), std::string::npos) << gone.body;
  no_raw(gone);
}

}  // namespace
}  // namespace keydir::api

namespace keydir::api {
namespace {

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

TEST(Hashquery, AnswersInTheSksFormatUpToTheLimit) {
  Env env;
  env.upload(test::fixture("gpg-multi.asc"));
  auto fpr = openpgp::Fingerprint::from_hex(kMultiFpr);
  auto rec = env.store->get(*fpr);
  ASSERT_TRUE(rec && *rec);
  const Bytes& hash = (*rec)->index.sks_hash;
  ASSERT_EQ(hash.size(), 16u);
  // The limit: 10,000 hashes, the stored one among them.
  std::string body = be32(limits::kMaxHashqueryHashes);
  for (std::size_t i = 0; i < limits::kMaxHashqueryHashes; ++i) {
    body += be32(16);
    body += i == 5000 ? std::string(as_chars(hash)) : std::string(16, static_cast<char>(i & 0xff));
  }
  ASSERT_EQ(body.size(), limits::kMaxHashqueryBytes);
  Reply r = env.post("/pks/hashquery", "application/octet-stream", body);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string cert(as_chars((*rec)->cert));
  EXPECT_EQ(r.body, be32(1) + be32(static_cast<std::uint32_t>(cert.size())) + cert + "\r\n");
  // One past: refused with a reason, as is a body past the size bound.
  std::string over = body + "x";
  EXPECT_EQ(env.post("/pks/hashquery", "application/octet-stream", over).status, 413);
  std::string count_over = be32(limits::kMaxHashqueryHashes + 1) + be32(16) + std::string(16, 'x');
  Reply c = env.post("/pks/hashquery", "application/octet-stream", count_over);
  EXPECT_EQ(c.status, 400);
  EXPECT_NE(c.body.find("at most 10000"), std::string::npos);
  EXPECT_EQ(env.post("/pks/hashquery", "", be32(1) + be32(15) + std::string(15, 'x')).status, 400);
  EXPECT_EQ(env.post("/pks/hashquery", "", be32(2) + be32(16) + std::string(16, 'x')).status, 400);
  EXPECT_EQ(env.get("/pks/hashquery").status, 405);
}

// /pks/lookup answers come from the answer cache when nothing was written
// since, and never outlive a write: a miss, an added user ID and a deletion
// show at once.
std::uint64_t cache_count(const Env& env, std::string_view result) {
  std::string body = env.get("/metrics").body;
  std::string line = "keydir_answer_cache_lookups_total{result=\"" + std::string(result) + "\"} ";
  auto at = body.find(line);
  return at == std::string::npos ? ~0ull : std::stoull(body.substr(at + line.size()));
}

TEST(AnswerCacheThroughApi, ServesRepeatsAndNeverOutlivesAWrite) {
  Env env;
  using Q = std::vector<std::pair<std::string, std::string>>;
  const Q get{{"op", "get"}, {"search", "carol@keydir.test"}};
  const Q index{{"op", "index"}, {"options", "mr"}, {"search", "carol@keydir.test"}};
  EXPECT_EQ(env.get("/pks/lookup", "h", get).status, 404);
  EXPECT_EQ(env.get("/pks/lookup", "h", get).status, 404);  // a cached miss
  EXPECT_EQ(cache_count(env, "hit"), 1u);

  test::CertGenerator gen(11);
  test::CertSpec spec;
  spec.primary_seed = gen.random_seed();
  spec.user_ids = {"Carol <carol@keydir.test>"};
  env.upload(gen.make(spec));
  Reply first = env.get("/pks/lookup", "h", get);
  ASSERT_EQ(first.status, 200) << first.body;  // the upload made the cached 404 stale
  Reply again = env.get("/pks/lookup", "h", get);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.content_type, "application/pgp-keys");
  EXPECT_EQ(header(again, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(cache_count(env, "hit"), 2u);
  Reply head = env.get("/pks/lookup", "h", get, "HEAD");  // a hit, without the body
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(header(head, "Content-Length"), std::to_string(first.body.size()));
  EXPECT_EQ(cache_count(env, "hit"), 3u);

  Reply one = env.get("/pks/lookup", "h", index);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.body.find("carol.second"), std::string::npos);
  // The same key with a second user ID: the next index shows it.
  spec.user_ids.push_back("Carol Second <carol.second@keydir.test>");
  env.upload(gen.make(spec));
  Reply two = env.get("/pks/lookup", "h", index);
  ASSERT_EQ(two.status, 200);
  EXPECT_NE(two.body.find("carol.second@keydir.test"), std::string::npos) << two.body;
  EXPECT_NE(env.get("/pks/lookup", "h", get).body, first.body);

  // The TTL: an answer as old as it is made again.
  const auto misses = cache_count(env, "miss");
  env.get("/pks/lookup", "h", index);
  EXPECT_EQ(cache_count(env, "miss"), misses);
  env.now += 60;
  env.get("/pks/lookup", "h", index);
  EXPECT_EQ(cache_count(env, "miss"), misses + 1);

  // The other lookups go through the same cache: VKS, HKPv2 and WKD, whose
  // direct method answers by the Host header.
  const std::string wkd = "/.well-known/openpgpkey/hu/fnh1sizqc1h17q515b19nhzxyddotzhd";
  const std::string vks = "/vks/v1/by-email/carol.second@keydir.test";
  const std::string v2 = "/pks/v2/certs/by-identity/carol.second@keydir.test";
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(env.get(wkd, "keydir.test").status, 200);
    EXPECT_EQ(env.get(wkd, "unknown.example").status, 404);  // not the keydir.test answer
    EXPECT_EQ(env.get(vks).status, 200);
    EXPECT_EQ(env.get(v2).status, 200);
  }

  // A deletion: gone at once, everywhere.
  auto found =
      env.directory->lookup(storage::Query{storage::Query::ByEmail{"carol@keydir.test"}}, 2);
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  ASSERT_TRUE(env.directory->remove(found->front().fingerprint, "test"));
  int status = env.get("/pks/lookup", "h", get).status;
  EXPECT_TRUE(status == 404 || status == 410) << status;
  EXPECT_EQ(env.get(wkd, "keydir.test").status, 404);
  status = env.get(vks).status;
  EXPECT_TRUE(status == 404 || status == 410) << status;
  status = env.get(v2).status;
  EXPECT_TRUE(status == 404 || status == 410) << status;
}

// ---- Pages without dead ends (issue #20) ----

bool is_html(const Reply& r) {
  return r.content_type.starts_with("text/html");
}

TEST(Pages, KeyPageHasItsOwnAddressAndRedirectsOtherNames) {
  Env env;
  env.upload(test::fixture("gpg-multi.asc"));
  const std::string fpr = kMultiFpr;
  Reply k = env.get("/key/" + fpr);
  ASSERT_EQ(k.status, 200) << k.body;
  EXPECT_TRUE(is_html(k));
  EXPECT_NE(k.body.find("FC5D 7A69 80F7 E484"), std::string::npos);
  EXPECT_NE(k.body.find("keydir test multi &lt;multi@keydir.test&gt;"), std::string::npos);
  EXPECT_NE(k.body.find("href=\"/vks/v1/by-fingerprint/" + fpr + "\""), std::string::npos);
  EXPECT_NE(k.body.find("gpg --keyserver hkp://keydir.test --recv-keys " + fpr), std::string::npos);
  EXPECT_NE(k.body.find("curl -o " + fpr + ".asc http://keydir.test/vks/v1/by-fingerprint/" + fpr),
            std::string::npos);
  EXPECT_NE(k.body.find("<h4>Subkeys</h4>"), std::string::npos);
  // Lower case, 0x and the key ID lead to the one address.
  std::string lower = fpr;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  for (const std::string& other : {lower, "0x" + fpr, fpr.substr(24)}) {
    Reply r = env.get("/key/" + other);
    EXPECT_EQ(r.status, 302) << other;
    EXPECT_EQ(header(r, "Location"), "/key/" + fpr) << other;
  }
  // Search results link to it.
  Reply s = env.get("/search", "keydir.test", {{"q", "multi@keydir.test"}});
  EXPECT_NE(s.body.find("href=\"/key/" + fpr + "\""), std::string::npos);
  // Unknown and malformed: an HTML 404 that says so.
  Reply miss = env.get("/key/" + std::string(40, 'A'));
  EXPECT_EQ(miss.status, 404);
  EXPECT_TRUE(is_html(miss));
  EXPECT_NE(miss.body.find("No key with the fingerprint AAAA"), std::string::npos);
  EXPECT_EQ(env.get("/key/" + std::string(16, 'A')).status, 404);
  Reply bad = env.get("/key/<b>x");
  EXPECT_EQ(bad.status, 404);
  EXPECT_EQ(bad.body.find("<b>x"), std::string::npos);
  Reply post = env.post("/key/" + fpr, "application/x-www-form-urlencoded", "");
  EXPECT_EQ(post.status, 405);
  EXPECT_TRUE(is_html(post));
  EXPECT_EQ(header(post, "Allow"), "GET, HEAD");
}

TEST(Pages, KeyTypesInWordsPeopleKnow) {
  Env env;
  for (const char* f : {"gpg-ed25519.asc", "gpg-rsa3072.asc", "gpg-nistp256.asc"}) {
    env.upload(test::fixture(f));
  }
  auto type_of = [&](const std::string& fpr) {
    Reply r = env.get("/key/" + fpr);
    EXPECT_EQ(r.status, 200);
    auto at = r.body.find("<dt>Type</dt><dd>");
    return at == std::string::npos ? std::string()
                                   : r.body.substr(at + 17, r.body.find('<', at + 17) - at - 17);
  };
  EXPECT_EQ(type_of("67CF1313E65F6635FA4F0978D77690A8A4055BFC"), "Ed25519 (v4)");
  EXPECT_EQ(type_of("2C9A883B36B51D93DF2F2EEC74B4E3C309897AE5"), "RSA 3072 (v4)");
  EXPECT_EQ(type_of("C32664EE72A2896CF5F1DC8721A549A303E223E6"), "NIST P-256 (v4)");
  Reply ed = env.get("/key/67CF1313E65F6635FA4F0978D77690A8A4055BFC");
  EXPECT_NE(ed.body.find("Curve25519, encrypt"), std::string::npos);
  EXPECT_EQ(ed.body.find("EdDSA"), std::string::npos);
}

TEST(Pages, WebRoutesAnswerErrorsAsHtmlApiRoutesAsText) {
  Env env;
  struct Case {
    std::string method, path;
    int status;
    bool html;
    std::string allow;
  };
  const std::vector<Case> cases = {
      {"GET", "/nothing/here", 404, true, ""},
      {"GET", "/key", 404, true, ""},
      {"POST", "/about", 405, true, "GET, HEAD"},
      {"POST", "/", 405, true, "GET, HEAD"},
      {"POST", "/search", 405, true, "GET, HEAD"},
      {"DELETE", "/upload", 405, true, "GET, HEAD, POST"},
      {"POST", "/api", 405, true, "GET, HEAD"},
      {"POST", "/policy", 405, true, "GET, HEAD"},
      {"GET", "/upload/verify", 405, true, "POST"},
      {"GET", "/manage", 404, true, ""},  // open mode: nothing to manage
      {"GET", "/pks/nothing", 404, false, ""},
      {"GET", "/pks/add", 405, false, "POST"},
      {"POST", "/healthz", 405, false, "GET, HEAD"},
      {"POST", "/metrics", 405, false, "GET, HEAD"},
      {"GET", "/vks/v1/nothing/x", 404, false, ""},
      {"GET", "/static/nothing.js", 404, false, ""},
  };
  for (const auto& c : cases) {
    Reply r = c.method == "GET" ? env.get(c.path)
                                : env.api->dispatch(testing::get_request(c.path, "keydir.test", {},
                                                                         "127.0.0.1", c.method));
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path;
    EXPECT_EQ(is_html(r), c.html) << c.method << " " << c.path << ": " << r.content_type;
    if (!c.allow.empty()) {
      EXPECT_EQ(header(r, "Allow"), c.allow) << c.path;
    }
    if (c.html) {
      EXPECT_NE(r.body.find("HTTP status " + std::to_string(c.status)), std::string::npos)
          << c.path << r.body;
      EXPECT_NE(r.body.find("href=\"/\""), std::string::npos) << c.path;
    }
  }
  // HEAD keeps the status and the headers, without a body.
  Reply head = env.get("/nothing", "keydir.test", {}, "HEAD");
  EXPECT_EQ(head.status, 404);
  EXPECT_TRUE(head.body.empty());
}

TEST(Pages, UploadLimitAnswersAnHtmlPageWithRetryAfter) {
  auto store = std::make_unique<storage::MemoryKeyStore>();
  service::KeyDirectory directory(*store, {}, [] { return test::kNow; });
  ApiOptions o;
  o.add_per_minute = 1;
  o.add_burst = 1;
  o.token_secret = std::string(32, 'k');
  Api api(directory, o);
  auto post = [&](const std::string& path) {
    return api.dispatch(
        testing::post_request(path, "application/x-www-form-urlencoded", "keytext=", "192.0.2.9"));
  };
  EXPECT_EQ(post("/upload").status, 400);  // nothing to upload: took the one token
  Reply r = post("/upload");
  EXPECT_EQ(r.status, 429);
  EXPECT_TRUE(is_html(r));
  EXPECT_FALSE(header(r, "Retry-After").empty());
  EXPECT_NE(r.body.find("Too many requests"), std::string::npos);
  Reply hkp = post("/pks/add");
  EXPECT_EQ(hkp.status, 429);
  EXPECT_FALSE(is_html(hkp));
}

TEST(Pages, AboutApiAndPolicyForUsers) {
  Env env;
  Reply home = env.get("/");
  for (const char* link : {"href=\"/about\"", "href=\"/api\"", "href=\"/policy\""}) {
    EXPECT_NE(home.body.find(link), std::string::npos) << link;
  }
  EXPECT_EQ(home.body.find("href=\"/manage\""), std::string::npos);  // open mode: none
  Reply about = env.get("/about");
  ASSERT_EQ(about.status, 200);
  EXPECT_NE(about.body.find("Anyone can publish a key here"), std::string::npos);
  EXPECT_NE(about.body.find("gpg --send-keys"), std::string::npos);
  // Operator instructions left for the docs.
  EXPECT_EQ(about.body.find("wkd-export"), std::string::npos);
  EXPECT_EQ(about.body.find("--tls-cert"), std::string::npos);
  Reply api = env.get("/api");
  ASSERT_EQ(api.status, 200);
  EXPECT_TRUE(is_html(api));
  EXPECT_NE(api.body.find("The keydir HTTP API"), std::string::npos);
  EXPECT_NE(api.body.find("/pks/lookup"), std::string::npos);
  Reply policy = env.get("/policy");
  ASSERT_EQ(policy.status, 200);
  EXPECT_NE(policy.body.find("What this directory stores"), std::string::npos);
  EXPECT_NE(policy.body.find("words of a name"), std::string::npos);
}

TEST(Pages, OperatorPolicyAndContactAreEscapedText) {
  auto store = std::make_unique<storage::MemoryKeyStore>();
  service::KeyDirectory directory(*store, {}, [] { return test::kNow; });
  ApiOptions o;
  o.add_per_minute = 0;
  o.token_secret = std::string(32, 'k');
  o.pages.contact = "Ops <ops@keydir.test> & co";
  o.pages.policy_text =
      "# Our <b>policy</b>\r\n\r\nWe keep\nlogs <script>x</script> for 7 days.\n\n"
      "- item one\n  continued\n* item <i>two</i>\n";
  Api api(directory, o);
  Reply p = api.dispatch(testing::get_request("/policy", "keydir.test", {}, "127.0.0.1", "GET"));
  ASSERT_EQ(p.status, 200);
  EXPECT_NE(p.body.find("<h3>Our &lt;b&gt;policy&lt;/b&gt;</h3>"), std::string::npos) << p.body;
  EXPECT_NE(p.body.find("<p>We keep logs &lt;script&gt;x&lt;/script&gt; for 7 days.</p>"),
            std::string::npos);
  EXPECT_NE(p.body.find("<ul><li>item one continued</li><li>item &lt;i&gt;two&lt;/i&gt;</li></ul>"),
            std::string::npos);
  EXPECT_EQ(p.body.find("<script>x"), std::string::npos);
  EXPECT_NE(p.body.find("Run by Ops &lt;ops@keydir.test&gt; &amp; co."), std::string::npos);
  Reply a = api.dispatch(testing::get_request("/about", "keydir.test", {}, "127.0.0.1", "GET"));
  EXPECT_NE(a.body.find("This directory is run by Ops &lt;ops@keydir.test&gt; &amp; co."),
            std::string::npos);
}

TEST(Pages, VerifiedModeFindsAKeyWithoutPublishedAddressByFingerprintAndKeyId) {
  VerifiedEnv env;
  auto up = env.directory->upload(test::fixture("gpg-multi.asc"));
  ASSERT_TRUE(up);
  const std::string fpr = kMultiFpr;
  // HKP answers it (its user IDs withheld) ...
  EXPECT_EQ(env.api
                ->dispatch(testing::get_request("/pks/lookup", "keydir.test",
                                                {{"op", "get"}, {"search", "0x" + fpr}},
                                                "192.0.2.7", "GET"))
                .status,
            200);
  // ... and so do the pages.
  Reply k = env.get("/key/" + fpr);
  ASSERT_EQ(k.status, 200) << k.body;
  EXPECT_EQ(k.body.find("multi@keydir.test"), std::string::npos);
  EXPECT_NE(k.body.find("their owners have confirmed by e-mail. Any other user IDs of a key are "
                        "withheld."),
            std::string::npos);
  EXPECT_NE(k.body.find("<li>(none)</li>"), std::string::npos);
  Reply s = env.api->dispatch(
      testing::get_request("/search", "keydir.test", {{"q", fpr}}, "192.0.2.7", "GET"));
  EXPECT_EQ(s.status, 200) << s.body;
  EXPECT_NE(s.body.find("1 key for"), std::string::npos);
  Reply id = env.get("/key/" + fpr.substr(24));
  EXPECT_EQ(id.status, 302);
  // By address: not until it is confirmed.
  Reply e = env.api->dispatch(testing::get_request(
      "/search", "keydir.test", {{"q", "multi@keydir.test"}}, "192.0.2.7", "GET"));
  EXPECT_EQ(e.status, 404);
  // Name search is not offered, and the pages say so.
  EXPECT_NE(env.get("/").body.find("E-mail address, fingerprint or key ID</label>"),
            std::string::npos);
  EXPECT_NE(env.get("/policy").body.find("Search by name is not offered"), std::string::npos);
  EXPECT_NE(env.get("/about").body.find("href=\"/manage\""), std::string::npos);
  EXPECT_NE(env.get("/").body.find("href=\"/manage\""), std::string::npos);
  // The upload answer links to the key's page.
  Reply u = env.post(
      "/upload", "keytext=" + form_encode(std::string(as_chars(test::fixture("gpg-ed25519.asc")))));
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_NE(u.body.find("href=\"/key/67CF1313E65F6635FA4F0978D77690A8A4055BFC\""),
            std::string::npos);
}

TEST(Pages, ManagedModeShowsWhomToAskInsteadOfAnUploadForm) {
  auto store = std::make_unique<storage::MemoryKeyStore>();
  service::DirectoryOptions d;
  d.mode = service::PublishMode::Managed;
  d.managed_domains = {"keydir.test"};
  service::KeyDirectory directory(*store, d, [] { return test::kNow; });
  ApiOptions o;
  o.add_per_minute = 0;
  o.token_secret = std::string(32, 'k');
  o.operator_tokens = {std::string(32, 't')};
  o.pages.contact = "the IT desk, it@keydir.test";
  Api api(directory, o);
  auto get = [&](const std::string& path) {
    return api.dispatch(testing::get_request(path, "keydir.test", {}, "192.0.2.7", "GET"));
  };
  for (const std::string path : {"/", "/upload", "/about"}) {
    Reply r = get(path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body.find("<form action=\"/upload\""), std::string::npos) << path;
    EXPECT_NE(r.body.find("ask the operator: the IT desk, it@keydir.test"), std::string::npos)
        << path;
    EXPECT_NE(r.body.find("<code>keydir.test</code>"), std::string::npos) << path;
  }
  EXPECT_EQ(get("/about").body.find("gpg --send-keys"), std::string::npos);
  Reply post = api.dispatch(testing::post_request("/upload", "application/x-www-form-urlencoded",
                                                  "keytext=x", "192.0.2.7"));
  EXPECT_EQ(post.status, 401);
  EXPECT_TRUE(is_html(post));
  EXPECT_EQ(header(post, "WWW-Authenticate"), "Bearer realm=\"keydir\"");
  EXPECT_NE(post.body.find("ask the operator: the IT desk, it@keydir.test"), std::string::npos);
  Reply hkp = api.dispatch(testing::post_request("/pks/add", "application/x-www-form-urlencoded",
                                                 "keytext=x", "192.0.2.7"));
  EXPECT_EQ(hkp.status, 401);
  EXPECT_FALSE(is_html(hkp));
  EXPECT_NE(get("/policy").body.find("published by this directory&#39;s operators"),
            std::string::npos);
}

}  // namespace
}  // namespace keydir::api
