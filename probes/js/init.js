// Installed with context.add_init_script before any navigation, in every frame.
// Collects vendor events and live-region texts into window.__probeEvents with timestamps, because
// toasts and status messages vanish within seconds and vendor events leave no trace in the DOM.
(() => {
  if (window.__probeEvents) return;
  const events = [];
  Object.defineProperty(window, "__probeEvents", { value: events, enumerable: false });
  const push = (type, detail) => {
    if (events.length >= 300) return;
    let text = "";
    try {
      text = typeof detail === "string" ? detail : JSON.stringify(detail);
    } catch (e) {
      text = String(detail);
    }
    events.push({ t: Date.now(), type: type, detail: (text || "").slice(0, 500) });
  };
  for (const name of ["wpcf7mailsent", "wpcf7invalid", "wpcf7spam", "wpcf7mailfailed", "wpcf7submit"]) {
    document.addEventListener(name, (e) => {
      const api = e.detail && e.detail.apiResponse;
      push(name, api ? { status: api.status, message: api.message } : "");
    }, true);
  }
  for (const name of ["hs-form-event:on-submission:success", "hs-form-event:on-submission:failed"]) {
    window.addEventListener(name, () => push(name, ""));
  }
  for (const name of ["wpformsAjaxSubmitSuccess", "wpformsAjaxSubmitFailed", "submit_success"]) {
    document.addEventListener(name, () => push(name, ""), true);
  }
  window.addEventListener("message", (e) => {
    const d = e.data;
    // Only form-ish messages (HubSpot's hsFormCallback, Typeform's form-submit); other chatter is noise.
    const s = typeof d === "string" ? d : (() => { try { return JSON.stringify(d); } catch (x) { return ""; } })();
    if (s && /form|submit/i.test(s)) push("message", s);
  });
  const hookJQuery = () => {
    const jq = window.jQuery;
    if (!jq || jq.__probeHooked) return;
    jq.__probeHooked = true;
    jq(document).on("gform_confirmation_loaded", (ev, id) => push("gform_confirmation_loaded", String(id)));
    jq(document).on("gform_page_loaded", (ev, id, page) => push("gform_page_loaded", String(page)));
    jq(document).on("submit_success", () => push("submit_success", ""));
  };
  const seen = new Set();
  const LIVE = "[aria-live], [role=status], [role=alert], .toast, [class*=toast], [class*=snackbar], [class*=notification]";
  const scan = () => {
    let nodes = [];
    try { nodes = document.querySelectorAll(LIVE); } catch (e) { return; }
    for (const node of nodes) {
      const text = (node.innerText || node.textContent || "").replace(/\s+/g, " ").trim();
      if (text && text.length < 1000 && !seen.has(text)) {
        seen.add(text);
        push("live", text);
      }
    }
  };
  let pending = false;
  const observer = new MutationObserver(() => {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; scan(); hookJQuery(); }, 30);
  });
  const start = () => {
    observer.observe(document.documentElement, { childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ["class", "style", "hidden"] });
    hookJQuery();
  };
  if (document.documentElement) start();
  else document.addEventListener("readystatechange", start, { once: true });
  document.addEventListener("DOMContentLoaded", () => { hookJQuery(); scan(); });
})();
