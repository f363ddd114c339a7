# Wraps pandoc's HTML of docs/api.md into a C++ header (the /api page):
#   cmake -DIN=api.html -DOUT=api_doc_html.hpp -P embed_html.cmake
# Every brace becomes an HTML character reference, so the text can never hold
# a mustache tag when web::render() includes it as a partial.
file(READ "${IN}" html)
string(REPLACE "{" "&#123;" html "${html}")
string(REPLACE "}" "&#125;" html "${html}")
string(FIND "${html}" ")KEYDIR_API_DOC\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "embed_html.cmake: ${IN} holds the raw string's delimiter")
endif()
file(WRITE "${OUT}.tmp"
  "// Generated from docs/api.md by pandoc (api/CMakeLists.txt): do not edit.\n"
  "#pragma once\n#include <string_view>\n"
  "namespace keydir::api::web::generated {\n"
  "inline constexpr std::string_view kApiDocHtml = R\"KEYDIR_API_DOC(${html})KEYDIR_API_DOC\";\n"
  "}  // namespace keydir::api::web::generated\n")
file(RENAME "${OUT}.tmp" "${OUT}")
