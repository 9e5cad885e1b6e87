// One pass over a frame: every form (and "formless" group of inputs around a button) with its controls,
// described well enough for Python to classify them without further round trips.
// args: {explicit: {fields: {slot: css}, submit: css|null, consent: [css]}}
const explicit = (args && args.explicit) || { fields: {}, submit: null, consent: [] };
const FILLABLE = "input, textarea, select";
const BUTTONS = "button, input[type=submit], input[type=button], input[type=image], [role=button]";
const SKIP_TYPES = new Set(["hidden", "password", "file", "image", "submit", "button", "reset"]);
const HP_TOKEN = /(^|[-_\s])(hp|hpot|honeypot|honey|gotcha|trap|bot-?field|nospam)([-_\s]|$)/i;
const HP_CLASS = ".gform_validation_container, .wpforms-field-hp, .hp, [class*=honeypot], [class*=hpot], .ohnohoney, .gf_hidden_field";

const safeMatches = (el, sel) => { try { return !!sel && el.matches(sel); } catch (e) { return false; } };

function labelsOf(el) {
  const out = [];
  if (el.labels) for (const l of el.labels) {
    const clone = l.cloneNode(true);
    for (const c of clone.querySelectorAll("input, select, textarea, option")) c.remove();
    const t = squash(clone.textContent);
    if (t) out.push(t);
  }
  const by = el.getAttribute("aria-labelledby");
  if (by) for (const id of by.split(/\s+/)) {
    const ref = document.getElementById(id);
    if (ref) out.push(visibleText(ref, 200));
  }
  // A common mistake: <label for="NAME"> pointing at the name instead of the id.
  if (!out.length && el.name) {
    try {
      const l = document.querySelector(`label[for="${CSS.escape(el.name)}"]`);
      if (l) out.push(visibleText(l, 200));
    } catch (e) { /* odd names */ }
  }
  return out.filter(Boolean);
}

function nearbyText(el) {
  // Like Chromium's InferLabelFromPrevious: the closest preceding text, a few levels up.
  let node = el;
  for (let depth = 0; depth < 3 && node; depth++) {
    let sib = node.previousSibling;
    while (sib) {
      // Comments are for developers ("<!-- Email address input -->" in Start Bootstrap themes), not labels.
      if (sib.nodeType === 8) { sib = sib.previousSibling; continue; }
      const t = squash(sib.nodeType === 3 ? sib.textContent : (sib.matches && sib.matches(FILLABLE) ? "" : sib.innerText || sib.textContent));
      if (t) return t.slice(-120);
      sib = sib.previousSibling;
    }
    node = node.parentElement;
    if (node && (node.tagName === "FORM" || node.tagName === "BODY")) break;
    if (node && node.tagName === "TD" && node.previousElementSibling) return visibleText(node.previousElementSibling, 120);
  }
  return "";
}

// The heading a control sits under when nothing labels it: its fieldset's legend, else the closest heading
// before it inside the group (a "Ticket details" <h3> over osTicket's fields, a <legend> in a fieldset).
function headingOf(el, group) {
  const fs = el.closest("fieldset");
  const legend = fs && fs.querySelector(":scope > legend");
  if (legend) return visibleText(legend, 120);
  if (!group) return "";
  let best = "";
  for (const h of group.querySelectorAll("h1, h2, h3, h4, h5, h6, legend, [role=heading]")) {
    // A heading that holds a label is that one field's label (GOV.UK's "label as page heading"), not a section's.
    if (h.querySelector("label, input, select, textarea")) continue;
    if (h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) best = visibleText(h, 120);
  }
  return best;
}

function describedBy(el) {
  const ids = el.getAttribute("aria-describedby");
  if (!ids) return "";
  return ids.split(/\s+/).map((id) => { const r = document.getElementById(id); return r ? visibleText(r, 150) : ""; }).join(" ");
}

// Why a control must not be filled: computed hiding, off-screen, honeypot names or vendor classes.
function hidingInfo(el) {
  const reasons = [];
  let hider = null;
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const cs = getComputedStyle(node);
    const why = cs.display === "none" ? "display:none"
      : (node === el && cs.visibility !== "visible") ? "visibility:hidden"
      : parseFloat(cs.opacity) === 0 ? "opacity:0"
      : (/^rect\((0|1)px,?\s*(0|1)px/.test(cs.clip || "") || /inset\(50%/.test(cs.clipPath || "")) ? "clipped"
      : "";
    if (why) { reasons.push(node === el ? why : `${why} on ancestor`); hider = node; break; }
  }
  const r = el.getBoundingClientRect();
  if (!hider && (r.width <= 1 || r.height <= 1)) reasons.push("zero size");
  const docW = Math.max(document.documentElement.scrollWidth, innerWidth);
  if (r.width > 1 && (r.right + scrollX <= 0 || r.bottom + scrollY <= 0 || r.left + scrollX >= docW)) reasons.push("off-screen");
  // aria-hidden on one field's wrapper hides a trap; on a whole region (a modal left open) it hides the page.
  const ariaHidden = el.closest('[aria-hidden="true"]');
  if (ariaHidden && ariaHidden.querySelectorAll(FILLABLE).length < 2) reasons.push("aria-hidden");
  // A parent with overflow hidden and (almost) no area clips the control away.
  for (let node = el.parentElement; node && node.tagName !== "FORM" && node.tagName !== "BODY"; node = node.parentElement) {
    const pr = node.getBoundingClientRect();
    const cs = getComputedStyle(node);
    if (cs.overflow === "hidden" && (pr.width <= 1 || pr.height <= 1)) { reasons.push("clipped by ancestor"); break; }
  }
  const tokens = [el.name, el.id, el.className, el.getAttribute("autocomplete")].map((v) => String(v || ""));
  if (tokens.some((t) => HP_TOKEN.test(t) || /_gotcha/i.test(t))) reasons.push("honeypot name");
  const vendorHp = el.closest(HP_CLASS);
  if (vendorHp) reasons.push("honeypot class " + (vendorHp.className || "").toString().slice(0, 40));
  const isText = el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && !["checkbox", "radio"].includes(el.type));
  if (isText && el.getAttribute("tabindex") === "-1") reasons.push("tabindex=-1");
  // A hidden step of a multi-step form hides many controls at once; a honeypot hides one.
  let sectionHidden = false;
  if (hider && hider !== el) {
    const inside = [...hider.querySelectorAll(FILLABLE)].filter((c) => c.type !== "hidden");
    // A hidden step holds several fields or its own buttons; a honeypot's wrapper holds one field.
    const step = inside.length >= 2 || !!hider.querySelector(BUTTONS);
    sectionHidden = step && !vendorHp && !tokens.some((t) => HP_TOKEN.test(t));
  }
  return { reasons, sectionHidden, containerText: vendorHp ? visibleText(vendorHp, 200) : "" };
}

function requiredOf(el, labels) {
  if (el.required || el.getAttribute("aria-required") === "true") return true;
  if (el.closest(".gfield_contains_required, .wpcf7-validates-as-required, .is-required")) return true;
  // Contact Form 7's acceptance box is required unless marked optional, and it disables submit until ticked.
  if (el.closest(".wpcf7-acceptance:not(.optional)")) return true;
  if (el.classList.contains("wpcf7-validates-as-required")) return true;
  return labels.some((t) => /\*\s*$|^\s*\*/.test(t));
}

function vendorOf(form) {
  if (!form) return null;
  if (form.matches(".wpcf7-form") || form.closest(".wpcf7") || form.querySelector("input[name=_wpcf7]")) return "cf7";
  if (/^gform_\d+/.test(form.id || "") || form.closest(".gform_wrapper")) return "gravity";
  if (form.closest(".wpforms-container") || form.querySelector('[name^="wpforms[fields]"]')) return "wpforms";
  if (form.matches(".elementor-form")) return "elementor";
  if (form.matches(".hs-form") || form.closest(".hbspt-form")) return "hubspot";
  const action = form.getAttribute("action") || "";
  if (/servlet\.WebToLead/i.test(action)) return "salesforce";
  if (/WebToLeadForm/i.test(action)) return "zoho";
  return null;
}

// Groups: real forms first, then containers of inputs outside forms that hold a button.
const forms = [...document.forms];
const groups = forms.map((f) => ({ el: f, kind: "form" }));
const outside = (el) => !(el.form || el.closest("form"));
const looseFillable = [...document.querySelectorAll(FILLABLE)].filter((c) => outside(c) && !SKIP_TYPES.has(c.type) && isShown(c));
const looseButtons = [...document.querySelectorAll(BUTTONS)].filter((b) => outside(b) && isShown(b));
const containers = new Set();
for (const b of looseButtons) {
  for (let node = b.parentElement; node && node !== document.documentElement; node = node.parentElement) {
    const count = looseFillable.filter((c) => node.contains(c)).length;
    if (count >= 2 || node.querySelector("textarea") && count >= 1) { containers.add(node); break; }
  }
}
// Smallest containers first, so a control belongs to its nearest group.
const sortedContainers = [...containers].sort((a, b) => a.querySelectorAll("*").length - b.querySelectorAll("*").length);
for (const c of sortedContainers) groups.push({ el: c, kind: "formless" });

const groupOf = (el) => {
  const f = el.form || el.closest("form");
  if (f) return forms.indexOf(f);
  for (let i = forms.length; i < groups.length; i++) if (groups[i].el.contains(el)) return i;
  return -1;
};

const controls = [];
const seen = new Set();
const add = (el, kind) => {
  if (seen.has(el)) return;
  seen.add(el);
  const group = groupOf(el);
  if (group < 0) return;
  const labels = labelsOf(el);
  const hiding = hidingInfo(el);
  const type = (el.getAttribute("type") || (el.tagName === "INPUT" ? "text" : "")).toLowerCase();
  const item = {
    index: controls.length,
    group,
    kind,
    selector: cssPath(el),
    tag: el.tagName.toLowerCase(),
    type,
    name: el.getAttribute("name") || "",
    id: el.id || "",
    classes: String(el.className || "").slice(0, 200),
    autocomplete: (el.getAttribute("autocomplete") || "").toLowerCase(),
    placeholder: el.getAttribute("placeholder") || "",
    title: el.getAttribute("title") || "",
    aria_label: el.getAttribute("aria-label") || "",
    labels,
    described_by: describedBy(el),
    nearby: kind === "button" ? "" : nearbyText(el),
    text: kind === "button" ? squash(el.innerText || el.value || el.getAttribute("aria-label") || el.title || "").slice(0, 120) : "",
    required: kind === "button" ? false : requiredOf(el, labels),
    disabled: !!el.disabled || el.getAttribute("aria-disabled") === "true",
    readonly: !!el.readOnly,
    value: kind === "button" ? "" : String(el.value || "").slice(0, 200),
    default_value: el.defaultValue !== undefined ? String(el.defaultValue || "").slice(0, 200) : "",
    checked: !!el.checked,
    shown: isShown(el),
    hidden_reasons: hiding.reasons,
    section_hidden: hiding.sectionHidden,
    container_text: hiding.containerText,
    label_shown: (el.labels && [...el.labels].some(isShown)) || false,
    maxlength: el.maxLength > 0 ? el.maxLength : null,
    minlength: el.minLength > 0 ? el.minLength : null,
    min: el.getAttribute("min") || "",
    max: el.getAttribute("max") || "",
    step: el.getAttribute("step") || "",
    inputmode: el.getAttribute("inputmode") || "",
    heading: kind === "button" ? "" : headingOf(el, groups[group] && groups[group].el),
    lang: ((el.closest("[lang]") || document.documentElement).getAttribute("lang") || "").toLowerCase(),
    top: Math.round(el.getBoundingClientRect().top + scrollY),
    left: Math.round(el.getBoundingClientRect().left + scrollX),
    pattern: el.getAttribute("pattern") || "",
    options: el.tagName === "SELECT" ? [...el.options].map((o) => ({ label: squash(o.label || o.text), value: o.value, disabled: o.disabled, selected: o.selected })) : [],
    explicit_slot: Object.entries(explicit.fields || {}).filter(([, sel]) => safeMatches(el, sel)).map(([slot]) => slot)[0] || null,
    explicit_submit: safeMatches(el, explicit.submit),
    explicit_consent: (explicit.consent || []).some((sel) => safeMatches(el, sel)),
  };
  controls.push(item);
};
for (const g of groups) {
  const scope = g.el;
  for (const el of scope.querySelectorAll(FILLABLE)) if (el.type !== "hidden" && el.tagName !== "OPTION") add(el, el.matches(BUTTONS) || ["submit", "button", "image", "reset"].includes(el.type) ? "button" : "field");
  for (const el of scope.querySelectorAll(BUTTONS)) add(el, "button");
}
// Controls bound to a form through the form= attribute but placed outside it.
for (const f of forms) for (const el of f.elements) if (!seen.has(el) && el.type !== "hidden" && el.tagName !== "FIELDSET" && el.tagName !== "OBJECT" && el.tagName !== "OUTPUT") add(el, el.matches(BUTTONS) || ["submit", "button", "image", "reset"].includes(el.type) ? "button" : "field");

return {
  url: location.href,
  title: document.title,
  lang: document.documentElement.lang || "",
  groups: groups.map((g, i) => ({
    index: i,
    kind: g.kind,
    selector: cssPath(g.el),
    action: g.kind === "form" ? g.el.getAttribute("action") || "" : "",
    action_url: g.kind === "form" ? (g.el.action || "") : "",
    method: g.kind === "form" ? (g.el.getAttribute("method") || "get").toLowerCase() : "",
    vendor: g.kind === "form" ? vendorOf(g.el) : null,
    role: g.el.getAttribute("role") || "",
    is_search: g.el.getAttribute("role") === "search" || !!g.el.closest("[role=search]") || g.el.matches("[action*=search i], .search-form, .searchform"),
    has_password: !!g.el.querySelector("input[type=password]"),
    hidden_inputs: g.el.querySelectorAll("input[type=hidden]").length,
    text: visibleText(g.el, 600),
    shown: isShown(g.el),
  })),
  controls,
};
