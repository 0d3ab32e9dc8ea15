// The connection banner: says when the network dropped, that we reconnect by ourselves, and
// when we are back.
import { t } from "./i18n.js";

let hideTimer = null;

export function banner(kind, key, vars) {
  const el = document.getElementById("net-banner");
  if (!el) return;
  clearTimeout(hideTimer);
  el.dataset.kind = kind;
  el.dataset.key = key;
  el.textContent = (kind === "ok" ? "✓ " : "⚠ ") + t(key, vars);
  el.hidden = false;
  if (kind === "ok") hideTimer = setTimeout(() => (el.hidden = true), 4000);
}

export function hideBanner() {
  const el = document.getElementById("net-banner");
  if (el) el.hidden = true;
}

/** Watch the browser's own online/offline signal. */
export function watchBrowser(onBack) {
  window.addEventListener("offline", () => banner("warn", "net.offline"));
  window.addEventListener("online", () => {
    banner("ok", "net.back");
    if (onBack) onBack();
  });
}

/** Retry `fn` with capped backoff while it fails with a network error, saying so. */
export async function withRetry(fn, { attempts = 8 } = {}) {
  let delay = 500;
  for (let i = 0; ; i += 1) {
    try {
      const result = await fn();
      if (i > 0) banner("ok", "net.back");
      return result;
    } catch (err) {
      if (err.code !== "network" || i >= attempts) throw err;
      banner("warn", "net.retrying");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 8000);
    }
  }
}
