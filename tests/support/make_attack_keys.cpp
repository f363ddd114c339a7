// make_attack_keys: writes the crafted certificates of the attacker's suite
// (tests/adversarial), made with the test generator, never by editing bytes.
// Deterministic: the same run writes the same files.
//
//   make_attack_keys OUT_DIR
//
// Files (binary OpenPGP, one certificate each unless said):
//   victim.pgp, victim6.pgp        the victim's certificates (v4 and v6)
//   squat.pgp, squat6.pgp          the attacker's certificates, carrying the
//                                  victim's primary key as an authentication-only
//                                  subkey, bound by the attacker alone
//   squat-sign.pgp                 the same claim with signing flags but no
//                                  back-signature (must be stripped)
//   tomb.pgp, tomb-squat.pgp       a key to delete, and an attacker's
//                                  certificate carrying it as a subkey
//   uid-original.pgp               a certificate with two certified user IDs
//   uid-revoked-full.pgp           the same, one user ID certified and revoked
//   uid-revoked-minimal.pgp        the same, that user ID with only its
//                                  revocation (gpg --export-options export-minimal)
//   *.fpr                          the fingerprint of each, upper-case hex
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cert_generator.hpp"
#include "openpgp/certificate.hpp"

namespace {

using keydir::Bytes;
using keydir::test::CertGenerator;
using keydir::test::CertSpec;

std::array<std::uint8_t, 32> seed_of(std::uint8_t tag) {
  std::array<std::uint8_t, 32> s{};
  for (std::size_t i = 0; i < s.size(); ++i) {
    s[i] = static_cast<std::uint8_t>(tag * 31 + i * 7 + 1);
  }
  return s;
}

bool write(const std::string& dir, const std::string& name, const Bytes& cert) {
  std::ofstream f(dir + "/" + name + ".pgp", std::ios::binary);
  f.write(reinterpret_cast<const char*>(cert.data()), static_cast<std::streamsize>(cert.size()));
  auto parsed = keydir::openpgp::parse_certificates(cert);
  if (!parsed || parsed->empty() || !parsed->front().cert) {
    std::cerr << "make_attack_keys: " << name << " does not parse\n";
    return false;
  }
  std::ofstream(dir + "/" + name + ".fpr")
      << parsed->front().cert->primary.fingerprint.to_hex() << "\n";
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || std::string_view(argv[1]).starts_with("-")) {
    std::cerr << "usage: make_attack_keys OUT_DIR (writes the attack keys there)\n";
    return argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")
               ? 0
               : 2;
  }
  const std::string dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::cerr << "make_attack_keys: cannot create " << dir << ": " << ec.message() << "\n";
    return 1;
  }
  CertGenerator gen(16);
  bool ok = true;
  constexpr std::uint32_t kVictimTime = 1700000000;
  for (int v : {4, 6}) {
    const std::string suffix = v == 6 ? "6" : "";
    CertSpec victim;
    victim.version = v;
    victim.user_ids = {"Victoria Victim <victim@example.org>"};
    victim.created = kVictimTime;
    victim.primary_seed = seed_of(static_cast<std::uint8_t>(v));
    victim.signing_subkey_seed = seed_of(static_cast<std::uint8_t>(v + 1));
    ok &= write(dir, "victim" + suffix, gen.make(victim));

    CertSpec squat;
    squat.version = v;
    squat.user_ids = {"Mallory <mallory@evil.example>"};
    squat.created = kVictimTime + 100;
    squat.bound_subkeys.push_back({*victim.primary_seed, kVictimTime, 0x20});
    ok &= write(dir, "squat" + suffix, gen.make(squat));
  }
  {
    CertSpec squat;
    squat.user_ids = {"Mallory Signer <mallory@evil.example>"};
    squat.created = kVictimTime + 200;
    squat.bound_subkeys.push_back({seed_of(4), kVictimTime, 0x02});
    ok &= write(dir, "squat-sign", gen.make(squat));
  }
  {
    CertSpec tomb;
    tomb.user_ids = {"Deleted Person <deleted@example.org>"};
    tomb.created = kVictimTime + 300;
    tomb.primary_seed = seed_of(40);
    ok &= write(dir, "tomb", gen.make(tomb));
    CertSpec squat;
    squat.user_ids = {"Mallory Again <mallory@evil.example>"};
    squat.created = kVictimTime + 400;
    squat.bound_subkeys.push_back({seed_of(40), tomb.created, 0x20});
    ok &= write(dir, "tomb-squat", gen.make(squat));
  }
  {
    CertSpec uid;
    uid.user_ids = {"Rita Revoker <rita@example.org>"};
    uid.created = kVictimTime + 500;
    uid.primary_seed = seed_of(50);
    CertGenerator g1(50), g2(50), g3(50);
    CertSpec original = uid;
    original.user_ids.push_back("Rita Old <rita.old@example.org>");
    ok &= write(dir, "uid-original", g1.make(original));
    CertSpec full = uid;
    full.revoked_user_ids.push_back({"Rita Old <rita.old@example.org>", true});
    ok &= write(dir, "uid-revoked-full", g2.make(full));
    CertSpec minimal = uid;
    minimal.revoked_user_ids.push_back({"Rita Old <rita.old@example.org>", false});
    ok &= write(dir, "uid-revoked-minimal", g3.make(minimal));
  }
  return ok ? 0 : 1;
}
