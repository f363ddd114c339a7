#pragma once
// The release this binary was built from (the project's version in
// CMakeLists.txt) and, when it was built from a git checkout, `git describe`
// (for example "v0.1.0-3-gabc1234-dirty"; empty otherwise). Defined by a source
// generated at build time (cmake/KeydirVersion.cmake), in the library
// keydir_version, which only the programs link: a new commit relinks two
// binaries, not every test.
#include <string>
#include <string_view>

namespace keydir {

std::string_view version();
std::string_view git_describe();

// "keydird 0.1.0 (v0.1.0-3-gabc1234)", or "keydird 0.1.0" without git.
inline std::string version_line(std::string_view program) {
  std::string line{program};
  line += ' ';
  line += version();
  if (!git_describe().empty()) {
    line += " (";
    line += git_describe();
    line += ')';
  }
  return line;
}

}  // namespace keydir
