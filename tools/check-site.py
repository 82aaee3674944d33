#!/usr/bin/env python3
"""check-site.py DIR: every link of the built docs site leads somewhere. Run by `make docs`.

Reads each HTML page under DIR and checks that every local href and src names a file that
exists and, where it names a #fragment, that the page holds that anchor. Links out of the
site (http:, mailto:, javascript:) are not followed: the machine has no network.
"""
import html.parser
import os
import sys
import urllib.parse


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.anchors = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.anchors.add(a[key])
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(a[key])


def main():
    root = sys.argv[1]
    pages = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.endswith(".html"):
                path = os.path.join(dirpath, f)
                page = Page()
                with open(path, encoding="utf-8", errors="replace") as fh:
                    page.feed(fh.read())
                pages[os.path.normpath(path)] = page
    broken = []
    for path, page in sorted(pages.items()):
        for link in page.links:
            url = urllib.parse.urlsplit(link)
            if url.scheme or link.startswith("//"):
                continue  # out of the site
            target = os.path.normpath(os.path.join(os.path.dirname(path), urllib.parse.unquote(url.path))) \
                if url.path else path
            if not os.path.exists(target):
                broken.append(f"{os.path.relpath(path, root)}: {link}: no such file")
            elif url.fragment and target in pages and url.fragment not in pages[target].anchors:
                broken.append(f"{os.path.relpath(path, root)}: {link}: no anchor #{url.fragment} there")
    for b in broken:
        print(f"check-site: broken link: {b}")
    if broken:
        sys.exit(f"check-site: {len(broken)} broken link(s) in {len(pages)} pages")
    print(f"check-site: {len(pages)} pages, every local link leads somewhere")


if __name__ == "__main__":
    main()
