// Errors next to their fields, translated by code; anything without a field goes to the form.
import { t, has, lang } from "./i18n.js";

/** The user-facing text for an ApiError (or any error with a code). The server's message is
 * English: it is only ever shown (as a detail) to someone reading the page in English. */
export function errorText(err) {
  const key = `errors.${err.code}`;
  if (has(key)) return t(key);
  return err.message && lang() === "en" ? `${t("errors.generic")} (${err.message})` : t("errors.generic");
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error, .form-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function show(el, text) {
  el.textContent = text;
  el.hidden = false;
}

/** Show `err` by its field when the form has one, else in the form's error box. */
export function showError(form, err, formErrorId) {
  const field = err.field ? err.field.split(".")[0] : null;
  const fieldBox = field && form.querySelector(`#err-${CSS.escape(field)}`);
  const text = (err.code === "network" ? "⚠ " : "") + errorText(err);
  if (fieldBox) {
    show(fieldBox, `⚠ ${errorText(err)}`);
    const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
    return;
  }
  const box = document.getElementById(formErrorId) || form.querySelector(".form-error");
  if (box) show(box, text);
}

/** A local check before sending: mark `field` with the translated `code`. */
export function fieldError(form, field, code) {
  showError(form, { field, code, message: "" });
}

/** Disable the submit button while `work` runs (no double submits). */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
