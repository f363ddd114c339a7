-- pandoc filter for the /api page (api/CMakeLists.txt): docs/api.md links to
-- the other documents of docs/ by relative paths, which a server does not
-- serve. Such a link keeps its text, in italics, and loses the link; links to
-- the page itself (#anchor) and absolute URLs stay.
function Link(el)
  local t = el.target
  if t:match("^#") or t:match("^%a[%w+.-]*:") or t:match("^/") then
    return el
  end
  return pandoc.Emph(el.content)
end
