// The access log: one line per request, written without a lock shared by
// the worker threads. Each thread appends to its own buffer; a buffer goes
// to the file in one write(2) (O_APPEND, whole lines) when it fills, and a
// flusher thread empties every buffer each second, so a line is on disk
// within a second either way.
//
// Measured (docs/performance.md): spdlog's file logger, one mutex for all
// worker threads, cost 14% of the miss rate with 4 threads.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace keydir::server {

class AccessLog {
 public:
  // "-" is standard error; anything else a file opened for appending.
  // `flush_every`: how often the flusher empties the buffers (tests shorten it).
  static Result<std::unique_ptr<AccessLog>> open(
      const std::string& target,
      std::chrono::milliseconds flush_every = std::chrono::milliseconds(1000));
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Appends "[YYYY-MM-DD HH:MM:SS.mmm] [access] <line>\n".
  void write(std::string_view line);
  // Writes out every thread's buffer now.
  void flush();

 private:
  struct Impl;
  AccessLog(std::unique_ptr<Impl> impl, std::chrono::milliseconds flush_every);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keydir::server
