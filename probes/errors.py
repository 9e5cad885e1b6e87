"""Our exception hierarchy:

* ProbeError                 base class; the message is one sentence for the user
  + BrowserUnavailable       no Chromium could be found or launched (a machine problem, not a company's)
  + TargetRefused            the URL failed the safety check (scheme, private or reserved address)
  + NavigationFailed         the host could not be resolved or the page could not be loaded

Problems of one company's website are never raised out of `run_probe`: they become a `ProbeResult`.
`TargetRefused` and `NavigationFailed` are raised by `probes.safety` and turned into outcomes by the probe.
"""

from __future__ import annotations


class ProbeError(Exception):
    """Base class of every error raised by `probes`."""


class BrowserUnavailable(ProbeError):
    """No usable Chromium: the message says what was looked for and how to install one."""


class TargetRefused(ProbeError):
    """The URL may not be visited: not http(s), or it resolves to a private or reserved address."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class NavigationFailed(ProbeError):
    """The page could not be reached (DNS, connection, timeout)."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url
