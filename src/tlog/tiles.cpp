#include "tlog/tiles.hpp"

#include <charconv>
#include <vector>

namespace keydir::tlog {

std::string tile_index_path(std::uint64_t n) {
  std::vector<unsigned> groups;
  do {
    groups.push_back(static_cast<unsigned>(n % 1000));
    n /= 1000;
  } while (n > 0);
  std::string out;
  for (std::size_t i = groups.size(); i-- > 0;) {
    char buf[8];
    const unsigned g = groups[i];
    buf[0] = static_cast<char>('0' + g / 100);
    buf[1] = static_cast<char>('0' + g / 10 % 10);
    buf[2] = static_cast<char>('0' + g % 10);
    if (i > 0) {
      out += "x";
      out.append(buf, 3);
      out += "/";
    } else {
      out.append(buf, 3);
    }
  }
  return out;
}

std::string Tile::path() const {
  std::string out = entries ? "tile/entries/" : "tile/" + std::to_string(level) + "/";
  out += tile_index_path(index);
  if (width < kTileWidth) {
    out += ".p/" + std::to_string(width);
  }
  return out;
}

namespace {
std::optional<std::uint64_t> small_decimal(std::string_view s, std::uint64_t max) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) {
    return std::nullopt;
  }
  return v;
}
bool three_digits(std::string_view s) {
  return s.size() == 3 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
         s[2] <= '9';
}
}  // namespace

std::optional<Tile> parse_tile_path(std::string_view path) {
  if (!path.starts_with("tile/")) {
    return std::nullopt;
  }
  path.remove_prefix(5);
  Tile t;
  auto slash = path.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  auto first = path.substr(0, slash);
  if (first == "entries") {
    t.entries = true;
  } else {
    auto level = small_decimal(first, 63);
    if (!level) {
      return std::nullopt;
    }
    t.level = static_cast<std::uint8_t>(*level);
  }
  path.remove_prefix(slash + 1);
  // Partial: ".p/<W>" at the end.
  auto dotp = path.find(".p/");
  if (dotp != std::string_view::npos) {
    auto w = small_decimal(path.substr(dotp + 3), kTileWidth - 1);
    if (!w || *w == 0) {
      return std::nullopt;
    }
    t.width = *w;
    path = path.substr(0, dotp);
  }
  // N: groups "xDDD/" ... "DDD".
  std::uint64_t n = 0;
  std::size_t groups = 0;
  while (true) {
    auto next = path.find('/');
    std::string_view group = path.substr(0, next);
    const bool last = next == std::string_view::npos;
    if (!last) {
      if (group.size() != 4 || group[0] != 'x' || !three_digits(group.substr(1))) {
        return std::nullopt;
      }
      group.remove_prefix(1);
    } else if (!three_digits(group)) {
      return std::nullopt;
    }
    if (++groups > 7) {  // 10^21 > 2^64: no tile index needs more
      return std::nullopt;
    }
    const std::uint64_t g = static_cast<std::uint64_t>(group[0] - '0') * 100 +
                            static_cast<std::uint64_t>(group[1] - '0') * 10 +
                            static_cast<std::uint64_t>(group[2] - '0');
    if (groups > 1 && n > (UINT64_MAX - g) / 1000) {
      return std::nullopt;
    }
    if (groups == 1 && !last && g == 0) {
      return std::nullopt;  // "x000/…": not canonical
    }
    n = n * 1000 + g;
    if (last) {
      break;
    }
    path.remove_prefix(next + 1);
  }
  t.index = n;
  return t;
}

}  // namespace keydir::tlog
