"""The rubric's word lists, English and Hebrew: what a greeting, a closing, thanks, blame, a redirect or
warmth look like. Kept apart from the scoring (rubric.py) so a reviewer can read and extend them in one place;
each list is a tuple of words or regular-expression fragments, compiled once in rubric.py.
"""

from __future__ import annotations

from audit.collect.quotes import VALEDICTIONS

# Plain words are matched as words; the r"..." entries are regular expressions (case-insensitive).

GREETING_WORDS = (
    "hi", "hello", "hey", "dear", "good morning", "good afternoon", "good evening", "good day", "greetings",
    "שלום", "היי", "הי", "בוקר טוב", "ערב טוב", "צהריים טובים", "לכבוד", "אהלן", "הלו",
)  # fmt: skip
GENERIC_GREETINGS = (
    r"dear\s+(?:valued\s+)?(?:customer|client|sir|madam|sir\s+or\s+madam|sir/madam|user|friend|member)",
    r"to\s+whom\s+it\s+may\s+concern",
    r"(?:hi|hello)\s+there",
    r"לקוח/?ה?\s+יקר/?ה?", r"לקוחה\s+יקרה", r"לקוחות\s+יקרים", r"פונה\s+יקר/?ה?", r"שלום\s+רב",
    r"גולש/?ת?\s+יקר/?ה?",
)  # fmt: skip
CLOSINGS = (
    *VALEDICTIONS, "have a nice day", "have a great day", "have a good day", "have a lovely day",
    "יום נעים", "יום טוב", "המשך יום נעים", "המשך יום טוב", "שבוע טוב", "שבת שלום", "ערב נעים", "להתראות",
)  # fmt: skip
THANKS = (
    r"thank(?:s|\s+you)\b", r"we\s+appreciate", r"appreciate\s+your", r"grateful",
    r"תודה", r"מודים", r"מודה\s+לך", r"מעריכים\s+את",
)  # fmt: skip
BLAME = (
    r"you\s+should\s+have", r"you\s+failed\s+to", r"you\s+did\s+not\s+read",
    r"it\s+is\s+your\s+responsibility",
    r"as\s+(?:clearly\s+)?(?:stated|mentioned|explained)\s+(?:on\s+our\s+website|before|previously|above)",
    r"היה\s+עליך", r"כפי\s+שכתוב\s+באתר", r"כפי\s+שכבר\s+צוין", r"באחריותך", r"לא\s+קראת",
)  # fmt: skip
TEMPLATE_FIELDS = (
    r"\{\{[^{}\n]{0,60}\}\}", r"\[[A-Z][A-Z_ ]{2,30}\]", r"%[A-Z][A-Z_]{2,30}%", r"<<[^<>\n]{1,40}>>",
    r"\$\{[^}\n]{1,40}\}", r"\{(?:first_?name|last_?name|name|company|customer)\}",
)  # fmt: skip
NEXT_STEPS = (
    r"call\s+you", r"give\s+you\s+a\s+call", r"\bmeet(?:ing)?\b", r"reply\s+to\s+this\s+(?:email|message)",
    r"(?:schedule|set\s+up|book|arrange)\s+(?:a\s+)?(?:call|meeting|demo|appointment|visit)",
    r"I(?:'ll|\s+will)\s+(?:send|call|follow\s+up)", r"let\s+me\s+know\s+(?:if|when|which)",
    r"אשמח\s+לתאם", r"נתאם", r"לתאם\s+(?:שיחה|פגישה)", r"פגישה", r"אתקשר", r"אשמח\s+לדבר", r"אפשר\s+לקבוע",
    r"אשלח\s+לך", r"נשלח\s+לך",
)  # fmt: skip
ALTERNATIVES = (
    r"alternatively", r"another\s+option", r"we\s+also\s+(?:offer|have)", r"you\s+might\s+also",
    r"I\s+(?:would\s+)?recommend", r"I(?:'d|\s+would)\s+suggest", r"you\s+may\s+also\s+be\s+interested",
    r"\bbranch\b", r"attached",
    r"אפשרות\s+נוספת", r"לחלופין", r"אנו\s+מציעים\s+גם", r"ממליצ(?:ה|ים)?", r"ממליץ", r"מומלץ", r"סניף",
    r"ייתכן\s+שיתאים", r"מצרפ(?:ת|ים)?", r"מצורפ(?:ת|ים)?",
)  # fmt: skip
REDIRECTS = (
    r"(?:please\s+)?(?:call|contact|phone|ring)\s+(?:our|the)\s+(?:service|customer|call|support|sales|help)",
    r"fill\s+(?:in|out)\s+(?:the|our|a)\s+(?:online\s+)?form", r"visit\s+our\s+(?:website|site|branch|faq)",
    r"submit\s+a\s+(?:ticket|request)", r"through\s+our\s+website", r"refer\s+to\s+our\s+faq",
    r"נא\s+לפנות\s+ל", r"יש\s+לפנות\s+ל", r"אנא\s+פנ(?:ה|י)", r"ניתן\s+לפנות\s+ל", r"למוקד",
    r"יש\s+למלא\s+טופס", r"נא\s+למלא", r"באתר\s+האינטרנט\s+שלנו", r"דרך\s+האתר",
)  # fmt: skip
RE_ASKS = (
    r"(?:please|kindly)\s+(?:send|provide|give|share)\s+(?:us\s+)?(?:your|the)\s+"
    r"(?:phone|number|details|id|email|address|full\s+name)",
    r"could\s+you\s+(?:send|provide|give)\s+(?:us\s+)?your",
    r"נא\s+לשלוח\s+(?:את\s+)?(?:מספר|פרטי|ת\"ז|ת״ז)",
    r"אנא\s+של(?:ח|חי)\s+(?:לנו\s+)?(?:את\s+)?(?:מספר|פרטי)",
    r"נבקש\s+לקבל\s+(?:את\s+)?(?:מספר|פרטי)", r"נא\s+לציין\s+(?:את\s+)?(?:מספר|פרטי)",
)  # fmt: skip
LOGIN = (
    r"\blog\s?in\b", r"\bsign\s+in\b", r"your\s+(?:personal\s+)?account",
    r"האזור\s+האישי", r"להתחבר", r"התחבר(?:י|ו)?\b",
)  # fmt: skip
WARMTH = (
    r"happy\s+to\s+(?:help|assist)", r"glad\s+to\s+(?:help|assist)", r"we\s+understand", r"I\s+understand",
    r"sorry\s+(?:to\s+hear|for)", r"apologi[sz]e", r"hope\s+(?:this|that)\s+helps", r"don't\s+hesitate",
    r"do\s+not\s+hesitate", r"feel\s+free", r"great\s+question", r"(?:my|our)\s+pleasure", r"delighted",
    r"we(?:'d|\s+would)\s+love",
    r"נשמח\s+(?:לעזור|לסייע)", r"אשמח\s+(?:לעזור|לסייע)", r"בשמחה", r"מבינ(?:ים|ה)", r"מבין\s+את",
    r"מצטערי?ם?", r"מתנצלי?ם?", r"מקוו(?:ה|ים)\s+ש", r"אל\s+תהסס(?:י|ו)?", r"בכל\s+שאלה", r"לשירות(?:ך|כם)",
    r"שמחים",
)  # fmt: skip
# Words a person logging a phone call writes about how it went (the note is all we have of a call).
NOTE_POLITE = (r"\bpolite", r"courteous", r"friendly", r"\bkind\b", r"אדיב", r"נחמד", r"מנומס")
NOTE_WARM = (r"\bwarm", r"helpful", r"caring", r"חם\b", r"חמה", r"נעים", r"נעימה", r"אכפתי")
YES_NO = (
    r"yes", r"no", r"yep", r"nope", r"we\s+do", r"we\s+don't", r"we\s+do\s+not", r"unfortunately",
    r"of\s+course", r"certainly", r"absolutely", r"sure",
    r"כן", r"לא", r"בהחלט", r"אכן", r"לצערנו", r"בוודאי", r"יש\s+לנו", r"אין\s+לנו", r"בטח",
)  # fmt: skip
AVAILABILITY = (
    r"(?:is|are)\s+(?:not\s+)?available", r"in\s+stock", r"out\s+of\s+stock", r"we\s+offer",
    r"we\s+(?:do(?:\s+not)?|don't)\s+(?:offer|have|sell|provide)", r"it\s+is\s+(?:not\s+)?possible",
    r"you\s+can(?:not|'t)?\b",
    r"זמינ(?:ה|ים|ות)?", r"במלאי", r"אפשרי", r"(?:לא\s+)?ניתן", r"אנו\s+מציעים", r"אנחנו\s+מציעים",
    r"קיימ(?:ת|ים)?",
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
        "צוות שירות שרות לקוחות מחלקת מחלקה מוקד מכירות נציג נציגה נציגת נציגי מנהל מנהלת מנהלי רכז רכזת "
        'יועץ יועצת אחראי אחראית תמיכה טכנית בע"מ בע״מ חברת חברה סניף משרד מרכז קשרי תפעול שיווק הנהלה '
        "לשכת דסק פניות ציבור בברכה תודה שלום ביטוח בנק אגף דוברות קבלה מזכירות ראש סגן סגנית טלפון נייד "
        "פקס מייל אתר כתובת רחוב יום נעים טוב בכבוד רב לכבוד רבה בתודה ערב בוקר שבוע שבת שלך שלכם המשך "
        "הוא היא הם מישהו מישהי לא כבר"
    ).split()
)
HEBREW_PREFIXES = "והבכלמש"
