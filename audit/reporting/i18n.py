"""Every word the report shows, in English and Hebrew, and how numbers, times and dates are written.

Strings are `str.format` templates. A pair `(one, other)` is a plural: `phrase(lang, key, n=...)` picks by n.
Dates, numbers and percentages go through Babel in locale `en` or `he`; times in the audit's time zone.
No string here contains `<` or `>`: the plain-text report keeps them out of its output (see render.py).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta, get_day_names
from babel.numbers import format_decimal, format_percent

Lang = Literal["en", "he"]
LANGUAGES: tuple[Lang, ...] = ("en", "he")
Phrase = str | tuple[str, str]
_Unit = Literal["day", "hour", "minute"]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Headings and column titles used by the templates, as `r.labels.<key>`.
LABELS: dict[Lang, dict[str, str]] = {
    "en": {
        "report": "Contact-form audit",
        "summary": "Summary",
        "tiers": "Results by tier",
        "ranking": "All companies, ranked",
        "numbers": "The numbers",
        "distribution": "When the first reply from a person came",
        "speed_quality": "Speed and quality",
        "rubric": "Reply quality, criterion by criterion",
        "sectors": "By sector",
        "trend": "Change from the previous wave",
        "movers": "Companies that changed tier",
        "method": "How we measured",
        "context": "Other studies, for context",
        "rank": "#",
        "company": "Company",
        "sector": "Sector",
        "submitted": "Submitted",
        "first_ack": "Auto-ack.",
        "first_human": "First reply by a person",
        "business": "Business time",
        "quality": "Quality",
        "tier": "Tier",
        "evidence": "Evidence",
        "measure": "Measure",
        "previous": "Previous",
        "now": "Now",
        "change": "Change",
        "companies": "Companies",
        "reached": "Contacted",
        "replied": "Replied",
        "median": "Median",
        "median_responders": "Median, if replied",
        "within_24h": "Within 24 h",
        "avg_quality": "Avg. quality",
        "time": "Time",
        "count": "Inquiries",
        "share": "Share",
        "not_named": "Not named, by the audit's choice.",
        "inquiry_subject": "Subject",
        "inquiry_message": "Message",
        "none": "none",
        "more": "… and {n} more in the full report.",
        "inquiry": "The inquiry",
        "rubric_short": "Quality rubric",
    },
    "he": {
        "report": "סקר פניות דרך טופס צור קשר",
        "summary": "תקציר",
        "tiers": "התוצאות לפי דירוג",
        "ranking": "כל החברות, לפי הדירוג",
        "numbers": "המספרים",
        "distribution": "מתי הגיע המענה האנושי הראשון",
        "speed_quality": "מהירות ואיכות",
        "rubric": "איכות המענה, לפי קריטריון",
        "sectors": "לפי תחום",
        "trend": "שינוי לעומת הגל הקודם",
        "movers": "חברות ששינו דירוג",
        "method": "איך מדדנו",
        "context": "מחקרים אחרים, להשוואה",
        "rank": "#",
        "company": "חברה",
        "sector": "תחום",
        "submitted": "נשלחה",
        "first_ack": "אישור אוטומטי",
        "first_human": "מענה אנושי ראשון",
        "business": "בשעות עבודה",
        "quality": "איכות",
        "tier": "דירוג",
        "evidence": "ראיות",
        "measure": "מדד",
        "previous": "קודם",
        "now": "עכשיו",
        "change": "שינוי",
        "companies": "חברות",
        "reached": "נשלחה פנייה",
        "replied": "ענו",
        "median": "חציון",
        "median_responders": "חציון בקרב העונות",
        "within_24h": "תוך 24 שעות",
        "avg_quality": "איכות ממוצעת",
        "time": "זמן",
        "count": "פניות",
        "share": "שיעור",
        "not_named": "לא נקבו בשמן, לפי בחירת הסוקרים.",
        "inquiry_subject": "נושא",
        "inquiry_message": "תוכן",
        "none": "אין",
        "more": "… ועוד {n} בדוח המלא.",
        "inquiry": "הפנייה",
        "rubric_short": "מדד האיכות",
    },
}

TIER_NAMES: dict[Lang, dict[str, str]] = {
    "en": {
        "fast_courteous": "Fast, personal and courteous",
        "reasonable": "Reasonable and correct, room to improve",
        "slow_or_lacking": "Slow, poor or lacking",
        "no_reply": "Did not bother to reply",
        "pending": "Still waiting for a reply",
        "not_reached": "Could not be contacted",
    },
    "he": {
        "fast_courteous": "מענה מהיר, אנושי ואדיב",
        "reasonable": "מענה סביר וקורקטי, אך טעון שיפור",
        "slow_or_lacking": "זמן מענה ארוך, שירות ירוד ולוקה בחסר",
        "no_reply": "לא טרחו לחזור",
        "pending": "עדיין ממתינות למענה",
        "not_reached": "לא ניתן היה לפנות",
    },
}

TIER_SHORT: dict[Lang, dict[str, str]] = {
    "en": {
        "fast_courteous": "Fast",
        "reasonable": "Reasonable",
        "slow_or_lacking": "Slow or lacking",
        "no_reply": "No reply",
        "pending": "Pending",
        "not_reached": "Not reached",
    },
    "he": {
        "fast_courteous": "מהיר ואדיב",
        "reasonable": "סביר",
        "slow_or_lacking": "איטי או חסר",
        "no_reply": "ללא מענה",
        "pending": "ממתין",
        "not_reached": "לא נשלחה פנייה",
    },
}

# Criterion id -> (short name, when met, when missing, what it checks).
CRITERIA: dict[Lang, dict[str, tuple[str, str, str, str]]] = {
    "en": {
        "A": (
            "answer",
            "answered the question",
            "did not answer the question",
            "Answers every part of the question (a phone number, a price, a yes or no).",
        ),
        "P1": (
            "personal touch",
            "personal",
            "impersonal (no name, no signature)",
            "Greets the customer by name and is signed by a named person.",
        ),
        "P2": (
            "politeness",
            "polite",
            "no thanks, greeting or closing",
            "Thanks the customer, with a greeting and a closing; no blame.",
        ),
        "Q": (
            "professionalism",
            "professional",
            "unprofessional (template text, wrong language or no contact)",
            "No unfilled template fields, the inquiry's language, a direct contact, the right product.",
        ),
        "V": (
            "added value",
            "offered a next step",
            "no next step or alternative",
            "Offers alternatives or a next step: a call, the right page, another product.",
        ),
        "E": (
            "low effort",
            "asked no extra effort",
            "sent us elsewhere",
            "Does not send the customer elsewhere or ask again for details already given.",
        ),
        "M": (
            "warmth",
            "warm",
            "left us indifferent",
            "Warmth and empathy; reflects the customer's own words.",
        ),
    },
    "he": {
        "A": (
            "מענה לשאלה",
            "ענו על השאלה",
            "לא ענו על השאלה",
            "עונה על כל חלקי השאלה (מספר טלפון, מחיר, כן או לא).",
        ),
        "P1": (
            "יחס אישי",
            "אישי",
            "לא אישי (בלי שם ובלי חתימה)",
            "פונה ללקוח בשמו וחתום בשם של אדם.",
        ),
        "P2": (
            "נימוס",
            "מנומס",
            "בלי תודה, פתיחה או סיום",
            "מודה על הפנייה, עם פתיחה וסיום; בלי להאשים את הלקוח.",
        ),
        "Q": (
            "מקצועיות",
            "מקצועי",
            "לא מקצועי (שדות תבנית, שפה אחרת או בלי איש קשר)",
            "בלי שדות תבנית ריקים, בשפת הפנייה, עם איש קשר ישיר ועל המוצר הנכון.",
        ),
        "V": (
            "ערך מוסף",
            "הציעו צעד הבא",
            "בלי צעד הבא או חלופה",
            "מציע חלופות או צעד הבא: שיחה, העמוד הנכון, מוצר אחר.",
        ),
        "E": (
            "מאמץ נמוך",
            "לא נדרש מאמץ נוסף",
            "הפנו אותנו למקום אחר",
            "לא מפנה את הלקוח למקום אחר ולא מבקש שוב פרטים שכבר נמסרו.",
        ),
        "M": (
            "חום ואמפתיה",
            "חם",
            "הותירו אותנו אדישים",
            "חום ואמפתיה; משקף את דברי הלקוח.",
        ),
    },
}

# Why no inquiry could be sent, by the probe's outcome (tier 0).
REASONS: dict[Lang, dict[str, str]] = {
    "en": {
        "no_form": "no contact form on the page",
        "blocked_captcha": "a CAPTCHA or a bot challenge",
        "validation_error": "the form refused valid details",
        "error": "the page or the form failed",
        "uncertain": "unclear whether the form was sent",
        "dry_run": "a dry run: nothing was sent",
        "login_required": "a login was required",
    },
    "he": {
        "no_form": "אין טופס יצירת קשר בעמוד",
        "blocked_captcha": "CAPTCHA או בדיקת רובוטים",
        "validation_error": "הטופס דחה פרטים תקינים",
        "error": "העמוד או הטופס לא עבדו",
        "uncertain": "לא ברור אם הטופס נשלח",
        "dry_run": "הרצת ניסיון: לא נשלח דבר",
        "login_required": "נדרשה התחברות",
    },
}

# method.md §9, one line each: (study, what it found).
STUDIES: dict[Lang, tuple[tuple[str, str], ...]] = {
    "en": (
        ("HBR, 2011 (2,241 US companies, one web-form lead each)", "37% replied within 1 hour; 23% never."),
        (
            "InsideSales.com, 2014 (9,538 businesses tested)",
            "47% never responded; median first call 3 h 08 min.",
        ),
        ("SuperOffice, 2018 (1,000 companies emailed)", "62% never replied; 90% sent no acknowledgement."),
        (
            "Eptica, UK, yearly (100 brands)",
            "2011: 27% of emails got no reply; 2017: 40% answered accurately.",
        ),
        ("Pied Piper PSI, 2015 (13,637 US car dealers)", "8% gave no response of any kind; 3% by 2020."),
        (
            "Velocify, c. 2014 (62 Fortune 100 web forms)",
            "12% ignored completely; about 15% called within 1 hour.",
        ),
        ("Netomi, 2020 (973 retailers)", "70% of those with an email channel never replied; mean 36 hours."),
    ),
    "he": (
        ("HBR, 2011 (2,241 חברות בארה״ב, פנייה אחת בטופס לכל חברה)", "37% ענו תוך שעה; 23% לא ענו כלל."),
        ("InsideSales.com, 2014 (9,538 עסקים נבדקו)", "47% לא ענו כלל; חציון השיחה הראשונה 3 שעות ו-8 דקות."),
        ("SuperOffice, 2018 (פנייה בדוא״ל ל-1,000 חברות)", "62% לא ענו; 90% לא שלחו אישור קבלה."),
        ("Eptica, בריטניה, מדי שנה (100 מותגים)", "2011: 27% מהמיילים לא נענו; 2017: 40% נענו במדויק."),
        ("Pied Piper PSI, 2015 (13,637 סוכנויות רכב בארה״ב)", "8% לא הגיבו כלל; 3% ב-2020."),
        ("Velocify, בערך 2014 (62 טפסים של חברות Fortune 100)", "12% התעלמו לגמרי; כ-15% התקשרו תוך שעה."),
        ("Netomi, 2020 (973 קמעונאים)", "70% מבעלי ערוץ דוא״ל לא ענו כלל; ממוצע 36 שעות."),
    ),
}

PHRASES: dict[Lang, dict[str, Phrase]] = {
    "en": {
        "title": "{audit}: wave {wave}",
        "subtitle": "Graded as of {as_of}. Times in {zone}.",
        "subject": "{audit}, wave {wave}: {fast} fast, {reasonable} reasonable, {slow} slow or lacking, "
        "{none} no reply",
        "head.intro": (
            "Of the one company we contacted through its website, ",
            "Of {n} companies we contacted through their websites, ",
        ),
        "head.fast_courteous": "{n} answered fast, personally and courteously",
        "head.fast_courteous.zero": "none answered fast, personally and courteously",
        "head.reasonable": "{n} answered correctly but left us indifferent",
        "head.slow.slow_poor": "{n} took {range} and answered poorly",
        "head.slow.slow": "{n} took {range} to answer",
        "head.slow.poor": "{n} answered, but poorly",
        "head.slow.mixed": "{n} answered late or poorly",
        "head.no_reply": "{n} never answered",
        "head.no_reply.zero": "every one of them answered",
        "head.pending": "{n} have not answered yet",
        "head.not_reached": (
            "On one more company we could not send an inquiry ({reasons}).",
            "On {n} more we could not send an inquiry ({reasons}).",
        ),
        "head.none_reached": "We could not send an inquiry to any of the {n} companies ({reasons}).",
        "head.empty": "No inquiry of this wave has been graded yet.",
        "range.days": "{low} to {high} days",
        "range.same_days": "{low} days",
        "range.mixed": "{low} to {high}",
        "trend.sentence": "Against wave {wave}: median first human reply {before} → {now}; "
        "never replied {never_before} → {never_now}.",
        "fig.companies": "companies audited",
        "fig.reachable": "could be contacted",
        "fig.within_1h": "replied within 1 hour",
        "fig.within_24h": "within 24 hours",
        "fig.within_5d": "within 5 days",
        "fig.median": "median first reply by a person",
        "fig.never": "never replied",
        "m.reachable": "Could be contacted through the website",
        "m.median": "Median first human reply (no reply counts as never)",
        "m.p90": "90th percentile",
        "m.median_responders": "Median among those who replied",
        "m.within_1h": "Replied within 1 hour",
        "m.within_24h": "Replied within 24 hours",
        "m.within_5d": "Replied within 5 days",
        "m.within_fast_business": "Replied within {fast} of business time",
        "m.within_2_business_days": "Replied within 2 business days",
        "m.never": "Never replied (by the deadline)",
        "m.acknowledged": "Sent an automatic acknowledgement",
        "m.median_ack": "Median time to the acknowledgement",
        "m.complete": "Answered every part in the first reply (of those who replied)",
        "m.followed_up": "Followed up unprompted (of those who replied)",
        "m.quality": "Average reply quality",
        "m.correlation": "Rank correlation of reply time and quality",
        "m.tier_counts": "Companies in tier: {tier}",
        "more_than": "more than {duration}",
        "not_available": "–",
        "never": "never",
        "pending": "not yet",
        "bucket.1h": "within 1 hour",
        "bucket.4h": "1 to 4 hours",
        "bucket.24h": "4 to 24 hours",
        "bucket.2d": "1 to 2 days",
        "bucket.5d": "2 to 5 days",
        "bucket.later": "more than 5 days",
        "bucket.never": "no reply by the deadline",
        "bucket.pending": "no reply yet",
        "sq.negative": "Among the {n} replies, the rank correlation of reply time and quality is {rho}: "
        "the slower the reply, the poorer it tended to be (TACK saw the same in 2010).",
        "sq.positive": "Among the {n} replies, the rank correlation of reply time and quality is {rho}: "
        "slower replies tended to be better ones, unlike TACK's finding.",
        "sq.none": "Among the {n} replies, the rank correlation of reply time and quality is {rho}: "
        "no clear relation.",
        "sq.too_few": "Too few replies to relate speed and quality.",
        "rule.fast_courteous": "A reply from a person within {fast}{clock} that answers the question and is "
        "personal and polite (quality at least {good}).",
        "rule.reasonable": "A reply from a person within {reasonable}{clock} that answers the main question "
        "(quality at least {adequate}).",
        "rule.slow_or_lacking": "A reply from a person after {reasonable}{clock}, or a faster reply that did "
        "not answer.",
        "rule.no_reply": "No reply from a person within {deadline}. Automatic acknowledgements and marketing "
        "mail do not count.",
        "rule.pending": "No reply yet, and the deadline has not passed.",
        "rule.not_reached": "No inquiry could be sent: no form, a CAPTCHA, or a broken form.",
        "clock.business": " of business time",
        "tier.count": ("one company", "{n} companies"),
        "hidden": (
            "The one company that did not reply is not named: the audit withholds their names.",
            "The {n} companies that did not reply are not named: the audit withholds their names.",
        ),
        "p.email": "Answered by email {time} after the inquiry (sent {sent})",
        "p.phone": "Called back {time} after the inquiry (sent {sent})",
        "p.sms": "Replied by text message {time} after the inquiry (sent {sent})",
        "p.other": "Replied {time} after the inquiry (sent {sent})",
        "p.business": "; {time} in business hours",
        "p.ack_first": "An automatic acknowledgement came first, {time} after the inquiry.",
        "p.ack_only": "Only an automatic acknowledgement came, {time} after the inquiry.",
        "p.no_ack": "Not even an automatic acknowledgement.",
        "p.promise": "It promised a reply (“{text}”): {status}.",
        "p.promise.kept": "the promise was kept",
        "p.promise.broken": "the promise was broken",
        "p.promise.open": "the promise is still open",
        "p.junk": "The reply landed in the spam folder.",
        "p.good": "Good: {items}.",
        "p.all_good": "It met every quality criterion.",
        "p.partly": "Partly: {items}.",
        "p.missing": "Missing: {items}.",
        "p.followed_up": "They followed up unprompted.",
        "p.no_human": "No reply from a person within {deadline}.",
        "p.late": "A reply from a person came only after the deadline, {time} after the inquiry.",
        "p.pending": "No reply yet; the deadline is {deadline}.",
        "p.not_reached": "No inquiry could be sent: {reason}.",
        "p.override": "Tier set by a reviewer.",
        "p.override_notes": "Tier set by a reviewer: {notes}.",
        "p.inconsistent": "Its {n} inquiries fell into different tiers; the median counts.",
        "p.spread": "Quality ranged from {low} to {high}.",
        "flag.reviewed": "reviewed",
        "flag.inconsistent": "inconsistent",
        "flag.late": "late reply",
        "flag.junk": "in spam",
        "link.form": "form",
        "link.confirmation": "confirmation",
        "link.reply": "reply",
        "method.audit": "Audit",
        "method.wave": "Wave",
        "method.wave_value": "Wave {wave}: {sent} inquiries sent to {companies} companies, {dates}",
        "method.dates.one": "on {date}",
        "method.dates.range": "from {first} to {last}",
        "method.as_of": "Graded as of",
        "method.persona": "Who asked",
        "method.persona_value": "{name}, a fictional customer (phone {phone}), with a reply address of "
        "its own for every inquiry",
        "method.deadline": "Deadline",
        "method.deadline_value": "{deadline} after each inquiry; later replies are shown as late and do not "
        "change the tier",
        "method.thresholds": "Tier thresholds",
        "method.thresholds_value": "fast within {fast}, reasonable within {reasonable} ({clock}); quality at "
        "least {good} for the best tier and {adequate} to count as an answer",
        "method.clock.wall": "wall-clock time",
        "method.clock.business": "business time",
        "method.calendar": "Business hours",
        "method.calendar_value": "{days}, {opens} to {closes}, {zone}{holidays}",
        "method.holidays": "; public holidays of {country} closed",
        "method.reply": "What counts as a reply",
        "method.reply_value": "Only a reply written by a person: an email, or a phone call or text message "
        "logged by hand. Automatic acknowledgements, out-of-office notes and marketing mail do not count.",
        "method.quantiles": "Medians and percentiles",
        "method.quantiles_value": "Nearest rank over every inquiry that was sent, counting no reply as "
        "infinitely late: when more than half never replied, the median reads “more than {deadline}”.",
        "method.staff": "Staff names",
        "method.staff_value": "Replaced by [staff] in every quote.",
        "context.intro": "The model is TACK's 2010 survey for TheMarker: 41 Israeli companies contacted "
        "through their websites; 4 answered fast and courteously, 14 correctly but coldly, 3 after 2 to 5 "
        "days, about 20 never.",
        "footer": "Made with contact-audit on {date}. Times are in {zone}.",
    },
    "he": {
        "title": "{audit}: גל {wave}",
        "subtitle": "נכון ל-{as_of}. השעות לפי {zone}.",
        "subject": "{audit}, גל {wave}: {fast} מהירות, {reasonable} סבירות, {slow} איטיות או חסרות, "
        "{none} ללא מענה",
        "head.intro": (
            "מתוך חברה אחת שפנינו אליה דרך אתר האינטרנט שלה, ",
            "מתוך {n} חברות שפנינו אליהן דרך אתר האינטרנט שלהן, ",
        ),
        "head.fast_courteous": (
            "חברה אחת ענתה מהר, באופן אישי ובאדיבות",
            "{n} ענו מהר, באופן אישי ובאדיבות",
        ),
        "head.fast_courteous.zero": "אף חברה לא ענתה מהר, באופן אישי ובאדיבות",
        "head.reasonable": (
            "חברה אחת ענתה כראוי אך הותירה אותנו אדישים",
            "{n} ענו כראוי אך הותירו אותנו אדישים",
        ),
        "head.slow.slow_poor": (
            "חברה אחת ענתה לאחר {range} ובאופן ירוד",
            "{n} ענו לאחר {range} ובאופן ירוד",
        ),
        "head.slow.slow": ("חברה אחת ענתה רק לאחר {range}", "{n} ענו רק לאחר {range}"),
        "head.slow.poor": ("חברה אחת ענתה, אך באופן ירוד", "{n} ענו, אך באופן ירוד"),
        "head.slow.mixed": ("חברה אחת ענתה באיחור או באופן ירוד", "{n} ענו באיחור או באופן ירוד"),
        "head.no_reply": ("חברה אחת לא ענתה כלל", "{n} לא ענו כלל"),
        "head.no_reply.zero": "כולן ענו",
        "head.pending": ("חברה אחת עדיין לא ענתה", "{n} עדיין לא ענו"),
        "head.not_reached": (
            "לחברה אחת נוספת לא הצלחנו לשלוח פנייה ({reasons}).",
            "לעוד {n} חברות לא הצלחנו לשלוח פנייה ({reasons}).",
        ),
        "head.none_reached": "לא הצלחנו לשלוח פנייה לאף אחת מ-{n} החברות ({reasons}).",
        "head.empty": "עדיין לא דורגה אף פנייה בגל הזה.",
        "range.days": "{low} עד {high} ימים",
        "range.same_days": "{low} ימים",
        "range.mixed": "{low} עד {high}",
        "trend.sentence": "לעומת גל {wave}: חציון המענה האנושי הראשון {before} ← {now}; "
        "לא ענו כלל {never_before} ← {never_now}.",
        "fig.companies": "חברות בסקר",
        "fig.reachable": "ניתן היה לפנות אליהן",
        "fig.within_1h": "ענו תוך שעה",
        "fig.within_24h": "תוך 24 שעות",
        "fig.within_5d": "תוך 5 ימים",
        "fig.median": "חציון המענה האנושי הראשון",
        "fig.never": "לא ענו כלל",
        "m.reachable": "ניתן היה לפנות דרך האתר",
        "m.median": "חציון המענה האנושי הראשון (היעדר מענה נחשב כ״לעולם לא״)",
        "m.p90": "אחוזון 90",
        "m.median_responders": "חציון בקרב החברות שענו",
        "m.within_1h": "ענו תוך שעה",
        "m.within_24h": "ענו תוך 24 שעות",
        "m.within_5d": "ענו תוך 5 ימים",
        "m.within_fast_business": "ענו תוך {fast} של שעות עבודה",
        "m.within_2_business_days": "ענו תוך 2 ימי עבודה",
        "m.never": "לא ענו כלל (עד המועד האחרון)",
        "m.acknowledged": "שלחו אישור קבלה אוטומטי",
        "m.median_ack": "חציון הזמן לאישור האוטומטי",
        "m.complete": "ענו על כל חלקי השאלה במענה הראשון (מתוך העונות)",
        "m.followed_up": "חזרו אלינו שוב ביוזמתן (מתוך העונות)",
        "m.quality": "איכות מענה ממוצעת",
        "m.correlation": "מתאם דירוגים בין זמן המענה לאיכותו",
        "m.tier_counts": "חברות בדירוג: {tier}",
        "more_than": "יותר מ-{duration}",
        "not_available": "–",
        "never": "לא ענו",
        "pending": "עדיין לא",
        "bucket.1h": "תוך שעה",
        "bucket.4h": "1 עד 4 שעות",
        "bucket.24h": "4 עד 24 שעות",
        "bucket.2d": "1 עד 2 ימים",
        "bucket.5d": "2 עד 5 ימים",
        "bucket.later": "יותר מ-5 ימים",
        "bucket.never": "לא ענו עד המועד האחרון",
        "bucket.pending": "עדיין לא ענו",
        "sq.negative": "בקרב {n} המענים, מתאם הדירוגים בין זמן המענה לאיכותו הוא {rho}: ככל שהמענה "
        "איטי יותר, איכותו נמוכה יותר (כפי ש-TACK מצאו ב-2010).",
        "sq.positive": "בקרב {n} המענים, מתאם הדירוגים בין זמן המענה לאיכותו הוא {rho}: המענים האיטיים "
        "היו דווקא טובים יותר, בניגוד לממצא של TACK.",
        "sq.none": "בקרב {n} המענים, מתאם הדירוגים בין זמן המענה לאיכותו הוא {rho}: אין קשר ברור.",
        "sq.too_few": "מעט מדי מענים כדי לקשור בין מהירות לאיכות.",
        "rule.fast_courteous": "מענה אנושי תוך {fast}{clock}, שעונה על השאלה, אישי ומנומס (איכות של "
        "{good} לפחות).",
        "rule.reasonable": "מענה אנושי תוך {reasonable}{clock} שעונה על עיקר השאלה (איכות של {adequate} "
        "לפחות).",
        "rule.slow_or_lacking": "מענה אנושי אחרי יותר מ-{reasonable}{clock}, או מענה מהיר יותר שלא ענה "
        "על השאלה.",
        "rule.no_reply": "לא התקבל מענה אנושי תוך {deadline}. אישורים אוטומטיים ודיוור שיווקי אינם נחשבים.",
        "rule.pending": "עדיין אין מענה, והמועד האחרון טרם עבר.",
        "rule.not_reached": "לא ניתן היה לשלוח פנייה: אין טופס, CAPTCHA או טופס שבור.",
        "clock.business": " של שעות עבודה",
        "tier.count": ("חברה אחת", "{n} חברות"),
        "hidden": (
            "החברה שלא ענתה אינה מופיעה בשמה: הסוקרים בחרו שלא לנקוב בשמות.",
            "{n} החברות שלא ענו אינן מופיעות בשמן: הסוקרים בחרו שלא לנקוב בשמות.",
        ),
        "p.email": "ענו בדוא״ל {time} אחרי הפנייה (שנשלחה {sent})",
        "p.phone": "חזרו בטלפון {time} אחרי הפנייה (שנשלחה {sent})",
        "p.sms": "ענו במסרון {time} אחרי הפנייה (שנשלחה {sent})",
        "p.other": "ענו {time} אחרי הפנייה (שנשלחה {sent})",
        "p.business": "; {time} בשעות עבודה",
        "p.ack_first": "קודם לכן הגיע אישור אוטומטי, {time} אחרי הפנייה.",
        "p.ack_only": "הגיע רק אישור אוטומטי, {time} אחרי הפנייה.",
        "p.no_ack": "אפילו לא אישור אוטומטי.",
        "p.promise": "האישור הבטיח מענה (״{text}״): {status}.",
        "p.promise.kept": "ההבטחה קוימה",
        "p.promise.broken": "ההבטחה לא קוימה",
        "p.promise.open": "ההבטחה עדיין פתוחה",
        "p.junk": "המענה הגיע לתיקיית הספאם.",
        "p.good": "לטובה: {items}.",
        "p.all_good": "המענה עמד בכל קריטריוני האיכות.",
        "p.partly": "באופן חלקי: {items}.",
        "p.missing": "חסר: {items}.",
        "p.followed_up": "הם חזרו אלינו פעם נוספת ביוזמתם.",
        "p.no_human": "לא התקבל מענה אנושי תוך {deadline}.",
        "p.late": "מענה אנושי הגיע רק אחרי המועד האחרון, {time} אחרי הפנייה.",
        "p.pending": "עדיין אין מענה; המועד האחרון הוא {deadline}.",
        "p.not_reached": "לא ניתן היה לשלוח פנייה: {reason}.",
        "p.override": "הדירוג נקבע על ידי בודק.",
        "p.override_notes": "הדירוג נקבע על ידי בודק: {notes}.",
        "p.inconsistent": "{n} הפניות אליה הגיעו לדירוגים שונים; נקבע החציון.",
        "p.spread": "האיכות נעה בין {low} ל-{high}.",
        "flag.reviewed": "נבדק ידנית",
        "flag.inconsistent": "לא עקבי",
        "flag.late": "מענה באיחור",
        "flag.junk": "בספאם",
        "link.form": "הטופס",
        "link.confirmation": "האישור",
        "link.reply": "המענה",
        "method.audit": "הסקר",
        "method.wave": "גל",
        "method.wave_value": "גל {wave}: נשלחו {sent} פניות ל-{companies} חברות, {dates}",
        "method.dates.one": "ב-{date}",
        "method.dates.range": "בין {first} ל-{last}",
        "method.as_of": "נכון ל",
        "method.persona": "מי פנה",
        "method.persona_value": "{name}, דמות לקוח בדויה (טלפון {phone}), עם כתובת מענה ייחודית לכל פנייה",
        "method.deadline": "מועד אחרון",
        "method.deadline_value": "{deadline} אחרי כל פנייה; מענים מאוחרים יותר מסומנים כמאחרים ואינם "
        "משנים את הדירוג",
        "method.thresholds": "ספי הדירוג",
        "method.thresholds_value": "מהיר תוך {fast}, סביר תוך {reasonable} ({clock}); איכות של {good} "
        "לפחות לדירוג הטוב ביותר ו-{adequate} כדי להיחשב תשובה",
        "method.clock.wall": "זמן שעון",
        "method.clock.business": "שעות עבודה",
        "method.calendar": "שעות עבודה",
        "method.calendar_value": "{days}, {opens} עד {closes}, {zone}{holidays}",
        "method.holidays": "; ללא חגים רשמיים של {country}",
        "method.reply": "מה נחשב מענה",
        "method.reply_value": "רק מענה שכתב אדם: דוא״ל, או שיחת טלפון או מסרון שנרשמו ידנית. אישורים "
        "אוטומטיים, הודעות היעדרות ודיוור שיווקי אינם נחשבים.",
        "method.quantiles": "חציונים ואחוזונים",
        "method.quantiles_value": "לפי הדירוג הקרוב ביותר, על כל הפניות שנשלחו, כשהיעדר מענה נחשב כמאוחר "
        "לאין סוף: כשיותר ממחצית לא ענו, החציון הוא ״יותר מ-{deadline}״.",
        "method.staff": "שמות העובדים",
        "method.staff_value": "מוחלפים ב-[staff] בכל ציטוט.",
        "context.intro": "המודל הוא סקר TACK עבור TheMarker מ-2010: פנייה ל-41 חברות ישראליות דרך אתריהן; "
        "4 ענו מהר ובאדיבות, 14 ענו כראוי אך בקרירות, 3 אחרי יומיים עד חמישה ימים, וכ-20 לא ענו כלל.",
        "footer": "הופק ב-contact-audit בתאריך {date}. השעות לפי {zone}.",
    },
}


# Hebrew joins a one-letter preposition to the next word, with a hyphen only before a digit or a Latin
# letter: "יותר מ-7 ימים" but "יותר מיומיים". Templates write the hyphen; it is dropped before Hebrew.
_HEBREW_PREFIX = re.compile(r"(?<![\u05d0-\u05ea])([מלבש])-(?=[\u05d0-\u05ea])")


def phrase(lang: Lang, key: str, /, **values: object) -> str:
    """The phrase `key` filled with `values`; a plural phrase picks its form by `values["n"]`."""
    template = PHRASES[lang][key]
    if isinstance(template, tuple):
        template = template[0] if values.get("n") == 1 else template[1]
    text = template.format(**values)
    return _HEBREW_PREFIX.sub(r"\1", text) if lang == "he" else text


def direction(lang: Lang) -> str:
    return "rtl" if lang == "he" else "ltr"


@functools.cache
def _locale(lang: Lang) -> Locale:
    # Parsed once: Babel parses a locale name on every call otherwise, a third of a big report's time.
    return Locale.parse(lang)


def moment(value: datetime | None, lang: Lang, zone: str, *, style: str = "short") -> str:
    """A time in the audit's zone: 'short' (Sun 22 Nov, 10:02), 'table' (22 Nov, 10:02), 'long'
    (22 November 2026, 10:02) or 'date'. Long dates use the locale's own pattern ("22 בנובמבר 2026")."""
    if value is None:
        return ""
    tz, locale = ZoneInfo(zone), _locale(lang)
    if style in ("long", "date"):
        day = format_date(value.astimezone(tz), "long", locale=locale)
        return (
            day if style == "date" else f"{day}, {format_datetime(value, 'HH:mm', tzinfo=tz, locale=locale)}"
        )
    pattern = {"short": "EEE d MMM, HH:mm", "table": "d MMM, HH:mm"}[style]
    return format_datetime(value, pattern, tzinfo=tz, locale=locale)


_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@functools.cache
def _unit(amount: int, unit: _Unit, lang: Lang) -> str:
    """'33 min', '2 hr', 'יומיים': few distinct values in any report, so each is formatted once."""
    # A large threshold keeps Babel in the unit asked for, instead of rounding 150 minutes to "3 hours".
    return format_timedelta(
        timedelta(seconds=amount * _UNIT_SECONDS[unit]),
        granularity=unit,
        threshold=10**6,
        format="short",
        locale=_locale(lang),
    )


def duration(seconds: float, lang: Lang) -> str:
    """33 min; 2 hr 30 min; 2 days 4 hr: two units at most, because a board reads 'about 2 days'."""
    if math.isinf(seconds):
        raise ValueError("an infinite duration has no length; say 'never' or 'more than the deadline'")
    minutes = max(0, round(seconds / 60))
    if minutes < 60:
        return _unit(minutes, "minute", lang)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        text = _unit(hours, "hour", lang)
        return f"{text} {_unit(minutes, 'minute', lang)}" if minutes and hours < 10 else text
    days, hours = divmod(hours, 24)
    text = _unit(days, "day", lang)
    return f"{text} {_unit(hours, 'hour', lang)}" if hours and days < 5 else text


def percent(fraction: float | None, lang: Lang) -> str:
    """Whole percentages: a board does not need 48.7%, and 101 values are formatted once each."""
    if fraction is None:
        return phrase(lang, "not_available")
    return _whole_percent(round(fraction * 100), lang)


@functools.cache
def _whole_percent(value: int, lang: Lang) -> str:
    return format_percent(value / 100, "#,##0%", locale=_locale(lang))


def number(value: float, lang: Lang, pattern: str = "#,##0") -> str:
    return format_decimal(value, pattern, locale=_locale(lang))


def weekdays(days: tuple[str, ...], lang: Lang) -> str:
    """sun..thu as 'Sun–Thu' when consecutive, else a list."""
    names = get_day_names("abbreviated", locale=_locale(lang))
    # Babel numbers days from Monday = 0, the same as our tuple.
    indexes = [_WEEKDAYS.index(day) for day in days]
    labels = [names[index] for index in indexes]
    consecutive = all((b - a) % 7 == 1 for a, b in itertools.pairwise(indexes))
    if len(labels) > 2 and consecutive:
        return f"{labels[0]}–{labels[-1]}"
    return ", ".join(labels)
