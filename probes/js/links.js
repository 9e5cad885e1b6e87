// Every link and button of the page that could lead to another page, shown or hidden, with where it sits
// (docs/probing.md, "Finding the contact page"). Hamburger menus keep their links in the DOM behind
// display:none until a click, so nothing here depends on visibility; `shown` is only evidence.
const MAX = (args && args.max) || 1500;
const MENU_MARK = /menu|nav|header|footer|drawer|hamburger|offcanvas|off-canvas/i;
// A button that navigates in its onclick: location = '...', location.href = '...', location.assign('...').
const JS_TARGET = /(?:location(?:\.href)?\s*=|location\.(?:assign|replace)\(|window\.open\()\s*['"]([^'"]+)['"]/;
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

function region(el) {
  if (el.closest("header, [role=banner]")) return "header";
  if (el.closest("nav, [role=navigation], [role=menu], [role=menubar]")) return "nav";
  if (el.closest("footer, [role=contentinfo]")) return "footer";
  for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
    if (MENU_MARK.test((node.id || "") + " " + (node.getAttribute("class") || ""))) return "menu";
  }
  return "body";
}

function rawTarget(el) {
  for (const name of ["href", "data-href", "data-url", "data-link"]) {
    const value = el.getAttribute(name);
    if (value !== null && value.trim()) return value.trim();
  }
  const match = JS_TARGET.exec(el.getAttribute("onclick") || "");
  return match ? match[1] : "";
}

function resolve(raw) {
  if (!raw || raw.startsWith("#")) return raw;
  if (SCHEME.test(raw) && !/^https?:/i.test(raw)) return raw; // mailto:, tel:, javascript: stay as written
  try {
    return new URL(raw, document.baseURI).href;
  } catch (e) {
    return "";
  }
}

const links = [];
const selector = "a[href], area[href], button, [role=button], [role=link], [role=menuitem], [data-href], [data-url], [onclick]";
for (const el of document.querySelectorAll(selector)) {
  if (links.length >= MAX) break;
  const raw = rawTarget(el);
  // A menu item wrapping a real link is reported by the link itself.
  if (!raw && el.querySelector("a[href]")) continue;
  const img = el.querySelector("img[alt]");
  links.push({
    href: resolve(raw),
    raw: raw.slice(0, 500),
    text: squash(el.textContent).slice(0, 200),
    label: squash(el.getAttribute("aria-label") || el.getAttribute("title") || (img && img.getAttribute("alt")) || "").slice(0, 200),
    region: region(el),
    shown: isShown(el),
    tag: el.tagName.toLowerCase(),
  });
}
const root = document.documentElement;
return { lang: root.getAttribute("lang") || "", dir: (root.getAttribute("dir") || document.dir || "").toLowerCase(), links };
