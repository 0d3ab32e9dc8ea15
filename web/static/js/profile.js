// The profile step's date of birth and sex. The date is typed and shown as dd/mm/yyyy whatever
// the browser's language (an <input type=date> shows the browser's own order, e.g. 05/12/1985
// for 12 May in a US browser); both are prefilled from what the NIK encodes, to be confirmed.
import { formatDate } from "./i18n.js";

const $ = (id) => document.getElementById(id);

/**
 * "12/05/1985", "12-5-1985", "12.05.1985", "12051985" or ISO "1985-05-12" -> "1985-05-12".
 * Returns {iso} or {error: "birth_date_format" | "birth_date_invalid"}.
 */
export function parseDate(text) {
  const value = (text || "").trim();
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(value);
  let year, month, day;
  if (m) [, year, month, day] = m.map(Number);
  else {
    m = /^(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})$/.exec(value) || /^(\d{2})(\d{2})(\d{4})$/.exec(value);
    if (!m) return { error: "birth_date_format" };
    [, day, month, year] = m.map(Number);
  }
  const date = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || date.getUTCDate() !== day || date.getUTCMonth() !== month - 1) {
    return { error: "birth_date_invalid" };
  }
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return { iso: `${pad(year, 4)}-${pad(month)}-${pad(day)}` };
}

/** Slashes appear as the digits are typed: 1 2 0 5 1 9 8 5 -> 12/05/1985. */
function autoSlash(input) {
  input.addEventListener("input", (event) => {
    if (event.inputType && !event.inputType.startsWith("insert")) return;
    const v = input.value;
    if (/^\d{2}$/.test(v) || /^\d{1,2}\/\d{2}$/.test(v)) input.value = `${v}/`;
    else if (/^\d{8}$/.test(v)) input.value = `${v.slice(0, 2)}/${v.slice(2, 4)}/${v.slice(4)}`;
  });
  input.addEventListener("blur", () => {
    const out = parseDate(input.value);
    if (out.iso) input.value = formatDate(out.iso);
  });
}

/** Fill the form from the record; what the participant has not saved yet comes from the NIK. */
export function fillProfile(form, record) {
  if (!record) return;
  if (record.full_name && !form.full_name.value) form.full_name.value = record.full_name;
  const birth = record.birth_date || record.nik_birth_date;
  const sex = record.sex || record.nik_sex;
  const fromNik = !record.birth_date && Boolean(record.nik_birth_date);
  if (birth && !form.birth_date.value) form.birth_date.value = formatDate(birth);
  if (sex && !form.querySelector("input[name=sex]:checked")) {
    const radio = form.querySelector(`input[name=sex][value=${sex}]`);
    if (radio) radio.checked = true;
  }
  $("profile-from-nik").hidden = !fromNik;
}

export function setupDateField(form) {
  autoSlash(form.birth_date);
}
