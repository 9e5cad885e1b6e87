"""The fixture-site farm itself: each site validates and records like the real thing it imitates.

These talk HTTP to the running farm (no browser) except one marked smoke test. Tests of the probe assert on
`farm.submissions`, so the farm's own verdicts (accepted, violations) are what is checked here.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser

from audit.demo.farm import RunningFarm, Submission, serve_farm

PERSON = {"name": "Dana Tester", "email": "dana.k7q2@audit.example", "message": "Do you deliver to Haifa?"}


@pytest.fixture
def client(farm: RunningFarm) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=farm.base_url, timeout=10) as http:
        yield http


def token_of(html: str, name: str = "_token") -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} in page"
    return found.group(1)


def post_form(client: httpx.Client, site: str, action: str, fields: dict[str, str]) -> httpx.Response:
    """Load the page (for a fresh token), then post `fields` with it, as a browser would."""
    page = client.get(f"/{site}/")
    return client.post(action, data={"_token": token_of(page.text), **fields})


def only(farm: RunningFarm, site: str) -> Submission:
    subs = farm.submissions_for(site)
    assert len(subs) == 1, subs
    return subs[0]


class PageCheck(HTMLParser):
    """Enough of an HTML check for hand-written pages: unique ids, every label[for] resolves."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.label_for: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        if tag == "label" and found.get("for"):
            self.label_for.append(str(found["for"]))


def check_html(html: str) -> None:
    assert html.lstrip().startswith("<!DOCTYPE html>")
    parser = PageCheck()
    parser.feed(html)
    assert len(parser.ids) == len(set(parser.ids)), "duplicate ids"
    assert set(parser.label_for) <= set(parser.ids), "label for= without a control"


# (action, fields without the token, where the final page lands, the success text)
HAPPY: dict[str, tuple[str, dict[str, str], str]] = {
    "plain": (
        "/plain/submit",
        {**PERSON, "phone": "+972501234567", "subject": "Delivery"},
        "Thank you! Your message has been sent. We'll get back to you soon.",
    ),
    "hebrew": (
        "/hebrew/",
        {
            "f1": "דנה טסטר",
            "f2": PERSON["email"],
            "f3": "050-1234567",
            "f4": "הצעת מחיר",
            "f5": "שלום",
            "f6": "1",
        },
        "פנייתך התקבלה, נחזור אליך בהקדם",
    ),
    "multistep": ("/multistep/submit", {**PERSON, "phone": ""}, "Thank you, we received your inquiry."),
    "cookie": ("/cookie/submit", PERSON, "Thanks for reaching out."),
    "select-consent": (
        "/select-consent/submit",
        {**PERSON, "topic": "Support", "terms": "1"},
        "Thanks! Your request has been submitted.",
    ),
    "confirm": ("/confirm/submit", PERSON, "Your message is on its way."),
}


def test_every_site_serves_a_self_contained_page(farm: RunningFarm, client: httpx.Client) -> None:
    for site in RunningFarm.SITES:
        page = client.get(farm.url(site))
        assert page.status_code == (403 if site == "challenge" else 200), site
        check_html(page.text)
        # Nothing may leave the machine: the only absolute URL is the farm's own iframe origin.
        assert set(re.findall(r"https?://[^\s\"'<>]+", page.text)) <= {
            f"{farm.frame_base_url}/iframe/form"
        }, site
    for script in (
        "/wp-content/plugins/contact-form-7/includes/js/index.js",
        "/static/js/main.js",
        "/recaptcha/api.js",
    ):
        served = client.get(script)
        assert served.status_code == 200 and "javascript" in served.headers["content-type"]
        assert "http://" not in served.text and "https://" not in served.text
    index = client.get("/").text
    assert all(f'href="/{site}/"' in index for site in RunningFarm.SITES)


@pytest.mark.parametrize("site", sorted(HAPPY))
def test_happy_path_is_accepted_and_recorded_exactly(
    farm: RunningFarm, client: httpx.Client, site: str
) -> None:
    action, fields, success = HAPPY[site]
    page = client.get(f"/{site}/")
    posted = {"_token": token_of(page.text), **fields}
    answer = client.post(action, data=posted, follow_redirects=True)
    assert answer.status_code == 200
    assert success in answer.text
    sub = only(farm, site)
    assert sub.fields == posted
    assert sub.accepted and sub.violations == ()
    assert sub.received_at.tzinfo is not None and sub.received_at.utcoffset() == UTC.utcoffset(None)


def test_plain_redirects_to_a_thank_you_url(client: httpx.Client) -> None:
    answer = post_form(client, "plain", "/plain/submit", PERSON)
    assert answer.status_code == 303 and answer.headers["location"] == "/plain/thanks"


@pytest.mark.parametrize("site", ["plain", "multistep", "cookie", "confirm", "slow", "broken", "hebrew"])
def test_changed_or_missing_token_is_refused(farm: RunningFarm, client: httpx.Client, site: str) -> None:
    action = {
        "hebrew": "/hebrew/",
        **{s: f"/{s}/submit" for s in ("plain", "multistep", "cookie", "confirm")},
    }
    farm.slow_seconds = 0
    try:
        client.post(action.get(site, f"/{site}/submit"), data={**PERSON, "_token": "forged"})
        client.post(action.get(site, f"/{site}/submit"), data=PERSON)
    finally:
        farm.slow_seconds = 20
    subs = farm.submissions_for(site)
    assert len(subs) == 2
    assert all("hidden_token_changed" in s.violations and not s.accepted for s in subs)


def test_a_token_only_works_on_the_site_that_issued_it(farm: RunningFarm, client: httpx.Client) -> None:
    plain_token = token_of(client.get("/plain/").text)
    answer = client.post("/cookie/submit", data={**PERSON, "_token": plain_token})
    assert answer.status_code == 403
    assert only(farm, "cookie").violations == ("hidden_token_changed",)


def test_missing_fields_show_the_form_again(farm: RunningFarm, client: httpx.Client) -> None:
    answer = post_form(
        client, "plain", "/plain/submit", {"name": "Dana", "email": "not-an-email", "message": ""}
    )
    assert answer.status_code == 200
    assert 'role="alert"' in answer.text and 'aria-invalid="true"' in answer.text
    assert 'value="Dana"' in answer.text  # what was typed survives, as on real sites
    sub = only(farm, "plain")
    assert not sub.accepted and sub.violations == ("missing:message", "invalid:email")


def test_cf7_rest_statuses(farm: RunningFarm, client: httpx.Client) -> None:
    page = client.get("/cf7/").text
    hidden = dict(re.findall(r'type="hidden" name="(_wpcf7[a-z_]*)" value="([^"]*)"', page))
    assert hidden["_wpcf7"] == "42" and 'class="wpcf7-form init"' in page
    url = "/wp-json/contact-form-7/v1/contact-forms/42/feedback"
    good = {
        **hidden,
        "your-name": "Dana",
        "your-email": PERSON["email"],
        "your-subject": "",
        "your-message": "Hi",
        "honeypot-781": "",
        "acceptance-terms": "1",
    }

    def send(fields: dict[str, str]) -> dict[str, Any]:
        # CF7 posts multipart FormData; a (None, value) part is a plain field.
        reply = client.post(url, files={k: (None, v) for k, v in fields.items()})
        assert reply.status_code == 200
        body: dict[str, Any] = reply.json()
        return body

    assert send(good)["status"] == "mail_sent"
    no_consent = send({k: v for k, v in good.items() if k != "acceptance-terms"})
    assert no_consent["status"] == "validation_failed"
    assert [f["field"] for f in no_consent["invalid_fields"]] == ["acceptance-terms"]
    assert send({**good, "honeypot-781": "http-free spam"})["status"] == "spam"
    assert send({**good, "_wpcf7_unit_tag": "wpcf7-f1-o1"})["status"] == "spam"
    verdicts = [(s.accepted, s.violations) for s in farm.submissions_for("cf7")]
    assert verdicts == [
        (True, ()),
        (False, ("missing:acceptance-terms",)),
        (False, ("honeypot_filled",)),
        (False, ("hidden_token_changed",)),
    ]
    assert farm.submissions_for("cf7")[0].fields == good


def gravity_fields(page: str) -> dict[str, str]:
    fields = dict(
        re.findall(
            r'type="hidden" (?:class="gform_hidden" )?name="([^"]+)"(?: id="[^"]+")? value="([^"]*)"', page
        )
    )
    assert fields["state_1"] and fields["gform_submit"] == "1"
    return {
        **fields,
        "input_1": "Dana",
        "input_2": PERSON["email"],
        "input_3": "Hi",
        "input_4": "",
        "email_confirm": "",
        "website": "",
    }


@pytest.mark.parametrize("trap", ["input_4", "email_confirm", "website"])
def test_gravity_honeypots_look_like_success_but_are_dropped(
    farm: RunningFarm, client: httpx.Client, trap: str
) -> None:
    fields = gravity_fields(client.get("/gravity/").text) | {trap: "x"}
    answer = client.post("/gravity/", data=fields)
    assert "Thanks for contacting us! We will get in touch with you shortly." in answer.text
    sub = only(farm, "gravity")
    assert not sub.accepted and sub.violations == ("honeypot_filled",)


def test_gravity_honeypots_are_hidden_the_ways_real_sites_hide_them(client: httpx.Client) -> None:
    page = client.get("/gravity/").text
    assert re.search(
        r"\.gform_validation_container[^{]*\{[^}]*display: none", page
    )  # by stylesheet, not inline
    assert "This field is for validation purposes and should be left unchanged." in page
    assert re.search(
        r'class="gfield field_alt[^"]*">\s*<label class="gfield_label" for="input_1_6">Email</label>', page
    )
    assert 'name="website" id="input_1_7" type="text" value="" tabindex="-1"' in page


def test_gravity_success_and_errors(farm: RunningFarm, client: httpx.Client) -> None:
    fields = gravity_fields(client.get("/gravity/").text)
    ok = client.post("/gravity/", data=fields)
    assert 'class="gform_confirmation_message_1 gform_confirmation_message"' in ok.text
    missing = client.post("/gravity/", data={**gravity_fields(client.get("/gravity/").text), "input_2": ""})
    assert "There was a problem with your submission. Errors have been highlighted below." in missing.text
    assert "gfield_error" in missing.text
    tampered = client.post("/gravity/", data={**fields, "state_1": "changed"})
    assert 'class="validation_error"' in tampered.text
    assert [s.violations for s in farm.submissions_for("gravity")] == [
        (),
        ("missing:input_2",),
        ("hidden_token_changed",),
    ]


def test_iframe_form_lives_on_the_other_origin(farm: RunningFarm, client: httpx.Client) -> None:
    assert farm.frame_base_url != farm.base_url
    assert f'<iframe src="{farm.frame_base_url}/iframe/form"' in client.get("/iframe/").text
    assert client.get("/iframe/form").status_code == 404  # not on origin A
    with httpx.Client(base_url=farm.frame_base_url) as frame:
        form = frame.get("/iframe/form").text
        fields = {"_token": token_of(form), "full_name": "Dana", "email": PERSON["email"], "question": "Hi?"}
        answer = frame.post("/iframe/form", data=fields)
    assert "Message received, thank you." in answer.text
    assert only(farm, "iframe").fields == fields


def test_hebrew_consent_optin_and_messages(farm: RunningFarm, client: httpx.Client) -> None:
    page = client.get("/hebrew/").text
    assert '<html lang="he" dir="rtl">' in page and "דוא\u05f4ל" in page and "שלח/י" in page
    base = HAPPY["hebrew"][1]
    redirect = post_form(client, "hebrew", "/hebrew/", {**base, "f7": "1"})
    assert redirect.status_code == 303 and redirect.headers["location"] == "/hebrew/%D7%AA%D7%95%D7%93%D7%94"
    no_terms = post_form(client, "hebrew", "/hebrew/", {k: v for k, v in base.items() if k != "f6"})
    assert "שדה חובה" in no_terms.text
    assert [(s.accepted, s.violations) for s in farm.submissions_for("hebrew")] == [
        (True, ("marketing_optin_ticked",)),
        (False, ("missing:f6",)),
    ]


def test_react_posts_json_with_a_csrf_header(farm: RunningFarm, client: httpx.Client) -> None:
    page = client.get("/react/").text
    assert "<input" not in page and "<textarea" not in page  # rendered by JS only
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert csrf
    headers = {"X-CSRF-Token": csrf.group(1)}
    assert client.post("/api/react/contact", json=PERSON, headers=headers).json()["ok"] is True
    assert client.post("/api/react/contact", json={**PERSON, "email": ""}, headers=headers).status_code == 422
    assert client.post("/api/react/contact", json=PERSON).status_code == 403
    subs = farm.submissions_for("react")
    assert subs[0].fields == PERSON and subs[0].accepted
    assert [s.violations for s in subs[1:]] == [("missing:email",), ("hidden_token_changed",)]


def test_select_consent_rules(farm: RunningFarm, client: httpx.Client) -> None:
    page = client.get("/select-consent/").text
    assert '<option value="" disabled selected>Choose a topic…</option>' in page
    good = {**PERSON, "topic": "Sales", "terms": "1"}
    post_form(client, "select-consent", "/select-consent/submit", {**good, "topic": ""})
    post_form(
        client, "select-consent", "/select-consent/submit", {k: v for k, v in good.items() if k != "terms"}
    )
    post_form(client, "select-consent", "/select-consent/submit", {**good, "newsletter": "1"})
    assert [(s.accepted, s.violations) for s in farm.submissions_for("select-consent")] == [
        (False, ("missing:topic",)),
        (False, ("missing:terms",)),
        (True, ("marketing_optin_ticked",)),
    ]


def test_captcha_can_never_be_passed(farm: RunningFarm, client: httpx.Client) -> None:
    page = client.get("/captcha/").text
    assert '<div class="g-recaptcha" data-sitekey="6Lc_fake_site_key"></div>' in page
    assert '<script src="/recaptcha/api.js" async defer></script>' in page
    answer = post_form(client, "captcha", "/captcha/submit", {**PERSON, "g-recaptcha-response": "made-up"})
    assert "not a robot" in answer.text
    sub = only(farm, "captcha")
    assert not sub.accepted and sub.violations == ("captcha_bypassed",)


def test_noform_has_only_search_and_newsletter(farm: RunningFarm, client: httpx.Client) -> None:
    page = client.get("/noform/").text
    assert "<textarea" not in page and 'role="search"' in page and "Subscribe" in page
    client.get("/noform/search", params={"q": "rye"})
    post_form(client, "noform", "/noform/subscribe", {"email": PERSON["email"]})
    assert [(s.fields.get("q"), s.accepted, s.violations) for s in farm.submissions_for("noform")] == [
        ("rye", False, ("not_a_contact_form",)),
        (None, False, ("not_a_contact_form",)),
    ]


def test_broken_answers_500_but_records(farm: RunningFarm, client: httpx.Client) -> None:
    answer = post_form(client, "broken", "/broken/submit", PERSON)
    assert answer.status_code == 500 and "Internal Server Error" in answer.text
    sub = only(farm, "broken")
    assert not sub.accepted and sub.violations == ("server_error",)


def test_confirm_uses_dialogs(client: httpx.Client) -> None:
    page = client.get("/confirm/").text
    assert (
        'confirm("Send your message now?")' in page and 'alert("Please fill in all required fields")' in page
    )


def test_slow_records_before_it_answers(farm: RunningFarm, client: httpx.Client) -> None:
    token = token_of(client.get("/slow/").text)
    farm.slow_seconds = 3
    try:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/slow/submit", data={**PERSON, "_token": token}, timeout=0.5)
        assert only(farm, "slow").accepted  # recorded although no answer came
        farm.slow_seconds = 0
        answer = post_form(client, "slow", "/slow/submit", PERSON)
        assert "your message has been received" in answer.text
    finally:
        farm.slow_seconds = 20


def test_challenge_page(client: httpx.Client) -> None:
    page = client.get("/challenge/")
    assert page.status_code == 403 and page.headers["cf-mitigated"] == "challenge"
    assert "<title>Just a moment...</title>" in page.text and "<form" not in page.text
    script = re.search(
        r'<script src="(/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1[^"]*)"', page.text
    )
    assert script and client.get(script.group(1)).status_code == 404


def test_cookie_consent_is_recorded_and_the_banner_remembered(
    farm: RunningFarm, client: httpx.Client
) -> None:
    assert 'id="cookie-consent"' in client.get("/cookie/").text
    client.cookies.set("consent", "rejected")
    assert 'id="cookie-consent"' not in client.get("/cookie/").text
    post_form(client, "cookie", "/cookie/submit", PERSON)
    assert only(farm, "cookie").cookie_consent == "rejected"


def test_host_url_serves_the_same_site_under_another_name(farm: RunningFarm, client: httpx.Client) -> None:
    url = farm.host_url("shop-7.localhost", "challenge")
    assert url == f"http://shop-7.localhost:{farm.base_url.rsplit(':', 1)[1]}/challenge/"
    # Python's resolver may not know *.localhost; Chromium does (see the browser test). Send the Host header.
    page = client.get("/challenge/", headers={"Host": url.split("/")[2]})
    assert "shop-7.localhost needs to review the security" in page.text


def test_log_endpoint_clear_and_copy(farm: RunningFarm, client: httpx.Client) -> None:
    post_form(client, "plain", "/plain/submit", PERSON)
    logged = [Submission.from_json(item) for item in client.get("/__farm/submissions").json()]
    assert logged == farm.submissions
    farm.submissions.clear()  # a copy: the log is untouched
    assert len(farm.submissions) == 1
    assert client.delete("/__farm/submissions").status_code == 204
    assert farm.submissions == []


def test_serve_farm_releases_its_ports() -> None:
    with serve_farm() as other:
        assert httpx.get(other.url("plain")).status_code == 200
        port = int(other.base_url.rsplit(":", 1)[1])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.browser
def test_chromium_reaches_host_url_and_submits(farm: RunningFarm, browser_host: Any) -> None:
    async def submit(browser: Browser) -> str:
        context = await browser.new_context()
        try:
            page = await context.new_page()
            await page.goto(farm.host_url("shop-7.localhost", "plain"))
            await page.get_by_label("Name").fill(PERSON["name"])
            await page.get_by_label("Email").fill(PERSON["email"])
            await page.get_by_label("Message").fill(PERSON["message"])
            await page.get_by_role("button", name="Send message").click()
            await page.get_by_text("Thank you! Your message has been sent.").wait_for()
            return page.url
        finally:
            await context.close()

    assert browser_host.run(submit, browser_host.browser).startswith("http://shop-7.localhost:")
    sub = only(farm, "plain")
    assert sub.accepted and sub.fields["email"] == PERSON["email"] and "phone" in sub.fields
