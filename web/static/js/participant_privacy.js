// The participant's personal-data controls on the status page: download one's own data (a ZIP),
// request deletion (pressed twice), and the latest request's status.
import { t, onChange, formatDateTime } from "./i18n.js";
import { call, token, ApiError } from "./api.js";
import { errorText } from "./forms.js";
import { confirmTwice } from "./confirm.js";

const $ = (id) => document.getElementById(id);
const state = { latest: null };

function say(text, isError = false) {
  const box = $("privacy-status");
  box.textContent = text;
  box.classList.toggle("error", isError);
  box.hidden = !text;
}

function renderStatus() {
  const r = state.latest;
  $("privacy-request").hidden = Boolean(r && r.status === "pending");
  if (!r) return say("");
  const at = formatDateTime(r.reviewed_at || r.requested_at);
  if (r.status === "pending") say(t("privacy.status_pending", { at, due: formatDateTime(r.due_at) }));
  else if (r.status === "refused") say(t("privacy.status_refused", { reason: r.review_reason || "" }));
  else say(t("privacy.status_done", { at }));
}

async function loadStatus() {
  try {
    const body = await call("GET", "/api/me/deletion-request", { auth: true });
    state.latest = body.items[0] || null;
    renderStatus();
  } catch {
    /* not registered yet or offline: the controls stay as they are */
  }
}

async function download() {
  const button = $("privacy-download");
  button.disabled = true;
  say(t("privacy.downloading"));
  try {
    const response = await fetch("/api/me/export", {
      headers: { Authorization: `Bearer ${token()}` },
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new ApiError(response.status, (body.error && body.error.code) || "http_error", "");
    }
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = "data-saya.zip";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    renderStatus();
  } catch (err) {
    say(`⚠ ${errorText(err)}`, true);
  } finally {
    button.disabled = false;
  }
}

async function requestDeletion() {
  try {
    state.latest = await call("POST", "/api/me/deletion-request", { auth: true, json: {} });
    renderStatus();
  } catch (err) {
    say(`⚠ ${errorText(err)}`, true);
  }
}

function start() {
  if (!$("privacy-box") || !token()) return;
  $("privacy-box").hidden = false;
  $("privacy-download").addEventListener("click", download);
  confirmTwice($("privacy-request"), "privacy.confirm_request", requestDeletion);
  onChange(renderStatus);
  loadStatus();
}

start();
