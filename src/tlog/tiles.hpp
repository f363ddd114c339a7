// C2SP tlog-tiles: the paths of hash tiles and entry bundles (height 8).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keydir::tlog {

inline constexpr unsigned kTileHeight = 8;
inline constexpr std::uint64_t kTileWidth = 256;

// A tile: hashes of tree level 8 * level (or entries, level unused) with
// indices index * 256 .. index * 256 + width - 1.
struct Tile {
  bool entries = false;
  std::uint8_t level = 0;
  std::uint64_t index = 0;
  std::uint64_t width = kTileWidth;  // 1..256; 256 is a full tile

  // "tile/<L>/<N>[.p/<W>]" or "tile/entries/<N>[.p/<W>]" (no leading slash).
  [[nodiscard]] std::string path() const;
  bool operator==(const Tile&) const = default;
};

// The part of a URL path after "/log/"; nullopt when it is not a tile path
// in canonical form (N in 3-digit groups, all but the last "x"-prefixed,
// no leading zero group; W in 1..255; L in 0..63).
std::optional<Tile> parse_tile_path(std::string_view path);

// "x001/x234/067" for 1234067.
std::string tile_index_path(std::uint64_t n);

}  // namespace keydir::tlog
