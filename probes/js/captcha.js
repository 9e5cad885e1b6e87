// Bot protection in this frame, before anything is filled (docs/probing.md, "CAPTCHAs and bot challenges"). Detect only; never
// touch, solve or call a widget. Returns a list of {kind, signal, blocking, weak}:
//   blocking  an interactive or possibly interactive challenge: nothing may be sent;
//   !blocking a score-only check (reCAPTCHA v3, non-interactive Turnstile): recorded, the form is sent;
//   weak      a generic hint (an attribute or class naming a captcha) that a score-only finding outranks;
//   kind "challenge" is an interstitial bot-challenge page (Cloudflare, AWS WAF, Akamai, ...).
// A placeholder counts on its own: widget scripts are often blocked, slow or not yet loaded, and the page
// then shows the challenge the moment they arrive. args.scope (a selector) limits the field heuristics to
// the located form; the vendor markers are looked for in the whole frame.
const found = [];
const add = (kind, signal, blocking, weak) => {
  if (!found.some((f) => f.kind === kind && f.signal === signal)) {
    found.push({ kind, signal: String(signal).slice(0, 200), blocking: !!blocking, weak: !!weak });
  }
};
const all = (s, root) => { try { return [...(root || document).querySelectorAll(s)]; } catch (e) { return []; } };
const short = (url) => { try { const u = new URL(url, location.href); return u.host + u.pathname; } catch (e) { return url; } };

// Every URL the frame refers to or fetched: scripts, iframes (lazy data-src too), and the resource timing
// entries, which keep script loads that failed or whose tag was removed again (@hcaptcha/react-hcaptcha
// removes its script tag after loading).
const urls = [
  ...all("script[src]").map((s) => s.src),
  ...all("iframe").map((f) => f.src || f.getAttribute("data-src") || ""),
  ...performance.getEntriesByType("resource").map((e) => e.name),
].filter(Boolean);
const url = (re) => urls.find((u) => re.test(u));
// Inline script text, capped: it carries grecaptcha.execute('KEY'...), initGeetest(...), KROT.setup(...).
const inline = all("script:not([src])").slice(0, 80).map((s) => (s.textContent || "").slice(0, 20000)).join("\n");

// --- reCAPTCHA ---------------------------------------------------------------------------------------
const enterprise = !!url(/\/recaptcha\/enterprise(\.js|\/)/);
const v2kind = enterprise ? "recaptcha-enterprise" : "recaptcha-v2";
const v3kind = enterprise ? "recaptcha_enterprise" : "recaptcha_v3";
const renderKey = url(/\/recaptcha\/(api|enterprise)\.js\?(?:[^#]*&)?render=(?!explicit\b|onload\b)[\w-]{10,}/);
const executeKey = /grecaptcha(\.enterprise)?\.execute\(\s*['"`][\w-]{10,}['"`]\s*,\s*\{\s*action/.exec(inline);
const v3 = renderKey || executeKey;
if (renderKey) add(v3kind, "script " + short(renderKey) + "?render=<site key>", false);
if (executeKey) add(v3kind, "inline script " + executeKey[0].slice(0, 40), false);
const inBadge = (el) => !!el.closest(".grecaptcha-badge");
for (const el of all(".g-recaptcha")) {
  if (inBadge(el)) continue;
  const size = (el.getAttribute("data-size") || "").toLowerCase();
  const tag = el.tagName.toLowerCase();
  if (tag === "button" || tag === "input") {
    // Google's "bind the challenge to a button": with data-action it is v3 (developers.google.com/recaptcha
    // docs/v3), without it is invisible v2, whose challenge pops up on the click.
    if (el.hasAttribute("data-action")) add(v3kind, `${tag}.g-recaptcha[data-action]`, false);
    else add(v2kind + "-invisible", `${tag}.g-recaptcha[data-sitekey] (invisible v2 bound to the button)`, true);
  } else if (size === "invisible") {
    add(v2kind + "-invisible", "div.g-recaptcha[data-size=invisible]", true);
  } else {
    add(v2kind, el.hasAttribute("data-sitekey") ? "div.g-recaptcha[data-sitekey]" : "div.g-recaptcha", true);
  }
}
for (const el of all("textarea[name=g-recaptcha-response]")) {
  if (!inBadge(el)) add(v2kind, "textarea[name=g-recaptcha-response]", true);
}
for (const u of urls.filter((x) => /\/recaptcha\/(api2|enterprise)\/anchor/.test(x))) {
  if (!/[?&]size=invisible/.test(u)) add(v2kind, "iframe " + short(u), true);
  else if (!v3) add(v2kind + "-invisible", "iframe " + short(u) + "?size=invisible", true);
}
if (all(".grecaptcha-badge").length && !v3) add(v2kind + "-invisible", "div.grecaptcha-badge without a v3 key", true);
const explicit = url(/\/recaptcha\/(api|enterprise)\.js\?(?:[^#]*&)?render=explicit/);
// render=explicit is the v2 API for widgets drawn by code (react-google-recaptcha, vue-recaptcha).
if (explicit) add(v2kind, "script " + short(explicit) + "?render=explicit", true);
if (/grecaptcha(\.enterprise)?\.render\(/.test(inline)) add(v2kind, "inline script grecaptcha.render(", true);
const plainApi = url(/(google\.com|recaptcha\.net)\/recaptcha\/(api|enterprise)\.js/);
if (plainApi && !v3 && !found.some((f) => f.kind.startsWith("recaptcha"))) {
  add("recaptcha", "script " + short(plainApi), true);
}
// Hosting platforms whose reCAPTCHA is a placeholder until their own script swaps it in.
for (const el of all("[data-netlify-recaptcha], [netlify-recaptcha]")) {
  const attr = el.hasAttribute("data-netlify-recaptcha") ? "data-netlify-recaptcha" : "netlify-recaptcha";
  if ((el.getAttribute(attr) || "true").toLowerCase() !== "false") add("recaptcha-v2", `${el.tagName.toLowerCase()}[${attr}] (Netlify)`, true);
}
for (const el of all(".w-form-formrecaptcha")) add("recaptcha-v2", "div.w-form-formrecaptcha (Webflow)", true);
for (const el of all(".hs_recaptcha, .hs-recaptcha")) add("recaptcha-v2-invisible", "div.hs_recaptcha (HubSpot)", true);

// --- hCaptcha (invisible hCaptcha still pops a challenge) -------------------------------------------------
for (const el of all(".h-captcha")) {
  const size = (el.getAttribute("data-size") || "").toLowerCase();
  add(size === "invisible" ? "hcaptcha-invisible" : "hcaptcha", `${el.tagName.toLowerCase()}.h-captcha` + (size ? `[data-size=${size}]` : "[data-sitekey]"), true);
}
if (all("[name=h-captcha-response]").length) add("hcaptcha", "[name=h-captcha-response]", true);
const hc = url(/(^|\/\/|\.)hcaptcha\.com\//);
if (hc) add("hcaptcha", "script or frame " + short(hc), true);

// --- Cloudflare Turnstile: interaction-only / execute / invisible widgets are score-only -----------------
const quiet = (el) => {
  const a = (n) => (el.getAttribute(n) || "").toLowerCase();
  if (["interaction-only", "execute"].includes(a("data-appearance"))) return `[data-appearance=${a("data-appearance")}]`;
  if (a("data-execution") === "execute") return "[data-execution=execute]";
  if (a("data-size") === "invisible") return "[data-size=invisible]";
  // @marsidev/react-turnstile sizes its container 0x0 for invisible/execute widgets (dist/index.js).
  const st = el.style;
  if (st && (st.display === "none" || (parseFloat(st.width) === 0 && parseFloat(st.height) === 0))) return "[style=0x0]";
  return null;
};
const turnstileBoxes = all(".cf-turnstile, div#cf-turnstile");
for (const el of turnstileBoxes) {
  const sel = el.classList.contains("cf-turnstile") ? "div.cf-turnstile" : "div#cf-turnstile";
  const why = quiet(el);
  if (why) add("turnstile", sel + why, false);
  else add("turnstile", sel + (el.hasAttribute("data-sitekey") ? "[data-sitekey]" : ""), true);
}
const ts = url(/challenges\.cloudflare\.com\/turnstile\//);
if (ts && !turnstileBoxes.length) {
  // A widget drawn by code into a container we cannot recognise: its mode is unknown, so assume a checkbox.
  add("turnstile", "script " + short(ts) + " (widget options unknown)", true);
}
if (all("[name=cf-turnstile-response]").length && !turnstileBoxes.length) add("turnstile", "[name=cf-turnstile-response]", true);

// --- the other widgets ---------------------------------------------------------------------------------
const frc = all(".frc-captcha, .frc-widget, .frc-widget-placeholder, [name=frc-captcha-solution], [name=frc-captcha-response]");
if (frc.length) add("friendly-captcha", (frc[0].className ? "." + String(frc[0].className).split(/\s+/)[0] : `[name=${frc[0].getAttribute("name")}]`), true);
const frcUrl = url(/friendlycaptcha|friendly-challenge|frcapi\.com/);
if (frcUrl) add("friendly-captcha", "script or frame " + short(frcUrl), true);
const gt = url(/geetest\.com\//);
if (gt) add("geetest", "script " + short(gt), true);
if (all("[class*=geetest_]").length) add("geetest", "[class*=geetest_]", true);
if (/\binitGeetest4?\s*\(/.test(inline)) add("geetest", "inline script initGeetest(", true);
const ark = url(/arkoselabs\.com|funcaptcha\.com|arkoselabs\.cn/);
if (ark) add("arkose", "script or frame " + short(ark), true);
if (all("#FunCaptcha, [id^=arkose i], [data-pkey]").length) add("arkose", "#FunCaptcha / [data-pkey]", true);
if (all("[data-mcaptcha_url], #mcaptcha__widget-container, [name=mcaptcha__token]").length) add("mcaptcha", "[data-mcaptcha_url] / #mcaptcha__widget-container", true);
const mc = url(/mcaptcha/i);
if (mc) add("mcaptcha", "script " + short(mc), true);
if (all("altcha-widget, [name=altcha]").length) add("altcha", "altcha-widget", true);
const al = url(/altcha/i);
if (al) add("altcha", "script " + short(al), true);
const eu = url(/captcha\.eu\/|captcha\.at\//);
if (eu) add("captcha-eu", "script " + short(eu), true);
if (/\bKROT\.(setup|interceptForm|getSolution)\s*\(/.test(inline) || all(".captcha-eu-widget, [name=captcha_at_solution]").length) {
  add("captcha-eu", "KROT.setup( / captcha_at_solution", true);
}
const awsCaptcha = url(/captcha-sdk\.awswaf\.com|awswaf\.com\/[^?#]*\/jsapi\.js/);
if (awsCaptcha || /AwsWafCaptcha\.renderCaptcha\s*\(/.test(inline)) add("aws-waf-captcha", "script " + (awsCaptcha ? short(awsCaptcha) : "AwsWafCaptcha.renderCaptcha("), true);

// --- interstitial challenge pages ------------------------------------------------------------------------
const title = squash(document.title).toLowerCase();
const bodyText = document.body ? squash(document.body.innerText || "").slice(0, 3000) : "";
// Cloudflare adds /cdn-cgi/challenge-platform/scripts/jsd/ (bot detection) to ordinary pages too; the challenge
// page loads .../h/<x>/orchestrate/... instead.
const CF_CHL = /\/cdn-cgi\/challenge-platform\/(?!scripts\/jsd\/)/;
const cf = url(CF_CHL) || (CF_CHL.test(inline) && "inline /cdn-cgi/challenge-platform/");
if (cf) add("challenge", "Cloudflare: " + (cf.startsWith("inline") ? cf : short(cf)), true);
if (/_cf_chl_opt|__cf_chl_/.test(inline) || all("#challenge-form[action*=__cf_chl], #cf-challenge-running, #challenge-running").length) add("challenge", "Cloudflare: cf-chl", true);
if (title.startsWith("just a moment")) add("challenge", `Cloudflare: title "${document.title.trim()}"`, true);
if (title.startsWith("attention required") && title.includes("cloudflare")) add("challenge", "Cloudflare: attention required", true);
const aws = url(/awswaf\.com\/[^?#]*\/(challenge|captcha)\.js/);
if (aws) add("challenge", "AWS WAF: " + short(aws), true);
if (/\bgokuProps\b|AwsWafIntegration\.(checkForceRefresh|getToken)/.test(inline)) add("challenge", "AWS WAF: gokuProps / AwsWafIntegration", true);
if (all("#sec-if-cpt-container, #sec-cpt-if, #sec-text-if").length || url(/\/_sec\/cp_challenge\//) || /bm-verify/.test(inline)) add("challenge", "Akamai: sec-cpt challenge", true);
if (/^access denied/.test(title) && /errors\.edgesuite\.net|Reference #\d+\.[0-9a-f]+/i.test(document.documentElement.innerHTML.slice(0, 20000))) add("challenge", "Akamai: Access Denied (Reference #)", true);
if (all("#px-captcha, .px-captcha-container").length || url(/captcha\.px-cdn\.net|px-cloud\.net\/[^?#]*captcha/) || /Press & Hold to confirm/i.test(bodyText)) add("challenge", "PerimeterX: #px-captcha", true);
const dd = url(/captcha-delivery\.com/);
if (dd) add("challenge", "DataDome: " + short(dd), true);
const inc = all("iframe").find((f) => /_Incapsula_Resource/.test(f.src || ""));
if (inc || /Incapsula incident ID/i.test(bodyText)) add("challenge", "Imperva: _Incapsula_Resource", true);

// --- CAPTCHAs of the site's own: images, text fields, questions (limited to the form when it is known) ---
let scope = document;
if (args && args.scope) { try { scope = document.querySelector(args.scope) || document; } catch (e) { scope = document; } }
const textInputs = all("input:not([type]), input[type=text], input[type=number], input[type=tel], input[type=search]", scope).filter(isShown);
const labelOf = (el) => {
  const parts = [el.getAttribute("aria-label"), el.getAttribute("placeholder"), el.getAttribute("title")];
  if (el.id) parts.push(...all(`label[for="${CSS.escape(el.id)}"]`).map((l) => l.innerText));
  const wrap = el.closest("label");
  if (wrap) parts.push(wrap.innerText);
  for (const id of (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean)) {
    const ref = document.getElementById(id);
    if (ref) parts.push(ref.innerText);
  }
  // Questions are often plain text just before the field (a <p>, a <span>, the parent's own text).
  const prev = el.previousElementSibling;
  if (prev) parts.push(prev.innerText);
  const parent = el.parentElement;
  if (parent && all("input, textarea, select", parent).length === 1 && squash(parent.innerText).length < 200) {
    parts.push(parent.innerText);
  }
  return squash(parts.filter(Boolean).join(" | "));
};
const NUM = "(?:(?<![\\d.])\\d{1,2}(?![\\d.])|one|two|three|four|five|six|seven|eight|nine|ten|אחד|אחת|שתיים|שניים|שלוש|ארבע|חמש|שש|שבע|שמונה|תשע|עשר)";
const OP = "(?:\\+|plus|-|−|minus|×|x|\\*|times|ועוד|פלוס|פחות|חסר|כפול)";
// The sum must be the question itself ("What is 3 + 4?", "3 + 4 =", "מה סכום 3 ועוד 4"), not a range in a label.
const SUM = `${NUM}\\s*${OP}\\s*${NUM}`;
const arithmetic = new RegExp(
  `(?:what\\s+is|what's|how\\s+much\\s+is|solve|calculate|sum\\s+of|מה\\s+(?:זה\\s+|סכום\\s+|התוצאה\\s+של\\s+)?|כמה\\s+(?:זה\\s+)?|סכום\\s+|חשב(?:ו|י)?)\\s*:?\\s*${SUM}|${SUM}\\s*(?:=|\\?)`, "i");
const wordTest = new RegExp([
  "type\\s+(?:in\\s+)?(?:the\\s+)?(?:word|characters|letters|code|text|number)s?\\s+(?:shown|you\\s+see|above|below|in\\s+the\\s+(?:image|picture))",
  "enter\\s+(?:the\\s+)?(?:code|characters|letters|text|word)s?\\s+(?:shown|you\\s+see|above|below|from\\s+the\\s+(?:image|picture))",
  "security\\s+(?:question|code|check)", "anti[-\\s]?spam\\s+(?:question|check|field)", "verification\\s+code\\s+shown",
  "are\\s+you\\s+(?:a\\s+)?human", "prove\\s+you(?:'re|\\s+are)\\s+(?:a\\s+)?human",
  "הקלד(?:ו|י)?\\s+את\\s+ה(?:מילה|קוד|תווים|אותיות|מספר)", "הזן\\s+את\\s+ה(?:קוד|תווים)", "קוד\\s+(?:אבטחה|אימות)\\s+(?:שמופיע|המופיע|שבתמונה)",
  "שאלת\\s+(?:אבטחה|אימות)", "האם\\s+את(?:ה|ם)?\\s+אנוש",
].join("|"), "i");
for (const img of all("img", scope)) {
  const text = [img.getAttribute("src"), img.alt, img.id, img.className, img.title].join(" ");
  if (/captcha|securimage|kcaptcha|verif(?:y|ication)[-_\s]?code|security[-_\s]?code/i.test(text) && textInputs.length) {
    add("image-captcha", "img " + short(img.getAttribute("src") || "") + (img.alt ? ` alt="${img.alt.slice(0, 40)}"` : ""), true);
  }
}
for (const el of textInputs) {
  const attrs = [el.name, el.id, el.className].join(" ");
  if (/captcha/i.test(attrs)) { add("captcha-field", `input[name=${el.name || el.id}]`, true); continue; }
  const label = labelOf(el);
  if (arithmetic.test(label)) add("question-captcha", `field asking "${label.slice(0, 80)}"`, true);
  else if (wordTest.test(label) || /captcha|קאפצ'ה|קפצ'ה/i.test(label)) add("question-captcha", `field asking "${label.slice(0, 80)}"`, true);
}
for (const box of all("input[type=checkbox]", scope)) {
  if (/not\s+a\s+robot|אינני\s+רובוט|אני\s+לא\s+רובוט/i.test(labelOf(box))) add("question-captcha", "checkbox \"not a robot\"", true);
}

// --- generic placeholders: an attribute or class naming a captcha (Formspree, Basin, Getform, Wix, ...) ---
const NOPE = /^(false|0|off|no|none|disabled)$/i;
for (const el of all("form, form *, [class*=captcha i], [id*=captcha i]").slice(0, 3000)) {
  const tag = el.tagName.toLowerCase();
  if (["script", "style", "link", "meta", "noscript"].includes(tag) || inBadge(el)) continue;
  if (tag === "input" && (el.type || "").toLowerCase() === "hidden") continue;
  for (const a of el.attributes) {
    const n = a.name.toLowerCase();
    if (n === "class" || n === "id" || n === "style" || n.startsWith("on")) continue;
    if (/captcha|turnstile/.test(n) && !NOPE.test(a.value.trim())) add("captcha-placeholder", `${tag}[${n}]`, true, true);
    else if (n.startsWith("data-") && /^(re|h)?captcha$|^turnstile$/i.test(a.value.trim())) add("captcha-placeholder", `${tag}[${n}=${a.value.trim()}]`, true, true);
  }
  const tokens = [...el.classList, el.id].filter(Boolean);
  const token = tokens.find((t) => /^(?:[a-z]+[-_])?(?:re)?captcha(?:[-_](?:container|wrapper|wrap|widget|field|box|holder|placeholder|image|img|code|area))?$/i.test(t));
  if (token) add("captcha-placeholder", `${tag}${el.id === token ? "#" : "."}${token}`, true, true);
}
return found;
