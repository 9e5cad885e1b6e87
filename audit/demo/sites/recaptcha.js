/* A harmless local stand-in for Google's reCAPTCHA api.js: it draws the widget's iframe (from this
 * farm, at the real widget's path /recaptcha/api2/anchor) and offers the grecaptcha calls pages make. Nothing
 * here can produce a valid token. */
(() => {
  "use strict";
  const widgets = [];
  function render(container) {
    const el = typeof container === "string" ? document.getElementById(container) : container;
    if (!el || el.querySelector("iframe")) return widgets.indexOf(el);
    const frame = document.createElement("iframe");
    frame.title = "reCAPTCHA";
    frame.src = `/recaptcha/api2/anchor?k=${encodeURIComponent(el.dataset.sitekey || "")}&hl=en&size=normal`;
    frame.width = "304";
    frame.height = "78";
    frame.setAttribute("role", "presentation");
    frame.setAttribute("frameborder", "0");
    frame.setAttribute("scrolling", "no");
    frame.style.border = "0";
    const inner = document.createElement("div");
    inner.style.width = "304px";
    inner.style.height = "78px";
    inner.appendChild(frame);
    el.appendChild(inner);
    widgets.push(el);
    return widgets.length - 1;
  }
  window.grecaptcha = {
    render,
    getResponse: () => "",
    reset: () => {},
    execute: () => Promise.resolve(""),
    ready: (callback) => callback(),
  };
  document.querySelectorAll(".g-recaptcha").forEach((el) => render(el));
})();
