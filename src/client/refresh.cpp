#include "client/refresh.hpp"

#include <sys/wait.h>
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <ostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "client/audit.hpp"
#include "client/exit_codes.hpp"
#include "common/time_format.hpp"
#include "openpgp/canonical.hpp"
#include "openpgp/certificate.hpp"
#include "openpgp/policy.hpp"
#include "openpgp/types.hpp"

namespace keydir::client {

namespace {

std::string date_of(const std::optional<std::uint32_t>& t) {
  return t ? utc_date(*t) : std::string("never");
}

std::string usage_of(const std::optional<std::uint8_t>& flags) {
  if (!flags) {
    return "no usage flags";
  }
  std::string s;
  const std::pair<std::uint8_t, const char*> names[] = {
      {openpgp::kFlagCertify, "certify"},
      {openpgp::kFlagSign, "sign"},
      {openpgp::kFlagEncryptCommunications | openpgp::kFlagEncryptStorage, "encrypt"},
      {openpgp::kFlagAuthenticate, "authenticate"},
  };
  for (auto [bits, name] : names) {
    if (*flags & bits) {
      s += (s.empty() ? "" : ",") + std::string(name);
    }
  }
  return s.empty() ? "no usage flags" : s;
}

std::string key_words(const openpgp::PublicKey& k) {
  std::string s(openpgp::algorithm_name(k.algorithm));
  if (k.bits != 0) {
    s += " " + std::to_string(k.bits);
  }
  return s;
}

std::string revocation_words(const openpgp::Revocation& r) {
  std::string s = "revoked on " + utc_date(r.created);
  const char* why = nullptr;
  if (r.code) {
    switch (*r.code) {
      case 1:
        why = "superseded";
        break;
      case 2:
        why = "compromised";
        break;
      case 3:
        why = "retired";
        break;
      case 32:
        why = "no longer valid";
        break;
      default:
        break;
    }
  }
  std::string reason = printable(r.reason, 200);
  if (why || !reason.empty()) {
    s += " (" + std::string(why ? why : "") + (why && !reason.empty() ? ": " : "") + reason + ")";
  }
  return s;
}

std::string expiry_change(const std::optional<std::uint32_t>& was,
                          const std::optional<std::uint32_t>& now) {
  const bool later = !now || (was && *now > *was);
  return std::string(later ? "expiry extended" : "expiry changed") + " from " + date_of(was) +
         " to " + date_of(now);
}

std::string user_id_text(const Bytes& body) {
  return "\"" + printable(std::string(as_chars(body)), 200) + "\"";
}

std::uint64_t now_seconds() {
  return static_cast<std::uint64_t>(std::time(nullptr));
}

// The most serious failure names the outcome: another key (6), an answer
// that does not verify (4), the network (3), a refusal (5), the rest (2).
int rank(int code) {
  switch (code) {
    case kExitOk:
      return 0;
    case kExitLogInconsistent:
      return 6;
    case kExitWrongKey:
      return 5;
    case kExitBadAnswer:
      return 4;
    case kExitNetwork:
      return 3;
    case kExitServerRefused:
      return 2;
    default:
      return 1;
  }
}

}  // namespace

std::vector<std::string> describe_changes(const openpgp::CertificateStates& before,
                                          const openpgp::CertificateStates& after) {
  std::vector<std::string> out;
  const auto& b = before.primary_state();
  const auto& a = after.primary_state();
  if (!b.revocation && a.revocation) {
    out.push_back("key " + revocation_words(*a.revocation));
  }
  if (b.expires != a.expires) {
    out.push_back(expiry_change(b.expires, a.expires));
  }
  std::map<std::string, std::size_t> old_subkeys;
  for (std::size_t i = 0; i < before.cert().subkeys.size(); ++i) {
    old_subkeys[before.cert().subkeys[i].key.fingerprint.to_hex()] = i;
  }
  for (std::size_t i = 0; i < after.cert().subkeys.size(); ++i) {
    const auto& key = after.cert().subkeys[i].key;
    const auto& st = after.subkey_states()[i];
    const std::string fpr = key.fingerprint.to_hex();
    auto old = old_subkeys.find(fpr);
    if (old == old_subkeys.end()) {
      std::string line = "new subkey " + fpr + " (" + key_words(key) + ", " + usage_of(st.flags) +
                         ", expires " + date_of(st.expires) + ")";
      if (st.revocation) {
        line += ", " + revocation_words(*st.revocation);
      }
      out.push_back(std::move(line));
      continue;
    }
    const auto& was = before.subkey_states()[old->second];
    if (!was.revocation && st.revocation) {
      out.push_back("subkey " + fpr + " " + revocation_words(*st.revocation));
    }
    if (was.expires != st.expires) {
      out.push_back("subkey " + fpr + " " + expiry_change(was.expires, st.expires));
    }
    if (was.flags != st.flags) {
      out.push_back("subkey " + fpr + " usage changed from " + usage_of(was.flags) + " to " +
                    usage_of(st.flags));
    }
  }
  std::map<Bytes, std::size_t> old_uids;
  for (std::size_t i = 0; i < before.cert().user_ids.size(); ++i) {
    old_uids[before.cert().user_ids[i].body] = i;
  }
  for (std::size_t i = 0; i < after.cert().user_ids.size(); ++i) {
    const auto& body = after.cert().user_ids[i].body;
    const auto& st = after.user_id_states()[i];
    auto old = old_uids.find(body);
    if (old == old_uids.end()) {
      out.push_back("new user ID " + user_id_text(body) +
                    (st.revocation ? ", " + revocation_words(*st.revocation) : std::string()));
      continue;
    }
    if (!before.user_id_states()[old->second].revocation && st.revocation) {
      out.push_back("user ID " + user_id_text(body) + " " + revocation_words(*st.revocation));
    }
  }
  return out;
}

KeyRefresh refresh_key(const ClientOptions& o, const openpgp::VerifiedCertificate& local,
                       const RefreshOptions& ro, std::ostream& err) {
  KeyRefresh k;
  k.fingerprint = local.fingerprint().to_hex();
  const auto& uids = local.cert().user_ids;
  for (std::size_t i = 0; i < uids.size(); ++i) {
    if (k.user_id.empty() || local.user_id_states()[i].primary) {
      k.user_id = printable(std::string(as_chars(uids[i].body)), 200);
    }
  }
  std::vector<Bytes> answers;
  auto failed = [&](int code, const std::string& why) {
    if (rank(code) > rank(k.exit_code)) {
      k.exit_code = code;
      k.error = why;
    }
  };
  auto lookup = [&](const FetchQuery& q, FetchOptions fo) {
    fo.verbose = ro.verbose;
    fo.progress = ro.progress.progress;
    fo.progress_terminal = ro.progress.progress_terminal;
    fo.progress_out = &err;
    std::ostringstream quiet;
    Bytes certs;
    FetchReport report;
    const int rc = fetch(o, q, fo, certs, ro.verbose ? err : quiet, &report);
    if (rc == kExitNotFound) {
      return;
    }
    if (rc != kExitOk) {
      failed(rc, report.error.empty() ? "the lookup of the " + q.describe() + " failed (exit " +
                                            std::to_string(rc) + ")"
                                      : report.error);
      return;
    }
    if (fo.log_proof) {
      LogOptions lo = ro.log_checks;
      lo.log_key = ro.log_key;
      lo.verbose = ro.verbose;
      std::ostringstream audit_err;
      const int audited = audit_fetch(o, q, report, lo, audit_err);
      const std::string said = audit_err.str();
      if (ro.verbose || said.find("pinned log key") != std::string::npos) {
        err << said;
      }
      if (audited != kExitOk) {
        std::string last = said.substr(0, said.size() - (said.ends_with('\n') ? 1 : 0));
        last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
        failed(audited, "the log audit of " + report.source + " failed: " + last);
        return;
      }
    }
    auto parsed = openpgp::parse_certificates(certs);
    bool ours = false;
    if (parsed) {
      for (auto& p : *parsed) {
        if (p.cert && p.cert->primary.fingerprint == local.fingerprint()) {
          ours = true;
        }
      }
    }
    if (!ours) {
      // A WKD may serve other keys for the address: not this key's update.
      if (ro.verbose) {
        err << "keydir: " << report.source << " holds no key " << k.fingerprint << "\n";
      }
      return;
    }
    answers.push_back(std::move(certs));
    k.sources.push_back(report.source);
    k.third_party_ignored += report.third_party_dropped;
  };
  if (ro.verbose) {
    err << "keydir: refreshing " << k.fingerprint << " " << k.user_id << "\n";
  }
  if (!o.server.empty()) {
    FetchQuery q;
    q.fingerprint = local.fingerprint();
    q.strict = true;
    FetchOptions fo;
    fo.wkd = false;
    fo.log_proof = ro.audit;
    lookup(q, fo);
  }
  if (ro.wkd && !ro.audit) {
    std::vector<std::string> seen;
    for (std::size_t i = 0; i < uids.size() && seen.size() < kMaxRefreshAddresses; ++i) {
      const auto& st = local.user_id_states()[i];
      if (!st.email || st.revocation ||
          std::find(seen.begin(), seen.end(), st.email->address()) != seen.end()) {
        continue;
      }
      seen.push_back(st.email->address());
      FetchQuery q;
      q.email = *st.email;
      q.strict = true;
      FetchOptions fo;
      fo.server = false;
      fo.wkd_host = ro.wkd_host;
      lookup(q, fo);
    }
  }
  if (k.exit_code != kExitOk) {
    k.state = KeyRefresh::State::Failed;
    return k;
  }
  if (answers.empty()) {
    k.state = KeyRefresh::State::NotFound;
    return k;
  }
  openpgp::Certificate merged = local.cert();
  for (const auto& a : answers) {
    auto parsed = openpgp::parse_certificates(a);
    if (!parsed) {
      continue;
    }
    for (auto& p : *parsed) {
      if (p.cert && p.cert->primary.fingerprint == local.fingerprint()) {
        auto m = openpgp::merge(merged, *p.cert);
        if (m) {
          merged = std::move(*m);
        }
      }
    }
  }
  openpgp::Policy policy;
  auto after = openpgp::verify(std::move(merged), policy, now_seconds());
  if (!after.accepted()) {
    k.state = KeyRefresh::State::Failed;
    k.exit_code = kExitBadAnswer;
    k.error = "the key merged with the answer does not verify: " + after.refusal->detail;
    return k;
  }
  k.changes = describe_changes(local, *after.cert);
  k.state = k.changes.empty() ? KeyRefresh::State::Unchanged : KeyRefresh::State::Changed;
  if (!k.changes.empty()) {
    k.update = after.cert->to_bytes();
  }
  return k;
}

namespace {

const char* state_name(KeyRefresh::State s) {
  switch (s) {
    case KeyRefresh::State::Unchanged:
      return "unchanged";
    case KeyRefresh::State::Changed:
      return "changed";
    case KeyRefresh::State::NotFound:
      return "not_found";
    case KeyRefresh::State::Failed:
      return "failed";
    case KeyRefresh::State::Skipped:
      return "skipped";
  }
  return "failed";
}

// Runs `command` (through the shell) and reads its standard output, at most
// `max` octets. nullopt, and `error`, when it cannot run, says too much or
// exits non-zero.
std::optional<Bytes> read_command(const std::string& command, std::size_t max, std::string& error) {
  FILE* p = popen(command.c_str(), "r");
  if (!p) {
    error = "cannot run " + command;
    return std::nullopt;
  }
  Bytes data;
  char buf[65536];
  std::size_t got = 0;
  bool too_large = false;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) {
    if (data.size() + got > max) {
      too_large = true;
      break;
    }
    data.insert(data.end(), buf, buf + got);
  }
  // pclose waits for the command: drain what it still writes.
  while (too_large && std::fread(buf, 1, sizeof buf, p) > 0) {
  }
  const int status = pclose(p);
  if (too_large) {
    error = command + " wrote more than " + std::to_string(max) + " octets";
    return std::nullopt;
  }
  if (status != 0) {
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    error = command + (code == 127 ? " could not run (not in PATH?)"
                       : code >= 0 ? " failed (exit " + std::to_string(code) + ")"
                                   : std::string(" was killed"));
    return std::nullopt;
  }
  return data;
}

bool write_command(const std::string& command, const Bytes& data) {
  FILE* p = popen(command.c_str(), "w");
  if (!p) {
    return false;
  }
  const bool written = std::fwrite(data.data(), 1, data.size(), p) == data.size();
  return pclose(p) == 0 && written;
}

}  // namespace

void print_refresh(const KeyRefresh& k, std::ostream& out) {
  out << k.fingerprint << (k.user_id.empty() ? "" : "  " + k.user_id) << "\n";
  switch (k.state) {
    case KeyRefresh::State::Unchanged:
      out << "  unchanged\n";
      break;
    case KeyRefresh::State::NotFound:
      out << "  not found on the directory\n";
      break;
    case KeyRefresh::State::Failed:
      out << "  error: " << k.error << "\n  nothing imported\n";
      break;
    case KeyRefresh::State::Skipped:
      out << "  skipped: " << k.error << "\n";
      break;
    case KeyRefresh::State::Changed:
      for (const auto& c : k.changes) {
        out << "  " << c << "\n";
      }
      break;
  }
  if (k.third_party_ignored != 0) {
    out << "  " << k.third_party_ignored << " third-party certification"
        << (k.third_party_ignored == 1 ? "" : "s")
        << " ignored (only the key's own signatures count)\n";
  }
  if (k.state == KeyRefresh::State::Changed) {
    if (k.imported) {
      out << "  imported into gpg\n";
    } else if (!k.error.empty()) {
      out << "  not imported: " << k.error << "\n";
    } else {
      out << "  not imported (--import imports the verified update)\n";
    }
  }
}

int refresh(const ClientOptions& o, const RefreshOptions& ro, std::ostream& out,
            std::ostream& err) {
  if (o.server.empty() && !ro.wkd) {
    err << "keydir refresh: nothing to ask: give --server URL (or KEYDIR_SERVER), or allow WKD\n";
    return kExitUsage;
  }
  if (ro.import && !ro.keyring.empty()) {
    err << "keydir refresh: --import updates gpg's keyring: use it without --keyring\n";
    return kExitUsage;
  }
  std::string error;
  std::optional<Bytes> data =
      ro.keyring.empty()
          ? read_command(ro.gpg + " --batch --quiet --export", kMaxRefreshKeyringBytes, error)
          : read_input(ro.keyring, kMaxRefreshKeyringBytes, error);
  if (!data) {
    err << "keydir refresh: " << error << "\n";
    return kExitUsage;
  }
  const std::string what = ro.keyring.empty() ? std::string("gpg's keyring") : ro.keyring;
  if (data->empty()) {
    err << "keydir refresh: no keys in " << what << "\n";
    return kExitOk;
  }
  openpgp::Policy policy;
  auto local =
      openpgp::verify_input(*data, policy, now_seconds(), kMaxRefreshKeyringBytes, ro.max_keys);
  if (!local) {
    err << "keydir refresh: " << what << ": "
        << (local.error().code == ErrorCode::SecretKeyRefused
                ? "holds a secret key: give public keys (gpg --export), nothing was sent"
                : local.error().detail)
        << (local.error().code == ErrorCode::TooManyComponents
                ? " (at most " + std::to_string(ro.max_keys) + " keys)"
                : std::string())
        << "\n";
    return kExitUsage;
  }
  std::vector<KeyRefresh> keys;
  for (std::size_t i = 0; i < local->size(); ++i) {
    const auto& v = (*local)[i];
    if (!v.accepted()) {
      KeyRefresh k;
      k.fingerprint =
          v.fingerprint ? v.fingerprint->to_hex() : "(key " + std::to_string(i + 1) + ")";
      k.state = KeyRefresh::State::Skipped;
      k.error = "the local key does not verify: " + printable(v.refusal->detail, 300);
      keys.push_back(std::move(k));
      continue;
    }
    keys.push_back(refresh_key(o, *v.cert, ro, err));
    if (ro.progress.progress_terminal && local->size() > 10 && (i + 1) % 10 == 0) {
      err << "keydir refresh: " << (i + 1) << "/" << local->size() << "\n";
    }
  }
  int result = kExitOk;
  std::size_t counts[5] = {0, 0, 0, 0, 0};
  std::size_t imported = 0;
  for (auto& k : keys) {
    if (k.state == KeyRefresh::State::Changed && ro.import) {
      k.imported = write_command(ro.gpg + " --batch --quiet --import", k.update);
      if (k.imported) {
        ++imported;
      } else {
        k.error = ro.gpg + " --import failed";
        result = rank(kExitUsage) > rank(result) ? kExitUsage : result;
      }
    }
    ++counts[static_cast<int>(k.state)];
    if (k.state == KeyRefresh::State::Failed && rank(k.exit_code) > rank(result)) {
      result = k.exit_code;
    }
  }
  if (ro.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& k : keys) {
      arr.push_back({{"fingerprint", k.fingerprint},
                     {"user_id", k.user_id},
                     {"state", state_name(k.state)},
                     {"changes", k.changes},
                     {"sources", k.sources},
                     {"third_party_ignored", k.third_party_ignored},
                     {"error", k.error.empty() ? nlohmann::json() : nlohmann::json(k.error)},
                     {"imported", k.imported}});
    }
    out << arr.dump(2, ' ', true, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (const auto& k : keys) {
      print_refresh(k, out);
    }
    out << keys.size() << (keys.size() == 1 ? " key: " : " keys: ")
        << counts[static_cast<int>(KeyRefresh::State::Changed)] << " changed, "
        << counts[static_cast<int>(KeyRefresh::State::Unchanged)] << " unchanged, "
        << counts[static_cast<int>(KeyRefresh::State::NotFound)] << " not found, "
        << counts[static_cast<int>(KeyRefresh::State::Failed)] << " failed";
    if (counts[static_cast<int>(KeyRefresh::State::Skipped)] != 0) {
      out << ", " << counts[static_cast<int>(KeyRefresh::State::Skipped)] << " skipped";
    }
    out << "; "
        << (ro.import ? std::to_string(imported) + " imported into gpg"
                      : std::string("nothing imported"))
        << "\n";
  }
  return result;
}

}  // namespace keydir::client
