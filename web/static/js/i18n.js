// Translations: every visible text comes from /i18n/<lang>.json, looked up by key.
// Markup carries data-i18n="key" (text) and data-i18n-attr="attr:key;attr2:key2".
const STORAGE_KEY = "vc_lang";
export const LANGUAGES = ["id", "en"];
let current = "id";
let table = {};
const listeners = [];

function lookup(key) {
  return key.split(".").reduce((node, part) => (node == null ? undefined : node[part]), table);
}

/** The text for `key`, with {name} placeholders filled from `vars`; the key itself if missing. */
export function t(key, vars = {}) {
  const value = lookup(key);
  if (typeof value !== "string") return key;
  return value.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** True when `key` exists (so callers can fall back, e.g. to a server message). */
export function has(key) {
  return typeof lookup(key) === "string";
}

export function lang() {
  return current;
}

export function apply(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n, el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : {});
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

/** Call `fn` after every language change (for texts built in code). */
export function onChange(fn) {
  listeners.push(fn);
}

export async function setLanguage(code) {
  current = LANGUAGES.includes(code) ? code : "id";
  const response = await fetch(`/i18n/${current}.json`);
  table = await response.json();
  localStorage.setItem(STORAGE_KEY, current);
  document.documentElement.lang = current;
  apply();
  document.documentElement.classList.remove("i18n-pending");
  for (const fn of listeners) fn(current);
}

/** Load the remembered language (Indonesian by default) and wire the one-click switch. */
export async function init() {
  await setLanguage(localStorage.getItem(STORAGE_KEY) || "id");
  const toggle = document.getElementById("lang-toggle");
  if (toggle) {
    toggle.addEventListener("click", () => setLanguage(current === "id" ? "en" : "id"));
  }
}

/** Locale for Intl formatting. */
export function locale() {
  return current === "en" ? "en-GB" : "id-ID";
}

export function formatDateTime(iso, zone = null) {
  if (!iso) return "";
  // Service times are Jakarta times, wherever the browser is (dateStyle cannot carry the zone).
  // With a `zone`: that zone's time, without a zone name (the caller adds the zone's label).
  return new Intl.DateTimeFormat(locale(), {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZone: zone || "Asia/Jakarta",
    ...(zone ? {} : { timeZoneName: "short" }),
  }).format(new Date(iso));
}

/** A calendar date ("2026-11-26") in words, "long" (with the year) or "short" ("Kam, 26 Nov");
 * the date is its zone's own, so no zone shift. */
export function formatDay(date, style = "long") {
  const [y, m, d] = date.split("-").map(Number);
  const options =
    style === "long"
      ? { weekday: "long", day: "numeric", month: "long", year: "numeric" }
      : { weekday: "short", day: "numeric", month: "short" };
  return new Intl.DateTimeFormat(locale(), { ...options, timeZone: "UTC" }).format(
    new Date(Date.UTC(y, m - 1, d, 12)),
  );
}

/** A calendar date ("1985-05-12") as dd/mm/yyyy in both languages, whatever the browser's locale. */
export function formatDate(isoDate) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(isoDate || "");
  return m ? `${m[3]}/${m[2]}/${m[1]}` : "";
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t("time.seconds", { n: s });
  const m = Math.round(s / 60);
  if (m < 60) return t("time.minutes", { n: m });
  return t("time.hours_minutes", { h: Math.floor(m / 60), m: m % 60 });
}
