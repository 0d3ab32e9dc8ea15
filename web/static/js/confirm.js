// Confirm a destructive action by pressing twice (no window.confirm: it blocks the page, and
// its text cannot follow the page's language switch).
import { t } from "./i18n.js";

const WINDOW_MS = 4000;

/** Run `action` on the second press within a few seconds; the first press says so. */
export function confirmTwice(button, confirmKey, action) {
  let armed = null;
  const original = () => t(button.dataset.i18n);
  button.addEventListener("click", () => {
    if (armed) {
      clearTimeout(armed);
      armed = null;
      button.textContent = original();
      button.removeAttribute("data-armed");
      action();
      return;
    }
    button.textContent = t(confirmKey);
    button.dataset.armed = "true";
    armed = setTimeout(() => {
      armed = null;
      button.textContent = original();
      button.removeAttribute("data-armed");
    }, WINDOW_MS);
  });
}
