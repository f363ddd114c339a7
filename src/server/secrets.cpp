#include "server/secrets.hpp"

#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace keydir::server {

namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_b64token_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

Result<void> check_private_file(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(ErrorCode::BadQuery,
                "cannot read " + std::string(what) + " " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(ErrorCode::BadQuery, std::string(what) + " " + path +
                                         " is open to every user (mode " + mode + "): chmod 600 " +
                                         path);
  }
  return {};
}

namespace {

// Reads a file that holds a secret: refused when every user may read or
// write it.
Result<std::string> read_private_file(const std::string& path, std::string_view what) {
  KEYDIR_CHECK(check_private_file(path, what));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(ErrorCode::BadQuery,
                "cannot read " + std::string(what) + " " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(ErrorCode::BadQuery, std::string(what) + " " + path + " is not a file");
  }
  if (st.st_size > 64 * 1024) {
    return fail(ErrorCode::BadQuery, std::string(what) + " " + path + " is larger than 64 KiB");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::BadQuery,
                "cannot read " + std::string(what) + " " + path + ": " + std::strerror(errno));
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Result<void> check_operator_token(std::string_view token, std::string_view source) {
  auto bad = [&](std::string why) {
    return fail(ErrorCode::BadQuery, "the operator token from " + std::string(source) + " " + why);
  };
  std::string_view body = token;
  while (!body.empty() && body.back() == '=') {
    body.remove_suffix(1);
  }
  if (body.empty()) {
    return bad("is empty");
  }
  bool hex = true;
  std::array<bool, 256> seen{};
  std::size_t distinct = 0;
  for (char c : body) {
    if (!is_b64token_char(c)) {
      return bad(
          "holds a character other than letters, digits, - . _ ~ + / (and = at the "
          "end): a Bearer token cannot carry it");
    }
    hex = hex && is_hex(c);
    auto& s = seen[static_cast<unsigned char>(c)];
    if (!s) {
      s = true;
      ++distinct;
    }
  }
  const std::size_t bits = body.size() * (hex ? 4 : 6);
  if (bits < kMinTokenBits) {
    return bad("is too short: " + std::to_string(body.size()) + " characters carry at most " +
               std::to_string(bits) + " bits; at least " + std::to_string(kMinTokenBits) +
               " are needed: 32 hex digits (openssl rand -hex 16) or 22 base64 characters "
               "(openssl rand -base64 18)");
  }
  if (distinct < kMinTokenDistinct) {
    return bad("repeats too few characters (" + std::to_string(distinct) + " different, " +
               std::to_string(kMinTokenDistinct) +
               " needed): use a random one (openssl rand -hex 16)");
  }
  return {};
}

Result<std::vector<std::string>> read_token_file(const std::string& path) {
  KEYDIR_TRY(auto text, read_private_file(path, "the operator token file"));
  std::vector<std::string> out;
  std::size_t line_no = 0;
  std::size_t at = 0;
  while (at <= text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) {
      end = text.size();
    }
    ++line_no;
    std::string_view line = trim(std::string_view(text).substr(at, end - at));
    at = end + 1;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    KEYDIR_CHECK(check_operator_token(
        line, "--operator-token-file " + path + ", line " + std::to_string(line_no)));
    out.emplace_back(line);
  }
  if (out.empty()) {
    return fail(ErrorCode::BadQuery, "the operator token file " + path + " holds no token");
  }
  return out;
}

Result<std::vector<std::string>> tokens_from_env(std::string_view value, std::string_view name) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < value.size()) {
    std::size_t end = value.find_first_of(" \t\r\n,", at);
    if (end == std::string_view::npos) {
      end = value.size();
    }
    std::string_view t = value.substr(at, end - at);
    at = end + 1;
    if (t.empty()) {
      continue;
    }
    KEYDIR_CHECK(check_operator_token(
        t, std::string(name) + " (token " + std::to_string(out.size() + 1) + ")"));
    out.emplace_back(t);
  }
  return out;
}

Result<std::string> read_secret_file(const std::string& path) {
  KEYDIR_TRY(auto text, read_private_file(path, "the password file"));
  std::string_view line = std::string_view(text).substr(0, text.find('\n'));
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  if (line.empty()) {
    return fail(ErrorCode::BadQuery, "the password file " + path + " is empty");
  }
  return std::string(line);
}

bool scrub_arguments(int argc, char** argv, const std::vector<std::string_view>& options) {
  bool found = false;
  auto blank = [](char* s) {
    for (; *s; ++s) {
      *s = '*';
    }
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") {
      break;
    }
    for (std::string_view o : options) {
      if (a == o) {
        // A repeatable option takes every value up to the next option
        // (CLI11: "--operator-token A B").
        while (i + 1 < argc && argv[i + 1][0] != '-') {
          blank(argv[++i]);
          found = true;
        }
        break;
      }
      if (a.size() > o.size() && a.starts_with(o) && a[o.size()] == '=') {
        blank(argv[i] + o.size() + 1);
        found = true;
        break;
      }
    }
  }
  return found;
}

}  // namespace keydir::server
