// CAPTCHA markers in this frame (form-probing.md section 9): the kind, or null. Detect only; never touch.
const q = (s) => { try { return document.querySelector(s); } catch (e) { return null; } };
const srcs = [...document.scripts].map((s) => s.src || "")
  .concat([...document.querySelectorAll("iframe")].map((f) => f.src || ""));
const any = (re) => srcs.some((s) => re.test(s));
if (q(".g-recaptcha[data-sitekey], textarea[name=g-recaptcha-response], #g-recaptcha-response") ||
    any(/\/recaptcha\/(api2|enterprise)\/(anchor|bframe)/)) {
  return any(/recaptcha\/enterprise/) ? "recaptcha-enterprise" : "recaptcha-v2";
}
if (any(/recaptcha\/enterprise\.js/)) return "recaptcha-enterprise";
if (any(/recaptcha\/api\.js\?[^#]*render=(?!explicit)/) || q(".grecaptcha-badge")) return "recaptcha-v3";
if (any(/(google\.com|recaptcha\.net|gstatic\.com)\/recaptcha\//)) return "recaptcha";
if (q(".h-captcha[data-sitekey], [name=h-captcha-response]") || any(/hcaptcha\.com/)) return "hcaptcha";
if (q(".cf-turnstile[data-sitekey], [name=cf-turnstile-response]") || any(/challenges\.cloudflare\.com\/turnstile/)) return "turnstile";
if (q(".frc-captcha[data-sitekey], [name=frc-captcha-solution], [name=frc-captcha-response]") || any(/friendlycaptcha/)) return "friendly-captcha";
if (any(/\/cdn-cgi\/challenge-platform\//) || /just a moment/i.test(document.title)) return "challenge";
if (q('img[src*="captcha" i]')) return "image-captcha";
if (q('input[name*="captcha" i]:not([type=hidden]), input[id*="captcha" i]:not([type=hidden])')) return "captcha-field";
return null;
