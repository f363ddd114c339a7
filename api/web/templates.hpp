// The one way the web pages make HTML: mustache templates (kainjow mustache,
// header-only) in which every value is HTML-escaped.
//
// Rules for every template (api/web/page_templates.hpp):
//   - `{{name}}` is the only way to output a value, and it always escapes
//     (& < > " ' as html_escape does).
//   - NEVER `{{{name}}}` or `{{&name}}` (unescaped output), nor `{{=a b=}}`
//     (a new delimiter would hide tags from the check): render() refuses a
//     template holding them.
//   - Markup is composed only from other templates: `{{>name}}` includes a
//     constant template passed in `partials`, expanded as text before
//     parsing. Data is never parsed as a template and never output
//     unescaped: a View holds text, flags, lists and objects only (no
//     lambdas, no partials).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <kainjow/mustache.hpp>

namespace keydir::api::web {

// The values a template sees: an object of text (escaped on output), flags
// (for `{{#flag}}` / `{{^flag}}` sections: only a false flag and an empty
// list are false), lists and objects. A name missing from a list item is
// looked up in the enclosing objects (mustache rules): give every item all
// the names its section uses.
class View {
 public:
  View& text(const std::string& key, const std::string& value);
  View& flag(const std::string& key, bool value);
  View& list(const std::string& key, const std::vector<View>& items);
  // A list of texts, each one `{{.}}` in the section.
  View& texts(const std::string& key, const std::vector<std::string>& values);
  View& object(const std::string& key, const View& value);

 private:
  friend std::string render(std::string_view, const View&,
                            const std::vector<std::pair<std::string_view, std::string_view>>&);
  kainjow::mustache::data data_;
};

// Named constant templates that `{{>name}}` includes.
using Partials = std::vector<std::pair<std::string_view, std::string_view>>;

// Why `tmpl` (with `partials` included) may not be rendered; empty if it may.
// Refused: unescaped tags (`{{{`, `{{&`), a delimiter change (`{{=`), a
// partial not in `partials` (or included more than 8 deep) and mustache
// syntax errors (an unclosed tag or section).
std::string template_error(std::string_view tmpl, const Partials& partials = {});

// Renders `tmpl` with `data`, every value escaped. Throws
// std::invalid_argument for a template that template_error() refuses: the
// templates are constants of this program, so a refusal is a bug (which the
// page tests catch).
std::string render(std::string_view tmpl, const View& data, const Partials& partials = {});

}  // namespace keydir::api::web
