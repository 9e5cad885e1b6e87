// Visible overlays and banners that may be cookie-consent prompts, with their buttons.
const MARK = /cookie|consent|gdpr|cmp|privacy|onetrust|didomi|usercentrics|cookiebot/i;
const out = [];
const taken = [];
for (const el of document.querySelectorAll("body *")) {
  if (taken.some((t) => t.contains(el))) continue;
  const role = el.getAttribute("role") || "";
  const ident = (el.id || "") + " " + String(el.className || "");
  let positioned = false;
  const isModal = role === "dialog" || role === "alertdialog" || el.getAttribute("aria-modal") === "true";
  if (!isModal && !MARK.test(ident)) {
    const pos = getComputedStyle(el).position;
    positioned = pos === "fixed" || pos === "sticky";
    if (!positioned) continue;
  }
  if (!isShown(el)) continue;
  // A modal holding a form (the contact form itself, a login) is not a consent banner: never "close" it.
  if (el.querySelector("textarea, input[type=email], input[type=password], input[type=tel]") ||
      el.querySelectorAll("input[type=text], input:not([type])").length > 1) continue;
  const buttons = [...el.querySelectorAll("button, a, [role=button], input[type=button], input[type=submit]")]
    .filter(isShown)
    .map((b) => ({ selector: cssPath(b), text: squash(b.innerText || b.value || "").slice(0, 80), aria: b.getAttribute("aria-label") || b.title || "" }));
  if (!buttons.length) continue;
  const r = el.getBoundingClientRect();
  taken.push(el);
  out.push({ selector: cssPath(el), text: visibleText(el, 800), marked: MARK.test(ident) || isModal, area: (r.width * r.height) / (innerWidth * innerHeight), buttons: buttons.slice(0, 20) });
}
return out;
