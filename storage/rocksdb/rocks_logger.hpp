// RocksDB's log, for the RocksDB store (internal to storage/rocksdb): its own
// LOG file is replaced (on a full disk its file logger aborts the process, an
// assertion in Debian's build, and the LOG files pile up otherwise), and what
// it says goes to keydird's log (spdlog) at debug level. Never to standard
// output or error at the normal level: its warnings repeat errors the store
// reports itself ("DB::Open() failed: ... Permission denied" before keydird's
// own line), and they leaked into the output of `keydird check`, `dump` and
// `import`.
#pragma once

#include <cstdarg>
#include <cstdio>

#include <rocksdb/env.h>
#include <spdlog/spdlog.h>

namespace keydir::storage::rocks {

class SpdlogLogger final : public rocksdb::Logger {
 public:
  // RocksDB formats only what reaches this level: info and up when keydird
  // logs at debug, warnings and up otherwise (and drops those here).
  SpdlogLogger()
      : rocksdb::Logger(spdlog::should_log(spdlog::level::debug)
                            ? rocksdb::InfoLogLevel::INFO_LEVEL
                            : rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (!spdlog::should_log(spdlog::level::debug)) {
      return;
    }
    char line[1024];
    std::vsnprintf(line, sizeof line, format, ap);
    spdlog::debug("rocksdb: {}", line);
  }
};

}  // namespace keydir::storage::rocks
