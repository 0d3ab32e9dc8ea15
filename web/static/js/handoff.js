// Arriving from the insurer's app by a hand-off link (/r/<code>), and going back to it.
//
// The code is taken out of the address bar and the history at once (history.replaceState), then
// traded once, by POST, for the participant's access token; the token never travels in a URL.
// The "Kembali ke aplikasi" button goes to the return URL the server was configured with
// (APP_RETURN_URL), after telling the host. See docs/embedding.md.
import { formatDate, has, t } from "./i18n.js";
import { call, setToken } from "./api.js";
import { withRetry } from "./net.js";
import { channel, notify, observeRecord, watchSteps } from "./host_bridge.js";

export { observeRecord };

const LINK_PATH = /^\/r\/([A-Za-z0-9_-]{1,128})\/?$/;
const RETURN_KEY = "vc_return_url";
const STAGE_KEY = "vc_stage"; // participant.js: where a ready record resumes
const $ = (id) => document.getElementById(id);

function returnUrl() {
  return localStorage.getItem(RETURN_KEY);
}

/** Tell the host, then go back to the app (the host may also close the web view itself). */
function backToApp(url) {
  notify("back_to_app", { return_url: url || null });
  if (url) window.location.assign(url);
}

/**
 * The "Kembali ke aplikasi" button, at the end of the status step; shown when there is somewhere,
 * or someone, to go back to. Made here so the page's markup needs nothing for it.
 */
function returnButton() {
  let box = $("host-return");
  if (box) return box;
  const anchor = $("step-result");
  if (!anchor) return null;
  box = document.createElement("div");
  box.className = "actions";
  box.id = "host-return";
  box.hidden = true;
  const button = document.createElement("button");
  button.type = "button";
  button.id = "host-return-button";
  button.className = "primary";
  button.dataset.i18n = "handoff.back_to_app";
  button.textContent = t("handoff.back_to_app");
  button.addEventListener("click", () => backToApp(returnUrl()));
  box.append(button);
  const footnote = anchor.querySelector(".footnote");
  if (footnote) footnote.before(box);
  else anchor.append(box);
  return box;
}

function refreshReturnButton() {
  const box = returnButton();
  if (box) box.hidden = !(returnUrl() || channel());
}

function prefill(fields) {
  const form = $("form-profile");
  if (!form || !fields) return;
  let filled = false;
  if (fields.full_name && !form.full_name.value) {
    form.full_name.value = fields.full_name;
    filled = true;
  }
  if (fields.birth_date && !form.birth_date.value) {
    form.birth_date.value = form.birth_date.type === "date" ? fields.birth_date : formatDate(fields.birth_date);
    filled = true;
  }
  const sex = fields.sex && form.querySelector(`input[name=sex][value=${fields.sex}]`);
  if (sex && !form.querySelector("input[name=sex]:checked")) {
    sex.checked = true;
    filled = true;
  }
  if (filled && !$("handoff-prefilled")) {
    const note = document.createElement("p");
    note.id = "handoff-prefilled";
    note.className = "help";
    note.dataset.i18n = "handoff.prefilled";
    note.textContent = t("handoff.prefilled");
    form.prepend(note);
  }
}

/** The link could not be used: say why and what to do, instead of the journey. */
function showRefused(err) {
  for (const section of document.querySelectorAll("main .step")) section.hidden = true;
  $("loading").hidden = true;
  const section = document.createElement("section");
  section.className = "step";
  section.id = "handoff-refused";
  const key = `errors.${err.code}`;
  const reason = has(key) ? t(key) : t("errors.handoff_invalid");
  const parts = [
    ["h1", t("handoff.refused_title")],
    ["p", reason],
    ["p", t("handoff.what_to_do")],
  ];
  for (const [tag, text] of parts) {
    const el = document.createElement(tag);
    el.textContent = text;
    section.append(el);
  }
  section.dataset.error = err.code;
  $("main").append(section);
  const box = returnButton();
  if (box && (returnUrl() || channel())) {
    section.append(box); // the one "Kembali ke aplikasi" button, moved here
    box.hidden = false;
  }
  notify("link_refused", { error: err.code });
}

/**
 * On /r/<code>: trade the code for the token (once). Returns false when the link could not be
 * used (the page then says why), true otherwise; the caller resumes the journey after it.
 */
export async function arrive() {
  const match = window.location.pathname.match(LINK_PATH);
  if (!match) return true;
  history.replaceState(null, "", "/"); // the code leaves the address bar and the history now
  const loading = $("loading");
  if (loading) {
    loading.dataset.i18n = "handoff.opening";
    loading.textContent = t("handoff.opening");
  }
  try {
    const out = await withRetry(() => call("POST", "/api/handoff/exchange", { json: { code: match[1] } }));
    setToken(out.token);
    localStorage.removeItem(STAGE_KEY);
    if (out.return_url) localStorage.setItem(RETURN_KEY, out.return_url);
    else localStorage.removeItem(RETURN_KEY);
    observeRecord(out.record);
    prefill(out.prefill);
    refreshReturnButton();
    return true;
  } catch (err) {
    showRefused(err);
    return false;
  }
}

/** The server's page for a refused link (web/handoff_api.py): tell the host, wire the link. */
function onRefusedPage() {
  notify("link_refused", { error: document.body.dataset.error || "handoff_invalid" });
  const link = $("host-return-link");
  if (link) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      backToApp(link.href);
    });
  }
  const button = $("host-return-button");
  if (button && channel()) {
    button.hidden = false;
    button.addEventListener("click", () => backToApp(null));
  }
}

if (document.body.dataset.page === "handoff-refused") {
  onRefusedPage();
} else {
  watchSteps();
  refreshReturnButton();
}
