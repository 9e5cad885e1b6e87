// Native constraint validation of the form (or formless group) at args.selector: the invalid controls.
const root = document.querySelector(args.selector);
if (!root) return [];
const elements = root.tagName === "FORM" ? [...root.elements] : [...root.querySelectorAll("input, select, textarea")];
return elements.filter((e) => e.willValidate && !e.checkValidity())
  .map((e) => ({ selector: cssPath(e), name: e.name || e.id || e.type, message: e.validationMessage || "" }));
