#include "api/web/templates.hpp"

#include <memory>
#include <stdexcept>
#include <unordered_map>
#include <utility>

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

// `tmpl` with its partials included, and why it may not be rendered (empty
// if it may), short of parsing it.
std::string expanded(std::string_view tmpl, const Partials& partials, std::string& error) {
  std::string text;
  error = expand(tmpl, partials, 0, text);
  if (error.empty()) {
    error = forbidden_tag(text);
  }
  return text;
}

std::string checked(std::string_view tmpl, const Partials& partials, std::string& error) {
  std::string text = expanded(tmpl, partials, error);
  if (error.empty()) {
    const kainjow::mustache::mustache parsed(text);
    if (!parsed.is_valid()) {
      error = parsed.error_message();
    }
  }
  return text;
}

// Each thread keeps the templates it parsed, by their expanded text: parsing
// took most of the time of a small page (an error page, answered to any
// client). A kainjow template may be rendered again, but render() is not
// const, so the cache is per thread. The templates are constants of this
// program, so the cache holds a few dozen; the bound is a guard.
constexpr std::size_t kMaxCachedTemplates = 256;

using TemplateCache = std::unordered_map<std::string, std::unique_ptr<kainjow::mustache::mustache>>;

TemplateCache& template_cache() {
  thread_local TemplateCache cache;
  return cache;
}

kainjow::mustache::mustache& parsed_template(std::string text) {
  TemplateCache& cache = template_cache();
  if (auto it = cache.find(text); it != cache.end()) {
    return *it->second;
  }
  auto m = std::make_unique<kainjow::mustache::mustache>(text);
  if (!m->is_valid()) {
    throw std::invalid_argument("template refused: " + m->error_message());
  }
  m->set_custom_escape([](const std::string& s) { return html_escape(s); });
  if (cache.size() >= kMaxCachedTemplates) {
    cache.clear();
  }
  return *cache.emplace(std::move(text), std::move(m)).first->second;
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
  std::string text = expanded(tmpl, partials, error);
  if (!error.empty()) {
    throw std::invalid_argument("template refused: " + error);
  }
  kainjow::mustache::mustache& m = parsed_template(std::move(text));
  std::string out = m.render(data.data_);
  if (!m.is_valid()) {
    const std::string why = m.error_message();
    template_cache().clear();  // the template keeps its error: parse it again next time
    throw std::invalid_argument("template refused: " + why);
  }
  return out;
}

}  // namespace keydir::api::web
