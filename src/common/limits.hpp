// Every bound keydir applies to hostile input, named, with its origin.
// Each one has a test at the limit (accepted) and one past it (clear error).
// The policy (openpgp/policy.hpp) copies these as its defaults; a deployment
// may change them in the config file.
#pragma once

#include <cstddef>

namespace keydir::limits {

// Input to one upload / one `keydir inspect` run. Hagrid UPLOAD_LIMIT (1 MiB),
// nginx `client_max_body_size 1m`. Real flooded certificates are larger; they
// come in through bulk import, which has its own bound per certificate.
inline constexpr std::size_t kMaxUploadBytes = 1024 * 1024;
// Armored text is 4/3 of the binary plus line breaks and headers.
inline constexpr std::size_t kMaxArmoredUploadBytes = kMaxUploadBytes * 3 / 2;
// SKS recon: one /pks/hashquery asks for at most this many hashes (SKS and
// Hockeypuck ask in batches of 100), and its answer stops growing past this
// size (Hockeypuck's maxResponseLen idea); the asker gets the rest in a later
// round.
inline constexpr std::size_t kMaxHashqueryHashes = 10000;
inline constexpr std::size_t kMaxHashqueryBytes = 4 + kMaxHashqueryHashes * 20;
inline constexpr std::size_t kMaxHashqueryAnswerBytes = 16 * 1024 * 1024;
// Input of one file in bulk import (keyserver dumps hold many certificates).
inline constexpr std::size_t kMaxImportCertBytes = 16 * 1024 * 1024;
// Any single packet in the input: Sequoia DEFAULT_MAX_PACKET_SIZE, RNP
// PGP_MAX_PKT_SIZE. Larger → the whole input is refused (PacketTooLarge).
inline constexpr std::size_t kMaxPacketBytes = 1024 * 1024;
// --threads of import and check --deep: a thread more than the machine has
// cores only waits.
inline constexpr unsigned kMaxWorkerThreads = 256;
// A public key or subkey packet we keep. RSA-16384 is about 2 KiB; the
// largest PQC (McEliece) keys are far above this and are not supported.
inline constexpr std::size_t kMaxKeyPacketBytes = 16 * 1024;
// A signature packet we keep. Mailvelope uses 8383 B for any packet; real
// self-signatures with notations and embedded back-signatures stay under 4 KiB.
inline constexpr std::size_t kMaxSignaturePacketBytes = 8383;
// A user ID we keep (Mailvelope: 1024 B).
inline constexpr std::size_t kMaxUserIdBytes = 1024;
// A user attribute (photo ID) we keep, when the policy keeps them at all.
inline constexpr std::size_t kMaxUserAttributeBytes = 64 * 1024;
// Packets in the input of one certificate, counted before any stripping. The
// largest real flooded certificate in the test corpus (dkg.pgp, 671 KB) has
// about 4,300 packets; 1 MiB of minimal signatures cannot exceed ~10,000.
inline constexpr std::size_t kMaxPacketsPerCert = 20000;
// Kept components of one certificate, after stripping (Mailvelope: 20 each;
// raised because real long-lived keys carry more).
inline constexpr std::size_t kMaxUserIdsPerCert = 64;
inline constexpr std::size_t kMaxSubkeysPerCert = 64;
// Self-signatures kept per component (the newest ones win). Only the key
// owner can make them, so this bounds storage, not an attack.
inline constexpr std::size_t kMaxSelfSigsPerComponent = 64;
// Third-party certifications kept per user ID when the policy keeps them.
inline constexpr std::size_t kMaxThirdPartySigsPerUserId = 64;
// The canonical certificate we store (Mailvelope: 32 KiB; raised so that an
// RSA-4096 key with many subkeys and user IDs fits).
inline constexpr std::size_t kMaxCertBytes = 256 * 1024;
// Certificates in one upload (`gpg --send-keys` sends several in one keytext).
inline constexpr std::size_t kMaxCertsPerUpload = 1000;
// Armor blocks in one input, and armor header lines per block.
inline constexpr std::size_t kMaxArmorBlocks = 1000;
inline constexpr std::size_t kMaxArmorHeaders = 64;
// Longest MPI we accept (RSA-16384); longer is malformed for our purposes.
inline constexpr std::size_t kMaxMpiBits = 16384;
// Signature subpackets per signature (hashed + unhashed).
inline constexpr std::size_t kMaxSubpackets = 256;
// Digest computations spent on putting misplaced self-signatures back where
// they belong (Sequoia does the same repair). Each costs one hash, no
// public-key operation; the bound keeps a hostile input linear.
inline constexpr std::size_t kMaxRelocationChecks = 10000;
// HKP `search` and VKS path segments.
inline constexpr std::size_t kMaxQueryBytes = 256;

}  // namespace keydir::limits
