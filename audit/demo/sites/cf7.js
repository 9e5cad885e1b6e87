/* A small re-implementation of Contact Form 7's front end (contact-form-7 includes/js/index.js, 5.9):
 * submit through the REST API, then report the outcome the way CF7 does, through form[data-status],
 * the response output, .wpcf7-not-valid tips and the wpcf7* DOM events. */
(() => {
  "use strict";

  // REST status -> the form's data-status and the event suffix, as CF7 maps them.
  const STATUS = {
    mail_sent: ["sent", "mailsent"],
    validation_failed: ["invalid", "invalid"],
    acceptance_missing: ["unaccepted", "unaccepted"],
    spam: ["spam", "spam"],
    aborted: ["aborted", "aborted"],
    mail_failed: ["failed", "mailfailed"],
  };
  const ALL_STATES = ["init", "submitting", "resetting", "sent", "invalid", "unaccepted", "spam", "aborted", "failed"];
  const FAILURE_TEXT = "There was an error trying to send your message. Please try again later.";

  function setStatus(form, status) {
    form.classList.remove(...ALL_STATES);
    form.classList.add(status);
    form.setAttribute("data-status", status);
  }

  // CF7 disables the submit button while a required acceptance box is unticked.
  function toggleSubmit(form) {
    const submit = form.querySelector(".wpcf7-submit");
    const boxes = form.querySelectorAll(".wpcf7-acceptance:not(.optional) input[type=checkbox]");
    submit.disabled = Array.from(boxes).some((box) => !box.checked);
  }

  function clearResponse(form) {
    form.querySelectorAll(".wpcf7-not-valid-tip").forEach((tip) => tip.remove());
    form.querySelectorAll(".wpcf7-not-valid").forEach((control) => {
      control.classList.remove("wpcf7-not-valid");
      control.setAttribute("aria-invalid", "false");
    });
    form.querySelector(".wpcf7-response-output").textContent = "";
  }

  function showInvalid(form, fields) {
    for (const item of fields || []) {
      const wrap = form.querySelector(`.wpcf7-form-control-wrap[data-name="${item.field}"]`);
      if (!wrap) continue;
      const control = wrap.querySelector(".wpcf7-form-control");
      control.classList.add("wpcf7-not-valid");
      control.setAttribute("aria-invalid", "true");
      const tip = document.createElement("span");
      tip.className = "wpcf7-not-valid-tip";
      tip.setAttribute("aria-hidden", "true");
      tip.textContent = item.message;
      wrap.appendChild(tip);
    }
  }

  function dispatch(wrapper, name, detail) {
    wrapper.dispatchEvent(new CustomEvent(`wpcf7${name}`, { bubbles: true, detail }));
  }

  async function submit(form) {
    const wrapper = form.closest(".wpcf7");
    const id = form.querySelector("input[name=_wpcf7]").value;
    const unitTag = form.querySelector("input[name=_wpcf7_unit_tag]").value;
    const url = `${wpcf7.api.root}${wpcf7.api.namespace}/contact-forms/${id}/feedback`;
    const body = new FormData(form);
    const inputs = Array.from(body, ([name, value]) => ({ name, value }));
    setStatus(form, "submitting");
    clearResponse(form);
    let response;
    try {
      const reply = await fetch(url, { method: "POST", body, headers: { Accept: "application/json" } });
      if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
      response = await reply.json();
    } catch (error) {
      setStatus(form, "failed");
      form.querySelector(".wpcf7-response-output").textContent = FAILURE_TEXT;
      return;
    }
    const [state, event] = STATUS[response.status] || ["failed", "mailfailed"];
    setStatus(form, state);
    const detail = { contactFormId: Number(id), unitTag, status: response.status, apiResponse: response, inputs };
    showInvalid(form, response.invalid_fields);
    form.querySelector(".wpcf7-response-output").textContent = response.message;
    wrapper.querySelector(".screen-reader-response p").textContent = response.message;
    dispatch(wrapper, event, detail);
    dispatch(wrapper, "submit", detail);
    if (response.status === "mail_sent") {
      form.reset();
      toggleSubmit(form);
    }
  }

  document.querySelectorAll(".wpcf7 > form").forEach((form) => {
    form.closest(".wpcf7").classList.replace("no-js", "js");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit(form);
    });
    form.addEventListener("change", (event) => {
      if (event.target.closest(".wpcf7-acceptance")) toggleSubmit(form);
    });
    toggleSubmit(form);
  });
})();
