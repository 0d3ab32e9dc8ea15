// The supervisor's evidence and personal-data panel: download a record's evidence bundle, and
// review deletion requests (delete, pressed twice; or refuse with a reason).
import { t, onChange, formatDateTime } from "./i18n.js";
import { call } from "./api.js";
import { errorText } from "./forms.js";
import { confirmTwice } from "./confirm.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 30_000;
const LOGIN_POLL_MS = 3_000; // until a supervisor has logged in on this page
const ID_PATTERN = /^[0-9a-f-]{36}$/;
const state = { items: [] };

function say(text) {
  const box = $("evidence-error");
  box.textContent = text ? `⚠ ${text}` : "";
  box.hidden = !text;
}

function cell(tr, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  tr.append(td);
}

function button(key, cls) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.dataset.i18n = key;
  b.textContent = t(key);
  return b;
}

async function act(path, body) {
  try {
    await call("POST", path, { json: body });
    say("");
  } catch (err) {
    say(errorText(err));
  }
  await load();
}

function actions(item) {
  const box = document.createElement("div");
  box.className = "actions";
  if (item.status !== "pending") return box;
  const approve = button("evidence_panel.approve", "danger");
  confirmTwice(approve, "evidence_panel.confirm_approve", () =>
    act(`/api/deletion-requests/${item.id}/approve`),
  );
  const reason = document.createElement("input");
  reason.type = "text";
  reason.maxLength = 200;
  reason.setAttribute("aria-label", t("evidence_panel.refuse_reason"));
  reason.placeholder = t("evidence_panel.refuse_reason");
  const refuse = button("evidence_panel.refuse", "secondary");
  refuse.addEventListener("click", () =>
    act(`/api/deletion-requests/${item.id}/refuse`, { reason: reason.value }),
  );
  box.append(approve, reason, refuse);
  return box;
}

function render() {
  const list = $("deletion-list");
  list.replaceChildren();
  for (const item of state.items) {
    const tr = document.createElement("tr");
    cell(tr, item.record_id);
    cell(tr, item.requested_by);
    const due = formatDateTime(item.due_at);
    cell(tr, item.overdue ? `${due} (⚠ ${t("evidence_panel.overdue")})` : due);
    cell(tr, t(`evidence_panel.status_${item.status}`));
    cell(tr, actions(item));
    list.append(tr);
  }
  $("deletion-empty").hidden = state.items.length > 0;
}

async function load() {
  try {
    state.items = (await call("GET", "/api/deletion-requests")).items;
    $("evidence-panel").hidden = false;
    render();
  } catch (err) {
    if (err.status === 401 || err.status === 403) return; // not (yet) a logged-in supervisor
    say(errorText(err));
  }
}

async function loop() {
  await load();
  setTimeout(loop, $("evidence-panel").hidden ? LOGIN_POLL_MS : REFRESH_MS);
}

function wireBundle() {
  const form = $("bundle-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = form.record_id.value.trim().toLowerCase();
    if (!ID_PATTERN.test(id)) return say(errorText({ code: "invalid_field" }));
    say("");
    // A plain navigation: the session cookie goes along and the browser saves the ZIP.
    const link = document.createElement("a");
    link.href = `/api/records/${encodeURIComponent(id)}/evidence.zip`;
    link.download = `evidence-${id}.zip`;
    document.body.append(link);
    link.click();
    link.remove();
  });
}

function start() {
  if (!$("evidence-panel")) return;
  wireBundle();
  onChange(render);
  loop();
}

start();
