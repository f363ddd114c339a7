#include "api/web/templates.hpp"

#include <stdexcept>

#include "api/http/message.hpp"

namespace keydir::api::web {

namespace {

using Data = kainjow::mustache::data;

constexpr std::size_t kMaxPartialDepth = 8;

bool blank(char c) {
  return c == ' ' || c == '\t';
}

// `tmpl` with every `{{>name}}` replaced by that partial's text.
std::string expand(std::string_view tmpl, const Partials& partials, std::size_t depth,
                   std::string& out) {
  std::size_t from = 0;
  for (std::size_t at = tmpl.find("{{"); at != std::string_view::npos;
       at = tmpl.find("{{", at + 2)) {
    std::size_t i = at + 2;
    while (i < tmpl.size() && blank(tmpl[i])) {
      ++i;
    }
    if (i >= tmpl.size() || tmpl[i] != '>') {
      continue;
    }
    const std::size_t end = tmpl.find("}}", i);
    if (end == std::string_view::npos) {
      return "unclosed partial tag";
    }
    std::string_view name = tmpl.substr(i + 1, end - i - 1);
    while (!name.empty() && blank(name.front())) {
      name.remove_prefix(1);
    }
    while (!name.empty() && blank(name.back())) {
      name.remove_suffix(1);
    }
    const std::pair<std::string_view, std::string_view>* found = nullptr;
    for (const auto& p : partials) {
      if (p.first == name) {
        found = &p;
      }
    }
    if (!found) {
      return "unknown partial \"" + std::string(name) + "\"";
    }
    if (depth >= kMaxPartialDepth) {
      return "partials nested too deep";
    }
    out.append(tmpl.substr(from, at - from));
    if (auto error = expand(found->second, partials, depth + 1, out); !error.empty()) {
      return error;
    }
    from = end + 2;
    at = end;
  }
  out.append(tmpl.substr(from));
  return "";
}

// The tags this helper never renders; empty if there is none.
std::string forbidden_tag(std::string_view tmpl) {
  for (std::size_t at = tmpl.find("{{"); at != std::string_view::npos;
       at = tmpl.find("{{", at + 2)) {
    std::size_t i = at + 2;
    while (i < tmpl.size() && blank(tmpl[i])) {
      ++i;
    }
    if (i >= tmpl.size()) {
      return "unclosed tag";
    }
    const std::string where = " at " + std::to_string(at);
    switch (tmpl[i]) {
      case '{':
      case '&':
        return "unescaped tag" + where + " (values are always escaped)";
      case '=':
        return "delimiter change" + where;
      case '>':
        return "partial" + where;  // expand() replaced every known one
      default:
        break;
    }
  }
  return "";
}

std::string checked(std::string_view tmpl, const Partials& partials, std::string& error) {
  std::string text;
  error = expand(tmpl, partials, 0, text);
  if (error.empty()) {
    error = forbidden_tag(text);
  }
  if (error.empty()) {
    kainjow::mustache::mustache parsed(text);
    if (!parsed.is_valid()) {
      error = parsed.error_message();
    }
  }
  return text;
}

}  // namespace

View& View::text(const std::string& key, const std::string& value) {
  data_.set(key, Data(value));  // (kainjow copies: no move)
  return *this;
}

View& View::flag(const std::string& key, bool value) {
  data_.set(key, Data(value));
  return *this;
}

View& View::list(const std::string& key, const std::vector<View>& items) {
  Data l(Data::type::list);
  for (const auto& item : items) {
    l.push_back(item.data_);
  }
  data_.set(key, l);
  return *this;
}

View& View::texts(const std::string& key, const std::vector<std::string>& values) {
  Data l(Data::type::list);
  for (const auto& v : values) {
    l.push_back(Data(v));
  }
  data_.set(key, l);
  return *this;
}

View& View::object(const std::string& key, const View& value) {
  data_.set(key, value.data_);
  return *this;
}

std::string template_error(std::string_view tmpl, const Partials& partials) {
  std::string error;
  checked(tmpl, partials, error);
  return error;
}

std::string render(std::string_view tmpl, const View& data, const Partials& partials) {
  std::string error;
  const std::string text = checked(tmpl, partials, error);
  if (!error.empty()) {
    throw std::invalid_argument("template refused: " + error);
  }
  kainjow::mustache::mustache m(text);
  m.set_custom_escape([](const std::string& s) { return html_escape(s); });
  std::string out = m.render(data.data_);
  if (!m.is_valid()) {
    throw std::invalid_argument("template refused: " + m.error_message());
  }
  return out;
}

}  // namespace keydir::api::web
