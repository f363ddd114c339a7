#!/usr/bin/env python3
"""The documentation for readers, checked: check_docs.py SOURCE_DIR

- every relative link (and #anchor) in README.md, CHANGELOG.md and docs/*.md
  resolves to a file (and a heading of it);
- README.md stays under 150 lines;
- README.md and docs/ name no tickets ("#12", "issue 12") and keep no dated
  logs ("sitting", "2026-11-30" in prose): history belongs in CHANGELOG.md
  and git. Code blocks are not read (examples may print dates).
Prints one line per problem; exit 1 when there is one.
"""
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else '.'
readme = os.path.join(root, 'README.md')
docs = sorted(glob.glob(os.path.join(root, 'docs', '*.md')))
files = [readme, os.path.join(root, 'CHANGELOG.md')] + docs
problems = []


def prose(path, inline_code=False):
    """The file's text with fenced code blocks (and inline code) blanked."""
    text = open(path, encoding='utf-8').read()
    text = re.sub(r'(?ms)^```.*?^```', lambda m: '\n' * m.group(0).count('\n'), text)
    return text if inline_code else re.sub(r'`[^`\n]*`', '``', text)


def slug(heading):
    h = heading.strip().lower()
    h = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', h)
    h = re.sub(r'[`*_]', '', h)
    return ''.join(c for c in h if c.isalnum() or c in ' -').replace(' ', '-')


def anchors(path):
    found, seen = set(), {}
    for line in prose(path, inline_code=True).splitlines():
        m = re.match(r'^(#{1,6})\s+(.*)', line)
        if m:
            s = slug(m.group(2))
            n = seen.get(s, 0)
            seen[s] = n + 1
            found.add(s if n == 0 else f'{s}-{n}')
    return found


links = 0
for f in files:
    if not os.path.exists(f):
        problems.append(f'{os.path.relpath(f, root)}: missing')
        continue
    text = prose(f)
    rel = os.path.relpath(f, root)
    for m in re.finditer(r'\]\(([^)\s]+)\)', text):
        link = m.group(1)
        if re.match(r'^[a-z]+:', link):
            continue
        links += 1
        path, _, frag = link.partition('#')
        target = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        ok = os.path.exists(target) and (not frag or (target.endswith('.md') and frag in anchors(target)))
        if not ok:
            line = text[:m.start()].count('\n') + 1
            problems.append(f'{rel}:{line}: broken link {link}')
    if f.endswith('CHANGELOG.md'):
        continue
    for n, line in enumerate(text.splitlines(), 1):
        if re.search(r'(?<![\w&/#])#\d+\b', line) and not re.match(r'^\s*#', line):
            problems.append(f'{rel}:{n}: a ticket number: {line.strip()[:80]}')
        if re.search(r'\b(issue|ticket) #?\d+|\bsittings?\b', line, re.I):
            problems.append(f'{rel}:{n}: a ticket or a dated log: {line.strip()[:80]}')
        if re.search(r'\b20\d\d-\d\d-\d\d\b', line):
            problems.append(f'{rel}:{n}: a date in prose (history goes to CHANGELOG.md): {line.strip()[:80]}')

lines = sum(1 for _ in open(readme, encoding='utf-8')) if os.path.exists(readme) else 0
if lines >= 150:
    problems.append(f'README.md: {lines} lines (keep it under 150; the rest belongs in docs/)')
for p in problems:
    print(p)
print(f'{links} relative links, README {lines} lines, {len(problems)} problems')
sys.exit(1 if problems else 0)
