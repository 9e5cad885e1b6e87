// Which candidate values the control at args.selector would accept, by the browser's own rules.
// args: {selector: css, candidates: [string]} -> {reasons: [string per candidate, "" = fits], note: string}
// The pattern is compiled as the HTML spec says, `^(?:pattern)$` with the `v` flag; type rules (email, url,
// number range and step, date) are asked of a detached copy of the control, so the page's own field is only
// ever typed into. Lengths are counted in UTF-16 code units, as maxlength and minlength count them.
const el = document.querySelector(args.selector);
if (!el) return { reasons: args.candidates.map(() => "control not found"), note: "control not found" };
let re = null;
let note = "";
const pattern = el.tagName === "INPUT" ? el.getAttribute("pattern") : null;
if (pattern !== null) {
  try {
    re = new RegExp("^(?:" + pattern + ")$", "v");
  } catch (e) {
    note = `pattern ${pattern} does not compile with the v flag, so the browser ignores it`;
  }
}
const reasons = args.candidates.map((value) => {
  const why = [];
  if (el.maxLength > 0 && value.length > el.maxLength) why.push(`longer than maxlength ${el.maxLength}`);
  if (el.minLength > 0 && value.length < el.minLength) why.push(`shorter than minlength ${el.minLength}`);
  if (re && value !== "" && !re.test(value)) why.push(`does not match pattern ${pattern}`);
  if (el.tagName === "INPUT") {
    const copy = el.cloneNode(false);
    for (const attr of ["pattern", "minlength", "maxlength", "required", "disabled", "readonly", "form"]) copy.removeAttribute(attr);
    copy.value = value;
    const v = copy.validity;
    if (copy.value !== value) why.push(`not a ${el.type} value`);
    else if (v.typeMismatch) why.push(`not a valid ${el.type}`);
    if (v.badInput) why.push(`not a ${el.type} value`);
    if (v.rangeUnderflow) why.push(`below min ${el.getAttribute("min")}`);
    if (v.rangeOverflow) why.push(`above max ${el.getAttribute("max")}`);
    if (v.stepMismatch) why.push(`off step ${el.getAttribute("step") || "1"}`);
  }
  return why.join("; ");
});
return { reasons, note };
