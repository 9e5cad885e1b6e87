"""Contact-page discovery (probes/discover.py) against small multi-page sites on 127.0.0.1, in a real Chromium.

Every browser test asserts on the result and on what the site's server was asked: page loads one at a time,
never more than the page limit, nothing off the site, nothing clicked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import pairwise
from urllib.parse import quote

import pytest

from probes.discover import (
    FORM_FOUND,
    NO_FORM,
    DiscoveryResult,
    PageLink,
    common_paths,
    discover_contact_page,
    judge_link,
    path_phrase,
    site_of,
    sitemap_locations,
    text_phrase,
    url_key,
)
from probes.safety import treat_as_public
from tests.conftest import BrowserHost
from tests.discovery_server import Site, serve_sites


@pytest.fixture(scope="session")
def discovery_sites() -> Iterator[dict[str, Site]]:
    with serve_sites() as sites:
        yield sites


def discover(host: BrowserHost, site: Site, **options: object) -> DiscoveryResult:
    site.clear()
    options.setdefault("allow_private", True)  # the test sites are on 127.0.0.1
    return host.run(discover_contact_page, host.browser, site.url("/"), **options)


def assert_polite(site: Site, result: DiscoveryResult) -> None:
    """What the server saw: page loads one after the other, no more of them than the limit."""
    pages = sorted(site.pages(), key=lambda r: r.started)
    for before, after in pairwise(pages):
        assert before.ended <= after.started, f"{before.path} and {after.path} were loaded at the same time"
    loads = [r for r in pages if r.status not in (301, 302, 303, 307, 308)]  # redirect hops are one load
    assert len(loads) <= result.max_pages
    assert not [r for r in site.requests() if r.path == "/_clicked"], "a button was clicked"
    json.dumps(result.as_dict())  # the evidence serialises


# --- rules that need no browser ------------------------------------------------------------------------


def test_urls_deduplicate_across_encodings_slashes_and_fragments() -> None:
    encoded = "http://Example.com:80/he/%D7%A6%D7%95%D7%A8-%D7%A7%D7%A9%D7%A8/#form"
    assert (
        url_key(encoded)
        == url_key("http://example.com/he/צור-קשר")
        == "http://example.com/he/" + quote("צור-קשר")
    )
    assert url_key("https://example.com/contact?x=1") != url_key("https://example.com/contact")


def test_contact_paths_are_read_whole_under_language_prefixes() -> None:
    assert path_phrase("https://example.co.il/he/%D7%A6%D7%95%D7%A8-%D7%A7%D7%A9%D7%A8/") == ("צור קשר", True)
    assert path_phrase("https://example.com/en/contact-us") == ("contact us", True)
    assert path_phrase("https://example.com/contactus.html") == ("contact us", True)
    assert path_phrase("https://example.com/customer_service/") == ("customer service", False)
    assert path_phrase("https://example.com/contact-lenses/") is None
    assert path_phrase("https://example.com/en/") is None


def test_link_texts_match_in_both_languages_but_sentences_do_not() -> None:
    assert text_phrase("Contact Us") == ("contact us", True, True)
    assert text_phrase("לצור קשר") is not None
    assert text_phrase("שירות לקוחות") == ("שירות לקוחות", False, True)
    assert text_phrase("Our services") is None
    long = "If you would like to contact our regional sales teams in Europe, read the list below first"
    assert text_phrase(long) is None


def test_the_site_is_the_registrable_domain() -> None:
    assert site_of("https://www.bank.co.il/") == site_of("https://contact.bank.co.il/x") == "bank.co.il"
    assert site_of("https://bank-group.com/") != site_of("https://www.bank.co.il/")
    assert site_of("http://127.0.0.1:8000/") == "127.0.0.1" != site_of("http://localhost:8000/")


def test_menu_text_outranks_a_path_which_outranks_support() -> None:
    header = judge_link(PageLink("https://a.com/x", "/x", "Contact", "", "header", True, "a"))
    body = judge_link(PageLink("https://a.com/x", "/x", "Contact", "", "body", True, "a"))
    path = judge_link(PageLink("https://a.com/contact/", "/contact/", "Write", "", "body", True, "a"))
    support = judge_link(PageLink("https://a.com/y", "/y", "Support", "", "nav", False, "a"))
    nothing = judge_link(PageLink("https://a.com/about", "/about", "About", "", "nav", True, "a"))
    assert header and body and path and support and nothing is None
    assert header.score > body.score > path.score
    assert header.score > support.score
    assert "hidden" in support.reason


def test_common_paths_follow_the_language_of_the_site() -> None:
    english = common_paths("https://example.com/", hebrew=False)
    assert english[0] == "https://example.com/contact" and len(english) == 3
    hebrew = common_paths("https://example.co.il/", hebrew=True)
    assert hebrew[0] == "https://example.co.il/" + quote("צור-קשר")
    assert common_paths("https://example.com/en/", hebrew=False)[0] == "https://example.com/en/contact"


def test_sitemap_locations_and_indexes() -> None:
    text = "<urlset><url><loc> https://a.com/x?a=1&amp;b=2 </loc></url><url><loc>https://a.com/y</loc></url>"
    assert sitemap_locations(text) == (["https://a.com/x?a=1&b=2", "https://a.com/y"], False)
    assert sitemap_locations("<sitemapindex><sitemap><loc>https://a.com/s1.xml</loc></sitemap>")[1]


def test_a_page_limit_below_one_is_a_clear_error(browser_host: BrowserHost) -> None:
    with pytest.raises(ValueError, match="max_pages must be at least 1"):
        browser_host.run(
            discover_contact_page, browser_host.browser, "http://127.0.0.1/", allow_private=True, max_pages=0
        )


# --- against the sites ---------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_contact_link_in_the_header_menu(
    browser_host: BrowserHost, discovery_sites: dict[str, Site]
) -> None:
    site = discovery_sites["header-menu"]
    result = discover(browser_host, site)
    assert result.contact_url == site.url("/contact-us/")
    assert [s.outcome for s in result.steps] == [NO_FORM, FORM_FOUND]
    assert result.steps[1].reason_chosen == "header link 'Contact us'"
    assert "textarea" in (result.steps[1].form or "")
    assert result.pages_loaded == 2
    assert [r.path for r in site.pages()] == ["/", "/contact-us/"]
    assert_polite(site, result)


@pytest.mark.browser
def test_a_contact_link_only_in_the_footer(
    browser_host: BrowserHost, discovery_sites: dict[str, Site]
) -> None:
    site = discovery_sites["footer-only"]
    result = discover(browser_host, site)
    assert result.contact_url == site.url("/info/write.html")
    assert result.steps[-1].reason_chosen == "footer link 'Contact'"
    assert [r.path for r in site.pages()] == ["/", "/info/write.html"]
    assert_polite(site, result)


@pytest.mark.browser
def test_hebrew_right_to_left_navigation(browser_host: BrowserHost, discovery_sites: dict[str, Site]) -> None:
    site = discovery_sites["hebrew-rtl"]
    result = discover(browser_host, site, locale="he-IL", timezone="Asia/Jerusalem")
    assert result.contact_url == site.url("/he/" + quote("צור-קשר") + "/")
    assert result.steps[-1].reason_chosen == "header link 'צור קשר'"
    assert [r.path for r in site.pages()] == ["/", "/he/צור-קשר/"]
    assert_polite(site, result)


@pytest.mark.browser
def test_a_menu_drawn_by_script_after_the_page_loaded(
    browser_host: BrowserHost, discovery_sites: dict[str, Site]
) -> None:
    site = discovery_sites["js-menu"]
    result = discover(browser_host, site)
    assert result.contact_url == site.url("/reach-out/")
    assert result.steps[-1].reason_chosen == "header link 'Get in touch'"
    assert [r.path for r in site.pages()] == ["/", "/reach-out/"]
    assert_polite(site, result)


@pytest.mark.browser
def test_a_contact_link_only_in_a_closed_hamburger_menu(
    browser_host: BrowserHost, discovery_sites: dict[str, Site]
) -> None:
    site = discovery_sites["hamburger"]
    result = discover(browser_host, site)
    assert result.contact_url == site.url("/company/desk/")
    assert result.steps[-1].reason_chosen == "menu link 'Contact' (hidden until opened)"
    assert [r.path for r in site.pages()] == ["/", "/company/desk/"]
    assert_polite(site, result)  # includes: the menu button was never clicked


@pytest.mark.browser
def test_a_newsletter_box_on_the_home_page_is_not_the_contact_form(
    browser_host: BrowserHost, discovery_sites: dict[str, Site]
) -> None:
    site = discovery_sites["newsletter-home"]
    result = discover(browser_host, site)
    home = result.steps[0]
    assert home.outcome == NO_FORM and home.form is not None  # seen, scored, and below the threshold
    assert result.contact_url == site.url("/contact/")
    assert_polite(site, result)


@pytest.mark.browser
def test_the_home_page_can_be_the_contact_page(
    browser_host: BrowserHost, discovery_sites: dict[str, Site]
) -> None:
    site = discovery_sites["home-form"]
    result = discover(browser_host, site)
    assert result.contact_url == site.url("/")
    assert result.pages_loaded == 1 and [r.path for r in site.pages()] == ["/"]


@pytest.mark.browser
def test_a_redirect_loop_is_a_failed_step_and_discovery_carries_on(
    browser_host: BrowserHost, discovery_sites: dict[str, Site]
) -> None:
    site = discovery_sites["redirect-loop"]
    result = discover(browser_host, site)
    loop = result.steps[1]
    assert loop.url == site.url("/contact/") and loop.outcome.startswith("failed: ")
    assert result.contact_url == site.url("/customer-service/")
    assert result.steps[2].reason_chosen == "footer link 'Customer service'"
    assert {r.path for r in site.pages() if r.status == 302} == {"/contact/", "/contact/again/"}
    assert_polite(site, result)


@pytest.mark.browser
def test_a_redirect_loop_under_the_request_guard(
    browser_host: BrowserHost, discovery_sites: dict[str, Site]
) -> None:
    site = discovery_sites["redirect-loop"]
    with treat_as_public(["127.0.0.1"]):  # the guard's own rules, with this loopback site playing "public"
        result = discover(browser_host, site, allow_private=False)
    loop = result.steps[1]
    assert loop.outcome.startswith(("refused: ", "failed: ")) and "redirect" in loop.outcome
    assert result.contact_url == site.url("/customer-service/")
    assert len([r for r in site.pages() if r.status == 302]) <= 12  # the guard stops after 10 hops
    assert_polite(site, result)


@pytest.mark.browser
def test_a_contact_page_two_links_deep(browser_host: BrowserHost, discovery_sites: dict[str, Site]) -> None:
    site = discovery_sites["two-deep"]
    result = discover(browser_host, site)
    assert [s.url for s in result.steps] == [
        site.url("/"),
        site.url("/support/"),
        site.url("/support/write/"),
    ]
    assert result.steps[1].reason_chosen == "header link 'Support'"
    assert result.steps[2].reason_chosen == "page link 'Contact us' on /support/"
    assert result.steps[2].depth == 2
    assert result.contact_url == site.url("/support/write/")
    assert_polite(site, result)


@pytest.mark.browser
def test_no_contact_page_at_all(browser_host: BrowserHost, discovery_sites: dict[str, Site]) -> None:
    site = discovery_sites["no-contact"]
    result = discover(browser_host, site)
    assert result.contact_url is None
    assert result.pages_loaded <= result.max_pages
    # The home page, then the few common paths (each a 404 here), one after the other.
    assert [s.reason_chosen.split(" /")[0] for s in result.steps[1:]] == ["common path"] * 3
    assert all(s.outcome == "failed: the page answered 404" for s in result.steps[1:])
    assert len(site.pages()) == result.pages_loaded == 4
    assert any("sitemap" in note and "404" in note for note in result.notes)
    assert_polite(site, result)


@pytest.mark.browser
def test_the_page_limit_is_kept(browser_host: BrowserHost, discovery_sites: dict[str, Site]) -> None:
    site = discovery_sites["many-links"]
    result = discover(browser_host, site, max_pages=3)
    assert result.contact_url is None
    assert result.pages_loaded == 3 and len(site.pages()) == 3
    assert [r.path for r in site.pages()] == ["/", "/contact-a/", "/contact-b/"]
    left = [r for r in result.refused if "limit of 3 pages" in r]
    assert any("/contact-c/" in r and "header button 'Contact'" in r for r in left)  # read from its onclick
    assert_polite(site, result)


@pytest.mark.browser
def test_mailto_tel_javascript_buttons_and_other_sites_are_not_followed(
    browser_host: BrowserHost, discovery_sites: dict[str, Site]
) -> None:
    site = discovery_sites["offsite-mailto"]
    result = discover(browser_host, site)
    assert result.contact_url == site.url("/write/")
    assert result.steps[-1].reason_chosen == "footer link 'Write to us'"
    refused = "\n".join(result.refused)
    assert "mailto:hello@example.com (not followed: a mailto: link" in refused
    assert "tel:+97235550000 (not followed: a tel: link" in refused
    assert "javascript:void(0) (not followed: a javascript: link" in refused
    assert f"{site.offsite_url}/contact/ (not followed: another site" in refused
    assert "button 'Contact' (not followed: a button with no link" in refused
    assert all(r.host.startswith("127.0.0.1") for r in site.requests())  # localhost is another site
    assert [r.path for r in site.pages()] == ["/", "/write/"]
    assert_polite(site, result)


@pytest.mark.browser
def test_the_sitemap_is_the_last_resort(browser_host: BrowserHost, discovery_sites: dict[str, Site]) -> None:
    site = discovery_sites["sitemap"]
    result = discover(browser_host, site)
    assert result.contact_url == site.url("/company/reach-us/")
    assert result.steps[-1].reason_chosen == "sitemap entry /company/reach-us/"
    # The sitemap lists pages and not the guesses, so no guess was loaded before its entry.
    assert [r.path for r in site.requests()] == ["/", "/sitemap.xml", "/company/reach-us/"]
    assert any("3 entries" in note for note in result.notes)
    assert_polite(site, result)


@pytest.mark.browser
def test_a_private_address_is_refused_without_the_allowance(
    browser_host: BrowserHost, discovery_sites: dict[str, Site]
) -> None:
    site = discovery_sites["header-menu"]
    result = discover(browser_host, site, allow_private=False)
    assert result.contact_url is None and result.pages_loaded == 0
    assert len(result.steps) == 1 and result.steps[0].outcome.startswith("refused: ")
    assert "non-public address 127.0.0.1" in result.steps[0].outcome
    assert result.refused and site.requests() == []


@pytest.mark.browser
def test_the_time_budget_ends_the_discovery(
    browser_host: BrowserHost, discovery_sites: dict[str, Site]
) -> None:
    site = discovery_sites["many-links"]
    result = discover(browser_host, site, budget_s=4.0)
    assert result.contact_url is None
    assert 1 <= result.pages_loaded < 5
    assert any("time budget" in r for r in result.refused) or result.timed_out
    assert_polite(site, result)
