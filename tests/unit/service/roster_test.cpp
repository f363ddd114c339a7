// The operator's roster (issue #20) on a MemoryKeyStore: one row per key and
// address with its state, filters, paging with a cursor, and every output
// format made safe against hostile user IDs.
#include "service/roster.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cert_generator.hpp"
#include "service/verification.hpp"
#include "storage/memory_key_store.hpp"
#include "test_data.hpp"

namespace keydir::service {
namespace {

class NoMail final : public Mailer {
 public:
  Result<void> send(const MailMessage&) override { return {}; }
};

struct Env {
  storage::MemoryKeyStore store;
  std::unique_ptr<KeyDirectory> directory;
  NoMail mailer;
  std::unique_ptr<Verification> verification;
  std::uint64_t now = test::kNow;
  test::CertGenerator gen{29};

  explicit Env(PublishMode mode, std::vector<std::string> domains = {}) {
    DirectoryOptions o;
    o.mode = mode;
    o.managed_domains = std::move(domains);
    directory = std::make_unique<KeyDirectory>(store, o, [this] { return now; });
    verification = std::make_unique<Verification>(*directory, mailer, VerificationOptions{});
  }
  Fingerprint add(std::vector<std::string> uids) {
    test::CertSpec spec;
    spec.user_ids = std::move(uids);
    auto r = directory->upload(gen.make(spec));
    EXPECT_TRUE(r && r->stored.size() == 1);
    return r->stored.at(0).fingerprint;
  }
  std::vector<RosterRow> rows(const RosterFilter& f = {},
                              const std::optional<RosterCursor>& after = std::nullopt,
                              std::size_t limit = 1000) {
    std::vector<RosterRow> out;
    auto w = walk_roster(*directory, f, after, [&](const RosterRow& r) {
      out.push_back(r);
      return out.size() < limit;
    });
    EXPECT_TRUE(w) << w.error().detail;
    return out;
  }
};

std::string state_of(const std::vector<RosterRow>& rows, const std::string& address) {
  for (const auto& r : rows) {
    if (r.address == address) {
      return std::string(roster_state_name(r.state));
    }
  }
  return "absent";
}

TEST(Roster, OneRowPerKeyAndAddressWithItsState) {
  Env env(PublishMode::Managed, {"corp.test"});
  const auto alice = env.add({"Alice Example <alice@corp.test>", "Alice <alice@gmail.test>",
                              "Alice Again <alice@corp.test>", "no address here"});
  const auto bob = env.add({"Bob <bob@corp.test>"});
  const auto carol = env.add({"Carol <carol@corp.test>"});
  ASSERT_TRUE(env.directory->set_published(alice, {"alice@corp.test"}, {}));
  ASSERT_TRUE(env.verification->request(bob, {"bob@corp.test"}, "c"));
  auto rows = env.rows();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(state_of(rows, "alice@corp.test"), "published");
  EXPECT_EQ(state_of(rows, "alice@gmail.test"), "withheld");
  EXPECT_EQ(state_of(rows, "bob@corp.test"), "pending");
  EXPECT_EQ(state_of(rows, "carol@corp.test"), "withheld");
  for (const auto& r : rows) {
    if (r.address == "alice@corp.test") {
      EXPECT_EQ(r.fingerprint, alice);
      // The name of one user ID with the address (the primary one first).
      EXPECT_TRUE(r.name == "Alice Example" || r.name == "Alice Again") << r.name;
      EXPECT_EQ(r.published_at, std::optional<std::uint64_t>(test::kNow));
      EXPECT_EQ(r.key_created, 1700000000u);
      EXPECT_FALSE(r.revoked);
    } else {
      EXPECT_FALSE(r.published_at);
    }
  }
  // In (fingerprint, address) order.
  for (std::size_t i = 1; i < rows.size(); ++i) {
    EXPECT_TRUE(std::tie(rows[i - 1].fingerprint, rows[i - 1].address) <
                std::tie(rows[i].fingerprint, rows[i].address));
  }
  (void)carol;
}

TEST(Roster, FiltersByDomainStateAndName) {
  Env env(PublishMode::Verified);
  const auto a = env.add({"Åsa Öberg <asa@corp.test>", "Åsa <asa@home.test>"});
  env.add({"ДМИТРИЙ <dima@corp.test>"});
  env.add({"Zoë <zoe@other.test>"});
  ASSERT_TRUE(env.directory->set_published(a, {"asa@home.test"}, {}));
  RosterFilter f;
  f.domains = {"corp.test"};
  EXPECT_EQ(env.rows(f).size(), 2u);
  f.state = RosterState::Withheld;
  EXPECT_EQ(env.rows(f).size(), 2u);
  f.domains = {};
  f.state = RosterState::Published;
  auto pub = env.rows(f);
  ASSERT_EQ(pub.size(), 1u);
  EXPECT_EQ(pub[0].address, "asa@home.test");
  // Any case, beyond ASCII too; the address as well as the name.
  RosterFilter m;
  m.match = "åSA ö";
  EXPECT_EQ(env.rows(m).size(), 1u);
  m.match = "дмитрий";
  EXPECT_EQ(env.rows(m).size(), 1u);
  m.match = "ZOË";
  EXPECT_EQ(env.rows(m).size(), 1u);
  m.match = "OTHER.TEST";
  EXPECT_EQ(env.rows(m).size(), 1u);
  m.match = "nobody";
  EXPECT_TRUE(env.rows(m).empty());
}

TEST(Roster, OpenModePublishesEveryCurrentAddress) {
  Env env(PublishMode::Open);
  env.add({"A <a@x.test>", "B <b@y.test>"});
  for (const auto& r : env.rows()) {
    EXPECT_EQ(r.state, RosterState::Published) << r.address;
  }
}

TEST(Roster, PagesWithTheCursorGiveEachRowOnce) {
  Env env(PublishMode::Verified);
  for (int i = 0; i < 7; ++i) {
    env.add({"P" + std::to_string(i) + " <p" + std::to_string(i) + "@corp.test>",
             "Q <q" + std::to_string(i) + "@corp.test>"});
  }
  const auto all = env.rows();
  ASSERT_EQ(all.size(), 14u);
  std::vector<std::pair<Fingerprint, std::string>> paged;
  std::optional<RosterCursor> after;
  for (int page = 0; page < 20; ++page) {
    auto rows = env.rows({}, after, 3);
    if (rows.empty()) {
      break;
    }
    for (const auto& r : rows) {
      paged.emplace_back(r.fingerprint, r.address);
    }
    const std::string text = RosterCursor{rows.back().fingerprint, rows.back().address}.to_string();
    EXPECT_EQ(text.find_first_not_of("0123456789ABCDEFabcdef:"), std::string::npos) << text;
    auto parsed = RosterCursor::parse(text);
    ASSERT_TRUE(parsed);
    after = *parsed;
  }
  ASSERT_EQ(paged.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(paged[i], std::make_pair(all[i].fingerprint, all[i].address));
  }
  for (const char* bad :
       {"", "xyz", "ABCD:6162", "not:hex", "FC5D7A6980F7E484468DB87F65C71B0D2BE692AA:zz"}) {
    EXPECT_FALSE(RosterCursor::parse(bad)) << bad;
  }
}

TEST(Roster, HostileTextIsNeutralisedInEveryFormat) {
  EXPECT_EQ(shown_text("a\nb\x1b[31m\x7f"), "a\\x0ab\\x1b[31m\\x7f");
  EXPECT_EQ(shown_text("\xc2\x9b"
                       "1m \xe2\x80\xae"
                       "gnp.exe"),
            "\\u{009b}1m \\u{202e}gnp.exe");
  EXPECT_EQ(shown_text("bad \xff\xc3 end \\"), "bad \\xff\\xc3 end \\\\");
  EXPECT_EQ(shown_text("Zoë 日本"), "Zoë 日本");
  EXPECT_EQ(csv_cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
  for (const char* f : {"+1", "-1", "@SUM(A1)", "=1"}) {
    EXPECT_EQ(csv_cell(f)[0], '\'') << f;
  }
  EXPECT_EQ(csv_cell("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_cell("Alice"), "Alice");
  EXPECT_EQ(csv_cell("x\r\ny"), "x\\x0d\\x0ay");

  Env env(PublishMode::Open);
  env.add(
      {"=HYPERLINK(\"http://x\") <mallory@corp.test>", "Eve \xe2\x80\xae\xc2\x85 <eve@corp.test>"});
  auto rows = env.rows();
  ASSERT_EQ(rows.size(), 2u);
  const std::string next = RosterCursor{rows.back().fingerprint, rows.back().address}.to_string();
  for (auto format : {RosterFormat::Text, RosterFormat::Csv, RosterFormat::Json}) {
    std::ostringstream out;
    RosterWriter w(out, format);
    w.begin();
    for (const auto& r : rows) {
      w.row(r);
    }
    w.end(RosterCursor{rows.back().fingerprint, rows.back().address});
    const std::string s = out.str();
    EXPECT_EQ(s.find("\xe2\x80\xae"), std::string::npos);
    if (format == RosterFormat::Text) {
      EXPECT_NE(s.find("Eve \\u{202e}\\u{0085}"), std::string::npos) << s;
      EXPECT_NE(s.find("\nnext: --after "), std::string::npos);
      EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 4);  // header, 2 rows, next
    } else if (format == RosterFormat::Csv) {
      EXPECT_EQ(s.rfind("fingerprint,address,name,state,", 0), 0u);
      EXPECT_NE(s.find(",\"'=HYPERLINK(\"\"http://x\"\")\",published,"), std::string::npos) << s;
      EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 3);
    } else {
      auto j = nlohmann::json::parse(s);
      EXPECT_EQ(j["rows"].size(), 2u);
      EXPECT_EQ(j["next"], next);
      EXPECT_EQ(j["rows"][0]["state"], "published");
      EXPECT_EQ(s.find_first_of("\x80\xc2\xe2"), std::string::npos);  // ASCII only
    }
  }
}

}  // namespace
}  // namespace keydir::service
