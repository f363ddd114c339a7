// The RocksDB store's plug-ins (internal to storage/rocksdb): the merge
// operators that keep its index sets and counters without a read before each
// write, and the prefix extractor of its word index. Their names are stored
// in the data folder's OPTIONS file: renaming one makes RocksDB refuse to
// open existing folders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>

#include "storage/rocksdb/codec.hpp"

namespace keydir::storage::rocks {

// The most certificates one key ID, address or WKD hash may name: anyone can
// make keys that claim an address, and an unbounded set would make every
// write to it slower (flooding). Past the bound, further claims are not
// indexed; `check` reports them.
constexpr std::size_t kMaxSetMembers = 10000;

// A set of primary fingerprints (decode_set): operands "+fpr" add a member,
// "-fpr" remove one.
class FprSetMerge final : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override;
  const char* Name() const override { return "keydir.FprSet"; }
};

// Counters: a signed 64-bit add, so increments never read-modify-write.
class Int64Add final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override;
  const char* Name() const override { return "keydir.Int64Add"; }
  // A counter's value (0 unless 8 octets).
  static std::int64_t decode(const rocksdb::Slice& s);
};

// Prefix of a multi-valued index key: everything before the primary
// fingerprint. With it RocksDB keeps prefix bloom filters, so a lookup skips
// every file that cannot hold its prefix — the cost stays flat as the store
// grows. `extra` octets after the first NUL belong to the prefix (WKD: the
// 32-character hash follows the domain's NUL).
class NulPrefix final : public rocksdb::SliceTransform {
 public:
  NulPrefix(const char* name, std::size_t extra) : name_(name), extra_(extra) {}
  const char* Name() const override { return name_; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override;
  bool InDomain(const rocksdb::Slice& key) const override;

 private:
  const char* name_;
  std::size_t extra_;
};

// The prefix extractor of column family `c` (none for most).
std::shared_ptr<const rocksdb::SliceTransform> prefix_of(Cf c);

}  // namespace keydir::storage::rocks
