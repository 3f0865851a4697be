"""Every relative link in README.md and docs/*.md leads somewhere: the file exists and, for `file.md#anchor`, the file
has a heading with that anchor (GitHub's rule: lower case, punctuation other than `-` and `_` dropped, spaces to
`-`). Sections move between files; a link left pointing at the old place fails here, not in a reader's browser."""

import glob
import os
import re
import unittest

import harness

LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def anchors(path):
    """The anchors GitHub makes for the headings of a Markdown file (duplicates get -1, -2, ...)."""
    seen = {}
    result = set()
    in_fence = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            if in_fence or not line.startswith("#"):
                continue
            text = line.lstrip("#").strip()
            slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            result.add(slug if n == 0 else f"{slug}-{n}")
    return result


def links(path):
    in_fence = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
                yield number, target


class DocLinksTest(unittest.TestCase):
    def test_relative_links_resolve(self):
        files = [os.path.join(harness.SOURCE_DIR, "README.md")] + \
            sorted(glob.glob(os.path.join(harness.SOURCE_DIR, "docs", "*.md")))
        broken = []
        checked = 0
        for path in files:
            for number, target in links(path):
                if re.match(r"^[a-z]+:", target):
                    continue  # https:, mailto:
                file_part, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
                where = f"{os.path.relpath(path, harness.SOURCE_DIR)}:{number}: {target}"
                checked += 1
                if not os.path.exists(dest):
                    broken.append(f"{where}: no such file")
                elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    broken.append(f"{where}: no heading with that anchor")
        self.assertGreater(checked, 50)
        self.assertEqual(broken, [])


if __name__ == "__main__":
    harness.main(binaries=(), tools=())
