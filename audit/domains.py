"""The "site domain" used to keep at most one probe per site at a time.

tldextract knows the public-suffix list (so `www.bank.co.il` and `contact.bank.co.il` are one site); it is
built with `suffix_list_urls=()` so it uses its bundled snapshot and never goes to the network.
"""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

import tldextract


@cache
def _extractor() -> tldextract.TLDExtract:
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def site_domain(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    parts = _extractor()(host)
    if parts.suffix and parts.domain:
        return f"{parts.domain}.{parts.suffix}"
    # No public suffix: an IP address, localhost or a *.localhost test host. The host itself is the site.
    return host
