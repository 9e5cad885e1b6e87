// The page's state after (or just before) the click: text, vendor status, errors and captured events.
const shownTexts = (sel) => { try { return [...document.querySelectorAll(sel)].filter(isShown).map((e) => visibleText(e, 500)).filter(Boolean); } catch (e) { return []; } };
const cf7 = [...document.querySelectorAll("form.wpcf7-form")].map((f) => f.getAttribute("data-status") || "");
const invalid = [...document.querySelectorAll("input, textarea, select")].filter((e) => e.type !== "hidden" && isShown(e) &&
  (e.getAttribute("aria-invalid") === "true" || e.matches(":invalid") || e.matches(".wpcf7-not-valid"))).length;
return {
  url: location.href,
  title: document.title,
  text: document.body ? (document.body.innerText || "").slice(0, 50000) : "",
  events: (window.__probeEvents || []).slice(),
  cf7_status: cf7,
  cf7_output: shownTexts(".wpcf7-response-output"),
  vendor_success: shownTexts(".gform_confirmation_message, .gform_confirmation_wrapper, .wpforms-confirmation-container, .wpforms-confirmation-container-full, .elementor-message-success, .hbspt-form .submitted-message, .submitted-message"),
  vendor_errors: shownTexts(".wpcf7-not-valid-tip, .gfield_error .validation_message, .gfield_validation_message, .validation_error, .gform_submission_error, .wpforms-error, .hs-error-msgs, .elementor-message-danger, .error-message, .field-error, .invalid-feedback"),
  alerts: shownTexts("[role=alert]"),
  invalid_count: invalid,
};
