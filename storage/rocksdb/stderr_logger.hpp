// RocksDB's log, for the RocksDB store (internal to storage/rocksdb): its own
// LOG file is replaced by standard error, warnings and worse only (on a full
// disk its file logger aborts the process, an assertion in Debian's build,
// and the LOG files pile up otherwise).
#pragma once

#include <cstdarg>
#include <cstdio>

#include <rocksdb/env.h>

namespace keydir::storage::rocks {

class StderrLogger final : public rocksdb::Logger {
 public:
  StderrLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    std::fputs("rocksdb: ", stderr);
    std::vfprintf(stderr, format, ap);
    std::fputc('\n', stderr);
  }
};

}  // namespace keydir::storage::rocks
