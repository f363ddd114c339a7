#include "storage/rocksdb/merge_operators.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

namespace keydir::storage::rocks {

bool FprSetMerge::FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const {
  std::vector<std::string> set;
  if (in.existing_value) {
    set = decode_set(std::string_view(in.existing_value->data(), in.existing_value->size()));
  }
  for (const auto& op : in.operand_list) {
    if (op.size() < 2) {
      continue;
    }
    std::string member(op.data() + 1, op.size() - 1);
    auto it = std::lower_bound(set.begin(), set.end(), member);
    bool present = it != set.end() && *it == member;
    if (op[0] == '+' && !present && set.size() < kMaxSetMembers) {
      set.insert(it, std::move(member));
    } else if (op[0] == '-' && present) {
      set.erase(it);
    }
  }
  out->new_value.clear();
  for (const auto& m : set) {
    out->new_value += m;
  }
  return true;
}

bool Int64Add::Merge(const rocksdb::Slice&, const rocksdb::Slice* existing,
                     const rocksdb::Slice& value, std::string* new_value, rocksdb::Logger*) const {
  std::int64_t sum = decode(value);
  if (existing) {
    sum += decode(*existing);
  }
  *new_value = be(static_cast<std::uint64_t>(sum), 8);
  return true;
}

std::int64_t Int64Add::decode(const rocksdb::Slice& s) {
  if (s.size() != 8) {
    return 0;
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    v = v << 8 | static_cast<std::uint8_t>(s[i]);
  }
  return static_cast<std::int64_t>(v);
}

rocksdb::Slice NulPrefix::Transform(const rocksdb::Slice& key) const {
  auto nul = std::string_view(key.data(), key.size()).find('\0');
  return rocksdb::Slice(key.data(), std::min(key.size(), nul + 1 + extra_));
}

bool NulPrefix::InDomain(const rocksdb::Slice& key) const {
  auto nul = std::string_view(key.data(), key.size()).find('\0');
  return nul != std::string_view::npos && key.size() >= nul + 1 + extra_;
}

std::shared_ptr<const rocksdb::SliceTransform> prefix_of(Cf c) {
  if (c == kByWord) {
    return std::make_shared<NulPrefix>("keydir.WordPrefix", 0);
  }
  return nullptr;
}

}  // namespace keydir::storage::rocks
