"""probes.locate.score_group as a table of rules: the same score and reasons as the function it replaced.

`_score_group_reference` below is that function, copied verbatim from probes/locate.py before the table
(issue 15, item 6). Every group of every page of the fixture-site farm, of tests/data/sites/ and of a page of
signals written here is snapshotted in the shared Chromium, with and without explicit selectors, and scored
both ways; then single rules are checked on features built by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Route

from audit.demo.farm import RunningFarm
from probes.classify import button_role, score_control
from probes.dom import FrameSnapshot, GroupInfo
from probes.locate import (
    KNOWN_VENDORS,
    SCORING_RULES,
    GroupFeatures,
    ScoringRule,
    group_features,
    scan_frames,
    score_group,
)
from probes.types import FormSpec, Slot
from probes.vocab import normalise, vocabulary
from tests.conftest import BrowserHost
from tests.static_site import SITES, StaticSite


def _score_group_reference(snap: FrameSnapshot, group: GroupInfo) -> tuple[float, list[str]]:
    """How much a group looks like a contact form (and why)."""
    vocab = vocabulary()
    controls = snap.controls_of(group)
    fields = [c for c in controls if c.kind == "field" and c.usable]
    buttons = [c for c in controls if c.kind == "button" and c.shown]
    score, why = 0.0, []
    if any(c.explicit_slot or c.explicit_submit for c in controls):
        score += 100.0
        why.append("explicit selectors match")
    if group.vendor in KNOWN_VENDORS:
        score += 10.0
        why.append(f"vendor {group.vendor}")
    best: dict[Slot, float] = {}
    for control in fields:
        for s in score_control(control):
            best[s.slot] = max(best.get(s.slot, 0.0), s.score)
    if any(c.tag == "textarea" for c in fields):
        score += 4.0
        why.append("textarea")
    if best.get(Slot.EMAIL, 0.0) >= 6.0:
        score += 3.0
        why.append("email field")
    if best.get(Slot.PHONE, 0.0) >= 6.0:
        score += 1.0
    if max(best.get(Slot.FULL_NAME, 0.0), best.get(Slot.FIRST_NAME, 0.0)) >= 6.0:
        score += 1.0
    roles = [button_role(b, in_form=group.kind == "form") for b in buttons]
    if any(role == "submit" and s >= 6.0 for role, s in roles):
        score += 3.0
        why.append("send-like button")
    elif any(role in ("submit", "next") for role, _ in roles):
        score += 1.0
    text_fields = [c for c in fields if c.is_text]
    button_text = normalise(" ".join(b.text for b in buttons))
    if group.is_search or (
        len(text_fields) == 1 and vocab.search.search(f"{button_text} {text_fields[0].all_text}")
    ):
        score -= 20.0
        why.append("search box")
    if group.has_password:
        score -= 20.0
        why.append("password field")
    subscribe = vocab.subscribe.search(button_text, normalised=True)
    if subscribe and not any(c.tag == "textarea" for c in fields):
        score -= 8.0
        why.append(f"signup button {subscribe!r}")
    if len(text_fields) <= 1 and not any(c.tag == "textarea" for c in fields):
        score -= 5.0
        why.append("a single field")
    if not text_fields and not any(c.explicit_slot for c in controls):
        score -= 10.0
    return score, why


# Groups the shipped pages have few of: a login, a search form, a search box without a search role, a
# newsletter signup, a HubSpot form, a step with only "Next", checkboxes only, a form without <form>.
SIGNALS_PAGE = """<!doctype html><html lang="en"><body>
<form action="/login" method="post"><label>Username <input name="user"></label>
  <label>Password <input type="password" name="pw"></label><button>Log in</button></form>
<form action="/search"><input type="search" name="q" placeholder="Search"><button>Search</button></form>
<form action="/find"><input name="q" placeholder="Search the site"><button type="submit">Go</button></form>
<form action="/news"><label>Email <input type="email" name="email"></label><button>Subscribe</button></form>
<form class="hs-form" action="/hs"><label>First name <input name="firstname"></label>
  <label>Email <input type="email" name="email"></label><label>Phone <input type="tel" name="phone"></label>
  <label>Message <textarea name="message"></textarea></label><input type="submit" value="Submit"></form>
<form action="/step"><label>Full name <input name="name"></label><label>Company <input name="company"></label>
  <button type="button">Next</button></form>
<form action="/prefs"><label><input type="checkbox" name="a"> Email me</label><button>Save</button></form>
<div><label>Your name <input name="n"></label><label>Your question <textarea name="m"></textarea></label>
  <button type="button">Send</button></div>
</body></html>"""

# Explicit selectors that match something on most pages, so the explicit rules meet real controls.
EXPLICIT = FormSpec(
    fields={Slot.EMAIL: "input[type=email]"}, submit="button[type=submit], input[type=submit]"
)
# Pages that render their form after load (audit/demo/sites/react.js mounts it 300 ms later).
READY = {"react": "#root textarea"}


@dataclass(frozen=True)
class Scored:
    where: str  # the frame's URL and the group's selector, for a readable failure
    features: GroupFeatures
    new: tuple[float, list[str]]
    reference: tuple[float, list[str]]


async def _local_only(route: Route) -> None:
    # The captcha pages load their vendors' scripts from the internet; tests never leave 127.0.0.1.
    host = urlsplit(route.request.url).hostname
    if host == "127.0.0.1":
        await route.continue_()
    else:
        await route.abort()


async def _score_page(page: Page, label: str) -> list[Scored]:
    out = []
    for spec in (None, EXPLICIT):
        for found in await scan_frames(page, spec):  # the production caller of score_group
            out.append(
                Scored(
                    f"{label} {found.frame_url} {found.group.selector} (spec: {spec is not None})",
                    group_features(found.snap, found.group),
                    (found.score, found.reasons),
                    _score_group_reference(found.snap, found.group),
                )
            )
            assert score_group(found.snap, found.group) == (found.score, found.reasons)
    return out


async def _score_everything(browser: Browser, urls: dict[str, str]) -> list[Scored]:
    context = await browser.new_context()
    try:
        await context.route("**/*", _local_only)
        page = await context.new_page()
        out: list[Scored] = []
        for label, url in urls.items():
            await page.goto(url, wait_until="load")
            if label in READY:
                await page.wait_for_selector(READY[label])
            out += await _score_page(page, label)
        await page.set_content(SIGNALS_PAGE)
        out += await _score_page(page, "signals")
        return out
    finally:
        await context.close()


@pytest.fixture(scope="module")
def scored(farm: RunningFarm, static_site: StaticSite, browser_host: BrowserHost) -> list[Scored]:
    urls = {site: farm.url(site) for site in farm.SITES}
    urls["index"] = f"{farm.base_url}/"
    for path in sorted(SITES.rglob("*.html")):
        relative = path.relative_to(SITES).as_posix()
        urls[relative] = static_site.url(relative)
    return browser_host.run(_score_everything, browser_host.browser, urls, timeout=300)


@pytest.mark.browser
def test_the_rules_score_every_real_group_as_the_old_function_did(scored: list[Scored]) -> None:
    assert len(scored) > 100  # the farm, the 55 pages of tests/data/sites and the signals page were read
    differ = [(s.where, s.new, s.reference) for s in scored if s.new != s.reference]
    assert differ == []


@pytest.mark.browser
def test_every_rule_applies_to_some_real_group_and_not_to_all(scored: list[Scored]) -> None:
    # Otherwise the equivalence above says nothing about that rule.
    for rule in SCORING_RULES:
        applied = [rule.applies(s.features) for s in scored]
        assert any(applied) and not all(applied), rule.name


# ---------------------------------------------------------------------------------------------------------
# Single rules on features built by hand


def rule(name: str) -> ScoringRule:
    return next(r for r in SCORING_RULES if r.name == name)


def test_the_rule_names_are_distinct() -> None:
    names = [r.name for r in SCORING_RULES]
    assert len(set(names)) == len(names)


def test_a_strong_submit_button_is_send_like_and_not_also_a_plain_submit() -> None:
    strong, weak = GroupFeatures(roles=(("submit", 10.0),)), GroupFeatures(roles=(("submit", 4.0),))
    assert rule("send button").applies(strong) and not rule("send button").applies(weak)
    assert rule("submit or next button").applies(weak) and not rule("submit or next button").applies(strong)
    assert rule("submit or next button").applies(GroupFeatures(roles=(("next", 6.0),)))
    assert not rule("submit or next button").applies(GroupFeatures(roles=(("other", 0.0),)))


def test_a_signup_button_counts_against_a_group_without_a_message_box() -> None:
    signup = rule("signup")
    newsletter = GroupFeatures(subscribe_phrase="subscribe")
    assert signup.applies(newsletter) and signup.weight < 0
    assert signup.reason is not None and signup.reason.format(f=newsletter) == "signup button 'subscribe'"
    assert not signup.applies(GroupFeatures(subscribe_phrase="subscribe", has_textarea=True))
    assert not signup.applies(GroupFeatures())


def test_the_vendor_rule_names_the_vendor_and_knows_only_known_vendors() -> None:
    vendor = rule("vendor")
    assert vendor.applies(GroupFeatures(vendor="hubspot"))
    assert vendor.reason is not None and vendor.reason.format(f=GroupFeatures(vendor="cf7")) == "vendor cf7"
    assert not vendor.applies(GroupFeatures(vendor="acme-forms")) and not vendor.applies(GroupFeatures())


def test_the_name_rule_takes_the_better_of_full_and_first_name() -> None:
    name = rule("name")
    assert name.applies(GroupFeatures(best={Slot.FIRST_NAME: 6.0, Slot.FULL_NAME: 2.0}))
    assert not name.applies(GroupFeatures(best={Slot.FIRST_NAME: 5.0, Slot.LAST_NAME: 11.0}))
