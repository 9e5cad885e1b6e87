# ruff: noqa: E501 - word lists read best one family to a line; the long lines are regular expressions
"""The rubric's word lists, English and Hebrew: what a greeting, a closing, thanks, blame, a redirect or
warmth look like. Kept apart from the scoring (rubric.py) so a reviewer can read and extend them in one place;
each list is a tuple of words or regular-expression fragments, compiled once in rubric.py.

Hebrew writes prefixes onto the word (ו and, ה the, ש that, ל to, ב in, כ as, מ from, and runs of them: וב,
של, כש, מה, שב) and inflects by gender and number (אשמח, נשמח, ישמחו, שמחים). rubric.py puts the optional
prefixes before every entry that starts with a Hebrew letter (`HEBREW_PREFIX`); inflections are spelled once
per stem with `he()` (nouns, adjectives, participles) and `he_future()` (a future-tense verb in every person),
so a list names a stem, never every form. No Hebrew morphological analyser is packaged for Python without a
model download (the project runs offline), which is why these few rules are written here.
"""

from __future__ import annotations

from audit.collect.quotes import VALEDICTIONS

# Plain words are matched as words; the r"..." entries are regular expressions (case-insensitive).

HEBREW_PREFIXES = "והבכלמש"
HEBREW_PREFIX = rf"[{HEBREW_PREFIXES}]{{0,3}}"
_FINAL = {"ך": "כ", "ם": "מ", "ן": "נ", "ף": "פ", "ץ": "צ"}
_PLAIN = {plain: final for final, plain in _FINAL.items()}
# Endings of nouns, adjectives and participles: feminine, plural, possessive (ה ת ים ות י ית יות ך כם נו).
NOMINAL_ENDINGS = "ה|ת|ים|ות|י|ית|יים|יות|ך|כם|נו|ו|יך|ייך|כן"


def he(stem: str, endings: str = NOMINAL_ENDINGS) -> str:
    """A Hebrew stem with its inflected endings; a final letter (ך ם ן ף ץ) becomes the plain letter before an
    ending: he("מבין") matches מבין, מבינה, מבינים."""
    last = stem[-1]
    if last in _FINAL:
        return rf"{stem[:-1]}(?:{last}|{_FINAL[last]}(?:{endings}))(?![\u05d0-\u05ea])"
    if last in _PLAIN:
        # A stem written with the plain letter ("קיימ") still matches its bare word with the final one (קיים).
        return rf"{stem[:-1]}(?:{_PLAIN[last]}|{last}(?:{endings}))(?![\u05d0-\u05ea])"
    return rf"{stem}(?:{endings})?(?![\u05d0-\u05ea])"


def he_future(stem: str, short: str | None = None) -> str:
    """A future-tense verb in every person: he_future("שמח") matches אשמח, נשמח, תשמחי, ישמחו;
    `short` is the stem before ו/י endings when its vowel letter drops (he_future("חזור", "חזר"): יחזרו)."""
    plural = short or stem
    return rf"(?:[אנית]{stem}|[תי]{plural}(?:ו|י))(?![\u05d0-\u05ea])"


GLAD = rf"(?:{he_future('שמח')}|{he('שמח')})"  # glad, in every person, gender and number
TO_YOU = r"(?:אלי(?:י)?ך|אלייך|אליכם|אלי|איתך|אתך|לך|לכם|עמך)"

GREETING_WORDS = (
    "hi", "hello", "hey", "dear", "good morning", "good afternoon", "good evening", "good day", "greetings",
    "hiya", "howdy",
    "שלום", "היי", "הי", "בוקר טוב", "ערב טוב", "צהריים טובים", "לכבוד", "אהלן", "הלו", "שלום רב", "הייי",
)  # fmt: skip
GENERIC_GREETINGS = (
    r"dear\s+(?:valued\s+)?(?:customer|client|sir|madam|sir\s+or\s+madam|sir/madam|user|friend|member"
    r"|applicant|colleague)",
    r"to\s+whom\s+it\s+may\s+concern", r"(?:hi|hello)\s+there", r"dear\s+all",
    he("לקוח") + r"(?:/?ה)?\s+" + he("יקר") + r"(?:/?ה)?", r"פונ(?:ה|ים)(?:/ת)?\s+" + he("יקר") + r"(?:/?ה)?",
    r"לכבוד\s+ה?פונ(?:ה|ת)", r"שלום\s+רב", r"גולש/?ת?\s+יקר/?ה?",
)  # fmt: skip
# Sign-off lines beyond the mail valedictions (quotes.VALEDICTIONS): wishes and the informal register.
_NICE = r"(?:נעים|טוב|נפלא|מקסים|מוצלח|נהדר|קסום|שמח|מעולה|קל|רגוע)"
CLOSING_PATTERNS = (
    r"have\s+an?\s+(?:nice|great|good|lovely|wonderful|fantastic|excellent|pleasant|awesome)\s+"
    r"(?:day|evening|week|weekend|one)",
    r"(?:have\s+a\s+)?(?:good|nice)\s+(?:day|evening|weekend)", r"take\s+care", r"talk\s+soon",
    r"speak\s+soon", r"warmly", r"warm\s+wishes", r"all\s+the\s+best", r"yours", r"with\s+(?:best\s+)?wishes",
    r"(?:with\s+)?(?:best|kind|warm)(?:est)?\s+regards", r"looking\s+forward\s+to\s+(?:hearing\s+from\s+you|seeing\s+you)",
    rf"(?:המשך\s+)?(?:יום|ערב|שבוע|סוף\s+שבוע|סופ\"ש|סופ״ש|בוקר|לילה)\s+{_NICE}",
    r"שבת\s+שלום", r"חג\s+שמח", r"להתראות", r"ביי", r"בהצלחה", r"כל\s+טוב", r"לשירות(?:ך|כם|ך\s+תמיד)",
    r"בכיף", r"בשמחה", r"מקוו(?:ה|ים)\s+שעזר(?:תי|נו)", r"בברכה(?:\s+רבה)?", r"בברכת\s+\S+", r"בידידות",
    r"בהוקרה", r"בתודה(?:\s+מראש)?", r"שלך(?:\s+תמיד)?", r"שלכם",
    rf"{GLAD}\s+לראות(?:ך|כם)(?:\s+אצלנו)?", r"hope\s+to\s+see\s+you(?:\s+soon)?",
    rf"(?:ש)?יהיה\s+(?:לך|לכם)\s+(?:המשך\s+)?(?:יום|ערב|שבוע|סוף\s+שבוע|סופ\"ש|סופ״ש|בוקר|לילה|חג)\s+{_NICE}",
    r"(?:מחכ(?:ה|ים|ות)|ממתינ(?:ה|ים|ות))\s+ל(?:תשובת|תגובת)(?:ך|כם|ך\s+בקרוב)|(?:מחכ(?:ה|ים)|ממתינ(?:ה|ים))\s+לשמוע\s+(?:ממך|מכם)",
    r"looking\s+forward\s+to\s+(?:your\s+(?:reply|response|answer)|hearing\s+back)",
)  # fmt: skip
CLOSINGS = tuple(VALEDICTIONS)
THANKS = (
    r"thank(?:s|\s+you|ing\s+you)\b", r"we\s+appreciate", r"appreciate\s+(?:your|you)", r"grateful", r"\bthx\b",
    r"תודה", r"תודות", r"מוד(?:ה|ים|ות)\s+(?:לך|לכם|על)", r"מעריכ(?:ים|ה)\s+את", r"הוד(?:ה|תה|ו)\s+(?:לי|על)",
)  # fmt: skip
BLAME = (
    r"you\s+should\s+have", r"you\s+failed\s+to", r"you\s+did\s+not\s+read", r"you\s+didn't\s+read",
    r"it\s+is\s+your\s+responsibility", r"as\s+you\s+(?:would|could)\s+have\s+seen",
    r"as\s+(?:is\s+)?(?:clearly\s+)?(?:stated|mentioned|explained|written|shown|indicated)\s+(?:clearly\s+)?"
    r"(?:on|in)\s+(?:our|the)\b", r"as\s+(?:clearly\s+)?(?:stated|mentioned|explained)\s+(?:before|previously|above)",
    r"please\s+read\s+(?:the|our)\s+(?:faq|website|terms)\s+before",
    r"(?:is|are)\s+clearly\s+(?:stated|listed|written|explained)",
    r"היה\s+עליך", r"כפי\s+ש(?:כתוב|מופיע|צוין|מפורסם)(?:\s+בבירור)?\s+באתר", r"כפי\s+שכבר\s+צוין",
    r"באחריותך", r"לא\s+קראת", r"היית\s+צריכ(?:ה|ה\s+ל)", r"היה\s+עלייך", r"מופיע\s+בבירור",
)  # fmt: skip
TEMPLATE_FIELDS = (
    r"\{\{[^{}\n]{0,60}\}\}", r"\[[A-Z][A-Z_ ]{2,30}\]", r"%%?[A-Z][A-Z_]{2,30}%%?", r"<<[^<>\n]{1,40}>>",
    r"\$\{[^}\n]{1,40}\}", r"\{[A-Za-z][A-Za-z_ ]{1,30}\}", r"\[[\u05d0-\u05ea][\u05d0-\u05ea _/'\"׳״-]{1,30}\]",
    r"\{[\u05d0-\u05ea][^{}\n]{1,30}\}",
)  # fmt: skip
# A concrete next step offered or proposed: a call, a meeting, a form sent, a way to sign up, an offer asked.
NEXT_STEPS = (
    r"call\s+you", r"give\s+you\s+a\s+(?:call|ring)", r"ring\s+you", r"phone\s+you", r"get\s+you\s+started",
    r"(?:schedule|set\s+up|book|arrange)\s+(?:a\s+|an\s+)?(?:quick\s+|short\s+|free\s+)?"
    r"(?:call|meeting|demo|appointment|visit|consultation|chat)",
    r"I(?:'ll|\s+will|\s+can|\s+could|'d\s+be\s+happy\s+to|\s+would\s+be\s+happy\s+to)\s+(?:also\s+)?"
    r"(?:send|call|follow\s+up|email|e-mail|book|reserve|set|arrange|prepare|put|walk|help\s+you\s+(?:open|sign|apply|set))",
    r"we(?:'ll|\s+will|\s+can|\s+could|'d\s+be\s+happy\s+to)\s+(?:also\s+)?"
    r"(?:send|call|follow\s+up|email|book|reserve|arrange|prepare|set\s+up)",
    r"would\s+you\s+like\s+(?:me|us)\s+to", r"shall\s+(?:I|we)\b", r"should\s+I\s+(?:send|call|book)",
    r"do\s+you\s+want\s+(?:me|us)\s+to", r"want\s+me\s+to", r"if\s+you(?:'d|\s+would)\s+like,?\s+I",
    r"you\s+can\s+(?:also\s+)?(?:sign\s+up|apply|join|enrol+|register|open\s+(?:an\s+|your\s+)?account|start|book)"
    r"(?:\s+[\w-]+){0,4}?\s+(?:here|at|on|online|via|through|today|now|by\s+(?:phone|calling|visiting)|in\s+(?:about|just|under))\b",
    r"(?:sign\s+up|apply|join|enrol+|register|pre-?regist(?:er|ration))\s+(?:online\s+)?(?:here|at|on|via|through)",
    r"offered\s+to\s+(?:email|e-mail|send|call|book|arrange|set\s+up|schedule|mail|text|reserve)",
    r"(?:offered|proposed|suggested)\s+(?:a|an|to\s+(?:have|hold)\s+a)\s+(?:\w+\s+)?(?:meeting|call|call-?back|visit|appointment|consultation)",
    r"(?:fill\s+in|fill\s+out|complete)\s+(?:the|a|our)\s+(?:short\s+)?(?:pre-?registration|application)",
    r"(?:just\s+)?(?:reply|respond)\s+to\s+this\s+(?:email|e-mail|message)\s+(?:and|with)",
    r"(?:feel\s+free|you're\s+welcome|you\s+are\s+welcome)\s+to\s+(?:call|ring|phone|email|visit|drop\s+by|pop\s+in|come)",
    r"(?:call|ring|phone|email)\s+me\s+(?:directly|anytime|any\s+time|on|at)", r"drop\s+(?:by|in)",
    r"walk\s+in\s+(?:any|without)", r"no\s+appointment\s+(?:is\s+)?needed", r"let\s+me\s+know\s+(?:if|when|which)",
    r"אם\s+" + he_future("רצה", "רצ"), he_future("רצה", "רצ") + r"\s+ש", r"(?:את\s+)?רוצה\s+ש",
    rf"(?:{he_future('חזור', 'חזר')})\s+{TO_YOU}", rf"{he_future('שלח')}\s+{TO_YOU}",
    rf"(?:{he_future('תקשר')})\s+{TO_YOU}", he_future("תאם"), r"לתאם", he_future("קבע"),
    r"לקבוע\s+(?:שיחה|פגישה|תור)", r"(?:שיחת|פגישת)\s+(?:ייעוץ|היכרות)", r"פגישה",
    rf"{GLAD}\s+(?:לתאם|לשלוח|להתקשר|לחזור|לקבוע|לפגוש|להיפגש|לדבר|לשוחח|לארח|לעבור)",
    he_future("חשב") + r"\s+לך", he_future("כין") + r"\s+לך", r"הצעת\s+מחיר",
    r"מוזמנ(?:ת|ים|ות)?\s+(?:ל|גם\s+ל)(?:התקשר|פנות|הגיע|בקר|קפוץ|כתוב|שלוח|הצטרף)",
    r"(?:ניתן|אפשר)\s+(?:גם\s+)?(?:ל)?הצטרף", r"להצטרפות", r"(?:ניתן|אפשר)\s+(?:גם\s+)?(?:לקבוע|להגיע\s+(?:ללא|בלי))",
    r"הציע(?:ה)?\s+ל(?:שלוח|תאם|קבוע|חזור|התקשר|הזמין|שריין)", r"כתבי\s+לי", r"(?:התקשרי|חייגי)\s+(?:אליי|אלי)", r"(?:בלי|ללא)\s+(?:צורך\s+ב)?(?:תור|תיאום)",
)  # fmt: skip
# An alternative when the answer is no (rubric.py looks for these only after a "no").
ALTERNATIVES = (
    r"alternatively", r"another\s+option", r"we\s+(?:also|do)\s+(?:offer|have)", r"you\s+might\s+also",
    r"I\s+(?:would\s+)?recommend", r"I(?:'d|\s+would)\s+suggest", r"you\s+may\s+also\s+be\s+interested",
    r"instead", r"however", r"good\s+news", r"\bsplit\b", r"you\s+can\s+(?:still|instead|also)", r"but\s+(?:we|there|you|our)", r"the\s+(?:nearest|closest)", r"quarterly",
    r"annual(?:ly)?", r"\bonly\b", r"in\s+(?:installments|instalments)",
    r"אפשרות\s+נוספת", r"לחלופין", r"אנו\s+מציעים\s+גם", he("ממליצ"), r"ממליץ", r"מומלץ", r"עם\s+זאת",
    r"לעומת\s+זאת", r"במקום", r"אבל\s+(?:יש|ניתן|אפשר|קיים)", r"אך\s+(?:יש|ניתן|אפשר|קיים)",
    r"ייתכן\s+שיתאים", he("רבעונ"), he("שנת"), r"בלבד", r"(?:ה)?קרוב\s+ביותר", r"הקרוב\s+אלי", r"תשלומים",
)  # fmt: skip
REDIRECTS = (
    r"(?:please\s+)?(?:call|contact|phone|ring|email|write\s+to)\s+(?:our|the)\s+(?:[\w-]+\s+)?"
    r"(?:service|customer|call|support|sales|help|center|centre|team|department|branch|office|hotline|desk)",
    r"fill\s+(?:in|out)\s+(?:the|our|a)\s+(?:online\s+)?form", r"visit\s+(?:our|the)\s+(?:website|site|branch|faq)",
    r"submit\s+a\s+(?:ticket|request)", r"through\s+our\s+website", r"refer\s+to\s+our\s+(?:faq|website|site)",
    r"(?:see|check|find\s+it\s+on)\s+our\s+(?:website|site|faq)", r"(?:available|listed|found|can\s+be\s+found)\s+on\s+our\s+(?:website|site)",
    r"(?:please\s+)?visit\s+(?:us\s+at\s+)?(?:https?://|www\.)",
    r"(?:discover|explore|browse|find\s+out\s+more|learn\s+more|more\s+information)\b[^.\n]{0,60}"
    r"(?:at|on)\s+(?:our\s+(?:website|site)|www\.|https?://)",
    r"you\s+(?:can|will)\s+find\b[^.\n]{0,80}(?:website|site|online|locator|\bapp\b)",
    r"visit\s+(?:your|the|a)\s+(?:nearest|local|closest)\s+branch", r"(?:call|dial)\s+(?:us\s+(?:at|on)\s+)?\*?\d",
    r"(?:נא|יש|ניתן|אפשר|אנא)\s+(?:לפנות|להתקשר|לחייג|ליצור\s+קשר|לצור\s+קשר)", r"אנא\s+פנ(?:ה|י|ו)",
    # The imperative ("call the centre"); not the infinitive "להתקשר", not "call me" (אליי).
    r"(?<!ל)(?:פני|פנה|פנו|התקשרי|התקשר|התקשרו|חייגי|חייג|חייגו)\s+(?:ל|אל(?!יי?(?!\w))|ישירות\s+ל)", r"צרי\s+קשר",
    r"(?:ניתן|אפשר|יש|נא)\s+להשתמש\s+ב(?:אתר|אפליקציה|אפליקציית|יישומון|איתור)",
    r"(?:please\s+)?use\s+(?:our|the)\s+(?:[\w-]+\s+){0,3}(?:website|site|app|locator|online\s+form|portal)",
    r"יש\s+למלא\s+טופס", r"נא\s+למלא", r"באתר\s+האינטרנט\s+שלנו", r"דרך\s+האתר", r"להשאיר\s+(?:את\s+)?פרטים",
    r"(?:ת|נ)?מצא(?:י|ו)?\s+[^.\n]{0,40}באתר", r"(?:ניתן|אפשר)\s+למצוא\s+[^.\n]{0,40}באתר", r"עיינ?י\s+באתר",
    r"(?:ב|ל)מוקד\s+(?:ה)?(?:טלפוני|שירות|המכירות|מכירות|הלקוחות)", r"פרטים\s+(?:נוספים\s+)?ב(?:טלפון|מוקד)",
)  # fmt: skip
RE_ASKS = (
    r"(?:please|kindly)\s+(?:re-?send|send|provide|give|share|confirm|tell\s+us)\s+(?:us\s+|again\s+)?"
    r"(?:with\s+)?(?:your|the)\s+(?:full\s+)?"
    r"(?:phone|number|details|id|email|address|name|contact|mobile|customer|account)",
    r"could\s+you\s+(?:please\s+)?(?:send|provide|give|confirm|tell)\s+(?:us\s+|me\s+)?(?:again\s+)?your",
    r"(?:send|provide|give)\s+us\s+(?:again|once\s+more)", r"(?:re-?send|resend)\s+(?:us\s+)?your",
    r"(?:asked|requested)\s+(?:me\s+|her\s+)?(?:for\s+)?[^.\n]{0,60}\bagain\b",
    r"need\s+you\s+to\s+(?:confirm|send|provide|give|tell)\s+(?:us\s+)?your",
    r"(?:please\s+)?reply\s+with\s+(?:these|your|the\s+following)\s+details", r"confirm\s+your\s+(?:details|identity|full\s+name)",
    r"ביקש(?:ה)?\s+(?:ממני\s+)?(?:שוב|מחדש)", r"ביקש(?:ה)?\s+[^.\n]{0,40}(?:שוב|מחדש)",
    r"we\s+(?:will\s+)?need\s+your\s+(?:full\s+)?(?:name|phone|number|details|id|email)",
    r"(?:נא|אנא|נבקש|בקשה)\s+(?:ל)?(?:שלוח|שלחי|שלח|ציין|צייני|מסור|מסרי|השאיר|השאירי|העביר|העבירי|לקבל)\s+"
    r"(?:לנו\s+)?(?:שוב\s+|מחדש\s+)?(?:את\s+)?(?:מספר|פרטי|שמך|שם|ת\"ז|ת״ז|תעודת|הטלפון|כתובת)",
    r"(?:לשלוח|לשלחי|שלחי|שלח)\s+(?:לנו\s+)?(?:שוב|מחדש)", r"נבקש\s+לקבל\s+(?:את\s+)?(?:מספר|פרטי)",
)  # fmt: skip
LOGIN = (
    r"\blog\s?in\b", r"\bsign\s+in\b", r"\blogging\s+in\b", r"your\s+(?:personal|online)\s+(?:account|area)",
    r"(?:existing|current|registered)\s+customers\s+only", r"identify\s+yourself", r"your\s+account\s+number",
    r"ללקוחות\s+(?:קיימים|רשומים)\s+בלבד", r"הזדה(?:ות|י)", r"מספר\s+(?:ה)?חשבון\s+(?:שלך|שלכם)",
    r"האזור\s+האישי", r"איזור\s+אישי", r"להתחבר", r"התחבר(?:י|ו)?\b", r"התחברות", r"כניסה\s+ל(?:אזור|חשבון)",
)  # fmt: skip
# Pictographs and smileys, without the signature icons and bullets (☎ 📞 📱 ✉ 📧 ✓ ✔).
EMOJI = r"[\U0001F300-\U0001F4DC\U0001F4DF-\U0001F4E6\U0001F4E8-\U0001F4F0\U0001F4F2-\U0001FAFF\u2600-\u260d\u260f-\u2708\u270a-\u2712\u2715-\u27bf\u2b50]"
WARMTH = (
    r"(?:happy|glad|delighted|pleased|thrilled)\s+to\s+(?:help|assist|answer|hear|welcome|have|be|say|tell|let)",
    r"(?:I|we)(?:'d|\s+would)\s+be\s+(?:happy|glad|delighted|pleased)", r"(?:I|we)(?:'m|'re|\s+am|\s+are)\s+(?:so\s+)?(?:happy|glad|delighted)",
    r"we\s+understand", r"I\s+understand", r"I\s+(?:completely\s+|totally\s+)?get\s+(?:it|that)",
    r"sorry\s+(?:to\s+hear|for|about|that)", r"apologi[sz]e", r"hope\s+(?:this|that)\s+helps",
    r"don't\s+hesitate", r"do\s+not\s+hesitate", r"great\s+question", r"good\s+question", r"(?:my|our)\s+pleasure",
    r"delighted", r"we(?:'d|\s+would)\s+love", r"I(?:'d|\s+would)\s+love", r"welcome\s+aboard",
    r"(?:we'd|we\s+would)\s+be\s+thrilled", r"lovely\s+to\s+hear", r"great\s+to\s+hear", r"exciting",
    r"look(?:ing)?\s+forward\s+to\s+(?:welcoming|having|meeting|seeing|helping|working)", r"any\s*time!",
    r"it\s+was\s+(?:a\s+)?(?:pleasure|lovely)", r"no\s+worries", r"\bwoohoo\b", r"\bgladly\b", r"a\s+pleasure",
    r"(?:great|lovely|wonderful|nice)\s+to\s+(?:have|meet|see)\s+you", r"welcome\s+to\s+(?:\w+\s+)?\w+!",
    r"you(?:'re|\s+are)\s+(?:most\s+)?welcome\s+to", r"anything\s+else\s+I\s+can\s+(?:do|help)",
    r"hope\s+to\s+see\s+you", r"would\s+(?:be\s+)?(?:love|great|lovely)\s+to",
    rf"{GLAD}", r"בשמחה", r"בכיף", r"כיף", r"מבינ(?:ים|ה|ות)", r"מבין\s+(?:את|ש|לגמרי)", he("מצטער"),
    he("מתנצל"), r"מקוו(?:ה|ים)\s+ש", r"אל\s+" + he_future("הסס"), r"ברוכ(?:ה|ים)\s+הבא(?:ה|ים)",
    r"שאלה\s+(?:מצוינת|מעולה|טובה)", r"יופי\s+של", r"תענוג", r"בהנאה", r"באהבה", r"אין\s+בעיה", r"בכייף",
    r"מחכ(?:ים|ה)\s+ל(?:ראות|שמוע)", r"נהדר", r"מעולה!", EMOJI,
)  # fmt: skip
# Words a person logging a phone call writes about how it went (the note is all we have of a call).
NOTE_POLITE = (r"\bpolite", r"courteous", r"friendly", r"\bkind\b", r"אדיב", r"נחמד", r"מנומס")
NOTE_WARM = (r"\bwarm", r"helpful", r"caring", r"חם\b", r"חמה", r"נעים", r"נעימה", r"אכפתי", r"סבלני")
NOTE_BY_NAME = (
    r"by\s+(?:my|her|his)?\s*name",
    r"used\s+(?:my|her)\s+name",
    r"בשמי",
    r"בשמה",
    r"(?:greeted|addressed|called)\s+(?:me|her)\s+Dana",
)
NOTE_THANKS = (r"thanked", r"said\s+thanks", r"הוד(?:ה|תה|ו)\b", r"אמר(?:ה)?\s+תודה")
NOTE_GREETED = (
    r"greeted", r"said\s+(?:hello|hi)", r"introduced", r"(?:by|used)\s+my\s+name", r"הציג(?:ה)?\s+את\s+עצמ",
    r"ברכ(?:ה)?\s+(?:אותי\s+)?לשלום", r"פנ(?:ה|תה)\s+(?:אליי|אלי)", r"בשמי", r"אמר(?:ה)?\s+(?:\"|״)?(?:שלום|היי)",
)  # fmt: skip
NOTE_CLOSED = (
    r"said\s+(?:goodbye|bye)", r"wished\s+me", r"ended\s+(?:the\s+call\s+)?with", r"נפרד(?:ה)?", r"איחל(?:ה)?",
    r"סיי(?:ם|מה)\s+ב", r"(?:\"|״)(?:יום\s+טוב|ביי|להתראות)",
)  # fmt: skip
# Words in a note that undo what follows ("did not thank", "לא הודה"), read within a few words before it.
NOTE_NEGATIONS = r"(?:\bno\b|\bnot\b|n't\b|\bnever\b|\bwithout\b|לא|בלי|ללא|אף)"
# An explicit answer: yes or no in words. Bare yes/no words start a sentence (rubric.py); the rest may stand
# anywhere in a sentence that names what was asked about.
YES_NO = (
    r"yes", r"no", r"yep", r"yeah", r"nope", r"sure", r"of\s+course", r"certainly", r"absolutely", r"definitely",
    r"indeed", r"correct", r"unfortunately", r"sadly", r"regrettably", r"we\s+sure\s+do", r"we\s+do",
    r"we\s+don't", r"we\s+do\s+not", r"there\s+is", r"there\s+isn't", r"there\s+is\s+no",
    r"כן", r"לא", r"בהחלט", r"אכן", r"לצערנו", r"לצערי", r"בוודאי", r"ודאי", r"כמובן", r"בטח", r"נכון",
    r"יש", r"אין", r"בוודאות", r"חד\s+משמעית",
)  # fmt: skip
# Statements of what exists or not; they answer a yes/no part in a sentence naming what was asked about.
AVAILABILITY = (
    r"(?:is|are)\s+(?:not\s+)?available", r"in\s+stock", r"out\s+of\s+stock", r"we\s+(?:also\s+)?offer",
    r"we\s+(?:do(?:\s+not)?|don't|no\s+longer|currently|also)?\s*(?:offer|have|has|sell|provide|run|operate)",
    r"(?:there\s+is|there's|there\s+are)\s+(?:no\s+|not\s+|indeed\s+)?(?:a|an|one|our|two)?",
    r"it\s+is\s+(?:not\s+)?possible", r"(?:is|are)\s+located",
    r"(?:offers?|provides?|has|have|sells?|runs|operates?|opened|maintains?)\s+(?:a|an|two|three|several|one|our|its|monthly|the)\b",
    r"can\s+be\s+(?:paid|bought|purchased|opened|arranged|spread|split|billed|charged)", r"(?:pay|paying|billed|charged)\s+monthly", r"(?:is|are)\s+(?:at|on)\s+\d",
    r"(?:it|this|the\s+\w+(?:\s+\w+)?)\s+(?:costs?|is\s+priced|comes\s+to|runs)", r"confirm(?:ed|s)?",
    r"(?:is|are)\s+open", r"closed\s+(?:down|permanently)",
    he("זמינ"), r"במלאי", r"אפשרי", r"(?:לא\s+)?ניתן", r"(?:אנו|אנחנו)\s+(?:לא\s+)?מציעים", he("קיימ"),
    r"(?:ו|ש|כש)?יש(?!\s+ל(?!נו\b|כם\b))", r"(?:ו|ש|כש)?אין", r"נמצא(?:ת)?", r"ממוקמ(?:ת|ים)?", r"פועל(?:ת)?",
    r"עול(?:ה|ות)", r"מחיר(?:ה|ו)?", r"עלות(?:ה|ו)?", he("מציע"), r"אישר(?:ה)?", r"מאשר(?:ים|ת)?", r"נסגר(?:ה)?",
)  # fmt: skip
# A clear "no" about what was asked (the rest of the inquiry is then moot): a bare "no" opening a sentence,
# or one of these in a sentence naming the product.
NEGATIVE_WORDS = (r"no", r"nope", r"unfortunately\s+not", r"sadly\s+not", r"not\s+at\s+the\s+moment", r"לא")
NEGATIVES = (
    r"(?:do\s+not|don't|does\s+not|doesn't|no\s+longer|cannot|can't)\s+(?:currently\s+|yet\s+)?"
    r"(?:have|offer|sell|provide|run|operate|support|exist)",
    r"we\s+have\s+no", r"there\s+(?:is|are)\s+no", r"there\s+isn't", r"there\s+aren't",
    r"(?:is|are)\s+(?:not|no\s+longer)\s+(?:available|offered|possible)", r"(?:isn't|aren't)\s+(?:available|offered)",
    r"doesn't\s+exist", r"does\s+not\s+exist", r"(?:has|was)\s+(?:been\s+)?closed", r"no\s+such",
    r"(?:ו|ש|כש)?אין(?:\s+(?:לנו|אצלנו|כרגע|בשלב\s+זה))?", r"לא\s+" + he("קיימ"), r"(?:אנו|אנחנו)?\s*לא\s+" + he("מציע"),
    r"איננו\s+" + he("מציע"), r"אינ(?:ה|ו|ם|ן)\s+" + he("קיימ"), r"כבר\s+לא", r"נסגר(?:ה)?", r"לצערנו\s+לא",
)  # fmt: skip
# Number words, for prices said in words ("forty-nine dollars", "מאה שקלים").
NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand",
    r"אחד|אחת|שתיים|שניים|שני|שתי|שלוש|שלושה|ארבע|ארבעה|חמש|חמישה|שש|שישה|שבע|שבעה|שמונה|תשע|תשעה|עשר"
    r"|עשרה|עשרים|שלושים|ארבעים|חמישים|שישים|שבעים|שמונים|תשעים|מאה|מאתיים|מאות|אלף|אלפיים|אלפים",
)  # fmt: skip
CURRENCY_WORDS = (
    r"₪", r"ש\"ח", r"ש״ח", r"ש''ח", r"ש'ח", r"שח", r"שקל(?:ים)?", r"NIS", r"ILS", r"USD", r"EUR",
    r"GBP", r"dollars?", r"euros?", r"shekels?", r"bucks",
)  # fmt: skip
# Words that make a signature line a role, a team or a company rather than a person's name.
STAFF_STOP_WORDS = frozenset(
    (  # noqa: SIM905 - a word list reads better as text
        "team support service services customer customers care sales department dept office desk center "
        "centre manager representative rep agent advisor adviser specialist officer group ltd inc llc co "
        "company the of and insurance bank mobile management help helpdesk info contact us our your dear hi "
        "hello thanks thank regards best kind sincerely cheers client clients relations head director "
        "coordinator assistant operations marketing reception admin administrator account accounts billing "
        "technical tech online digital business branch hq headquarters sent from click tap see read look "
        "email phone tel fax www mr mrs ms dr miss greetings good morning afternoon evening day warm many "
        "all yours truly faithfully respectfully wishes again she he they someone somebody nobody it we "
        "take care talk soon warmly hope cheers have nice great lovely wonderful thank you please note "
        "notifications noreply no-reply reply system automated ticket request desk hotline line "
        "צוות שירות שרות לקוחות מחלקת מחלקה מוקד מכירות נציג נציגה נציגת נציגי מנהל מנהלת מנהלי רכז רכזת "
        'יועץ יועצת אחראי אחראית תמיכה טכנית בע"מ בע״מ חברת חברה סניף משרד מרכז קשרי תפעול שיווק הנהלה '
        "לשכת דסק פניות ציבור בברכה תודה שלום ביטוח בנק אגף דוברות קבלה מזכירות ראש סגן סגנית טלפון נייד "
        "פקס מייל אתר כתובת רחוב יום נעים טוב בכבוד רב לכבוד רבה בתודה ערב בוקר שבוע שבת שלך שלכם המשך "
        "הוא היא הם מישהו מישהי לא כבר בכיף בשמחה בהצלחה להתראות ביי מקווה שעזרתי נפלא מקסים נהדר מוצלח "
        "אשמח נשמח שמחים לעזור לשירותך לשירותכם כל מערכת הפניות פנייה פניה אוטומטית מענה גבייה חשבונות "
        'יועצי סוכן סוכנת מורשה מורשית עו"ד עו״ד רו"ח רו״ח ד"ר ד״ר שלוחה טל טל\' מוקדן מוקדנית מייל: '
        "היי הי אהלן רבה! כן אין יש גם עוד לך לכם אותך עם על אל של זה זו נתראה מחכים מחכה מוזמנת מוזמן "
        "yes no sure ok okay absolutely certainly indeed unfortunately sadly of course definitely yep nope "
        "welcome good news"
    ).split()
)
