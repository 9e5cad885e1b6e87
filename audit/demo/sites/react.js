/* Mimics a React controlled form without React: the component state lives in `state` and changes ONLY on
 * 'input' events, and every render writes the state back into the inputs, as React's reconciliation does.
 * So `el.value = x` without an input event leaves the state empty (and is undone by the next render);
 * typing, or Playwright's fill(), works (react/react#11095). */
(() => {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const state = { name: "", email: "", message: "", sending: false, error: "" };
  const inputs = {};
  let button;
  let errorBox;

  function render() {
    for (const [key, el] of Object.entries(inputs)) {
      if (el.value !== state[key]) el.value = state[key];
    }
    button.disabled = state.sending || !(state.name.trim() && state.email.trim() && state.message.trim());
    errorBox.textContent = state.error;
    errorBox.hidden = !state.error;
  }

  function control(key, label, multiline) {
    const el = document.createElement(multiline ? "textarea" : "input");
    if (!multiline) el.type = key === "email" ? "email" : "text";
    el.className = "rf-input";
    el.placeholder = label;
    el.setAttribute("aria-label", label);
    el.addEventListener("input", (event) => {
      state[key] = event.target.value;
      render();
    });
    inputs[key] = el;
    return el;
  }

  function toast(text) {
    const el = document.createElement("div");
    el.className = "toast";
    el.setAttribute("role", "status");
    el.textContent = text;
    document.body.appendChild(el);
    setTimeout(() => el.remove(), 2500);
  }

  async function send() {
    state.sending = true;
    state.error = "";
    render();
    try {
      const reply = await fetch("/api/react/contact", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ name: state.name, email: state.email, message: state.message }),
      });
      if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
      state.name = state.email = state.message = "";
      toast("Thanks, we got your message!");
    } catch (error) {
      state.error = "Something went wrong. Please try again.";
    } finally {
      state.sending = false;
      render();
    }
  }

  function mount() {
    const form = document.createElement("form");
    form.className = "rf-form";
    form.noValidate = true;
    button = document.createElement("button");
    button.type = "submit";
    button.className = "btn";
    button.textContent = "Send";
    errorBox = document.createElement("p");
    errorBox.className = "rf-error";
    errorBox.setAttribute("role", "alert");
    form.append(control("name", "Your name"), control("email", "Email"), control("message", "How can we help?", true), errorBox, button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!button.disabled) send();
    });
    document.getElementById("root").replaceChildren(form);
    render();
  }

  // Like a bundle that hydrates after fetching its config: the form appears a moment after load.
  window.addEventListener("load", () => setTimeout(mount, 300));
})();
