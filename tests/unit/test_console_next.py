"""Where the console goes after signing in (issue 9 items 2 and 3): only a path on this
site, parsed — never another site, whatever a browser would make of the text."""

from __future__ import annotations

import pytest

from api.console.access import safe_next

LOCAL = [
    "/",
    "/audit?kind=score.served",
    "/subjects/91330603MA2D4F6E84?sector=housing",
    "/?q=%E6%9F%AF%E6%A1%A5",
    "/?q=柯桥 建工",
    "/records/12/repair",
    "/.//still-this-site",  # path "//still-this-site" on this host, not a host
]

ELSEWHERE = [
    None,
    "",
    "//evil.example/phish",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/\t/evil.example/phish",          # what ?next=/%09/evil.example/phish decodes to
    "/%09/evil.example/phish",         # and the same once more encoded
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/a\nb",
    "/a\r\nSet-Cookie: x=1",
    "/%0d%0aSet-Cookie:%20x=1",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "/%252F%252Fevil.example",         # encoded twice
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "http://evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    "evil.example/x",
    " /x",
    "/\u200b/evil.example",            # zero-width space
    "/\u3000/evil.example",            # ideographic space
    "/\x00/evil.example",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", LOCAL)
def test_a_path_on_this_site_is_kept(target):
    assert safe_next(target) == target


@pytest.mark.parametrize("target", ELSEWHERE)
def test_anything_else_goes_home(target):
    assert safe_next(target) is None
