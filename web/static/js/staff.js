// Officer and supervisor log-in: the session is an HttpOnly cookie; the page only asks who it is.
import * as i18n from "./i18n.js";
import { call } from "./api.js";
import { clearErrors, showError, fieldError, busy } from "./forms.js";
import { formatReference } from "./participant_status.js";

const $ = (id) => document.getElementById(id);

/** Show the log-in form until someone with one of `roles` is logged in; resolves the account. */
export async function requireLogin(roles) {
  await i18n.init();
  $("logout").addEventListener("click", async () => {
    await call("POST", "/api/auth/logout").catch(() => {});
    location.reload();
  });
  try {
    const me = await call("GET", "/api/auth/me");
    if (roles.includes(me.role)) return enter(me);
  } catch {
    /* not logged in: fall through to the form */
  }
  return new Promise((resolve) => {
    $("login").hidden = false;
    $("loading").hidden = true;
    $("login-username").focus();
    const form = $("form-login");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      if (!form.username.value.trim()) return fieldError(form, "username", "username_required");
      if (!form.password.value) return fieldError(form, "password", "password_required");
      await busy(form.querySelector("button[type=submit]"), async () => {
        try {
          const me = await call("POST", "/api/auth/login", {
            json: { username: form.username.value.trim(), password: form.password.value },
          });
          if (!roles.includes(me.role)) {
            await call("POST", "/api/auth/logout").catch(() => {});
            return showError(form, { code: "role_forbidden", message: "" }, "err-form-login");
          }
          form.password.value = "";
          resolve(enter(me));
        } catch (err) {
          showError(form, err, "err-form-login");
        }
      });
    });
  });
}

function enter(me) {
  $("login").hidden = true;
  $("loading").hidden = true;
  $("whoami").textContent = `${me.display_name} (${i18n.t(`role.${me.role}`)})`;
  $("whoami").hidden = false;
  $("logout").hidden = false;
  document.body.dataset.loggedIn = me.role;
  return me;
}

/** An <img> source for a staff-only image URL (the cookie goes along). Every view is written to
 * the record's audit history, and two at once can collide (409 concurrent_update): try again. */
export async function staffImage(img, url, attempts = 4) {
  for (let i = 1; ; i += 1) {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (response.ok) {
      img.src = URL.createObjectURL(await response.blob());
      return;
    }
    if (response.status !== 409 || i >= attempts) throw new Error(String(response.status));
    await new Promise((r) => setTimeout(r, 150 * i + Math.random() * 150));
  }
}

/** Fill a record's detail list and photos (officer call view, supervisor review). */
export async function showRecord(prefix, record) {
  $(`${prefix}-name`).textContent = record.full_name || "–";
  const reference = $(`${prefix}-reference`); // what the participant reads out on the phone
  if (reference) reference.textContent = formatReference(record.reference);
  $(`${prefix}-nik`).textContent = record.nik_masked;
  $(`${prefix}-birth`).textContent = record.birth_date ? i18n.formatDate(record.birth_date) : "–";
  $(`${prefix}-sex`).textContent = record.sex ? i18n.t(`sex.${record.sex}`) : "–";
  $(`${prefix}-mobile`).textContent = record.mobile;
  $(`${prefix}-email`).textContent = record.email;
  const reveal = $(`${prefix}-reveal`);
  reveal.hidden = false;
  reveal.onclick = async () => {
    try {
      const out = await call("POST", `/api/records/${record.id}/reveal-nik`);
      $(`${prefix}-nik`).textContent = out.nik;
      reveal.hidden = true;
    } catch (err) {
      $(`${prefix}-nik`).textContent = `${record.nik_masked} ⚠`;
    }
  };
  // One at a time: each view is written to the record's audit history.
  for (const kind of ["ktp", "selfie_with_ktp", "face"]) {
    const img = $(`${prefix}-photo-${kind}`);
    img.removeAttribute("src");
    if (!record.documents.some((d) => d.kind === kind)) continue;
    const url = `/api/records/${record.id}/documents/${kind}`;
    await staffImage(img, url).catch(() => {});
  }
}

/** A table cell with text or an element, appended to the row. */
export function cell(tr, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  tr.append(td);
  return td;
}

/** Fill a <select> with an empty first option (`emptyText`) and `options` as [value, text],
 * keeping the choice made so far. */
export function fillSelect(select, emptyText, options) {
  const current = select.value;
  const empty = document.createElement("option");
  empty.value = "";
  empty.textContent = emptyText;
  select.replaceChildren(
    empty,
    ...options.map(([value, text]) => {
      const o = document.createElement("option");
      o.value = value;
      o.textContent = text;
      return o;
    }),
  );
  select.value = current;
}

/** A small status tag: ⚠ for fail, ✓ for ok. */
export function tag(kind, key) {
  const span = document.createElement("span");
  span.className = `tag ${kind}`;
  span.textContent = `${kind === "fail" ? "⚠ " : kind === "ok" ? "✓ " : ""}${i18n.t(key)}`;
  return span;
}
