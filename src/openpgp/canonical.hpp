// Canonical form, serialization and merge of certificates.
//
// canonicalize() puts a certificate in one deterministic form: duplicate
// components are joined, signatures that differ only in their unhashed
// subpackets are one signature (the one with the smallest encoding is kept),
// and every list is sorted. serialize() writes it from the original packet
// bodies with OpenPGP-format headers. So the same certificate always has the
// same bytes and the same digest, and merge() — union, then canonicalize — is
// idempotent, commutative and associative.
#pragma once

#include <functional>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "openpgp/certificate.hpp"

namespace keydir::openpgp {

void canonicalize(Certificate& cert);

// Errors: BadQuery when the two primary keys differ.
Result<Certificate> merge(const Certificate& a, const Certificate& b);

// Binary transferable public key (RFC 9580 §10.1).
Bytes serialize(const Certificate& cert);

// SHA-256 of serialize(cert), the certificate's content digest.
Bytes content_digest(const Certificate& cert);

// The SKS key hash, as SKS and Hockeypuck define it: MD5 over the
// certificate's packets sorted by (tag, body), each written as a four-octet
// tag, a four-octet body length and the body. Used by `op=hget` and for
// reconciliation with the keyserver network.
Bytes sks_digest(const Certificate& cert);

// A copy of `cert` that keeps only the user IDs `keep` accepts (given each
// one's index in cert.user_ids), with their
// signatures; user attributes are left out. The primary key, its direct-key
// signatures and revocations, and every subkey stay. (A WKD answer carries
// only the user IDs of the address asked for.)
Certificate with_user_ids(const Certificate& cert,
                          const std::function<bool(std::size_t, const UserIdBundle&)>& keep);

}  // namespace keydir::openpgp
