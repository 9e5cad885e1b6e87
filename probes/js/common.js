// Helpers shared by the probe's page scripts (prepended to each of them by probes/scripts.py).
const squash = (s) => (s || "").replace(/\s+/g, " ").trim();

// A selector that addresses exactly this element now: a unique id, else an nth-of-type path.
function cssPath(el) {
  const parts = [];
  let node = el;
  while (node && node.nodeType === 1) {
    const tag = node.tagName.toLowerCase();
    if (node.id) {
      const sel = "#" + CSS.escape(node.id);
      if (document.querySelectorAll(sel).length === 1) { parts.unshift(sel); break; }
    }
    if (tag === "html" || tag === "body") { parts.unshift(tag); break; }
    let idx = 1;
    let sib = node;
    while ((sib = sib.previousElementSibling)) if (sib.tagName === node.tagName) idx++;
    parts.unshift(`${tag}:nth-of-type(${idx})`);
    node = node.parentElement;
  }
  return parts.join(" > ");
}

function isShown(el) {
  if (!el || !el.isConnected) return false;
  if (typeof el.checkVisibility === "function" &&
      !el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) return false;
  const r = el.getBoundingClientRect();
  return r.width > 1 && r.height > 1;
}

function visibleText(el, max) {
  return squash(el.innerText || el.textContent || "").slice(0, max || 300);
}
