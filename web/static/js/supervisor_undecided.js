// The supervisor's undecided calls: calls that ended without the officer's decision. Past the
// time limit (`stale`) a supervisor decides one; any of them can be sent back to the queue with a
// reason, which the participant's page then shows.
import { t, formatDateTime } from "./i18n.js";
import { call } from "./api.js";
import { clearErrors, showError, errorText } from "./forms.js";
import { read, loadReasons, renderReasons, resetForm } from "./officer_decision.js";
import { cell, fillSelect, tag } from "./staff.js";

const $ = (id) => document.getElementById(id);
const RELEASE_REASONS = ["officer_unavailable", "evidence_incomplete", "technical_problem"];
const state = { items: [], current: null, onDone: null, officers: new Map() };

/** "officer:budi" -> "budi": who made a history entry. */
export function actorName(actor) {
  return actor ? actor.slice(actor.indexOf(":") + 1) : "";
}

/** Who recorded a call's decision (an officer, or a supervisor for a stale call). */
export function deciderOf(decision, record) {
  if (decision.officer_name) return decision.officer_name;
  return historyActor(record, (h) => h.detail.session_id === decision.session_id && Boolean(h.detail.result));
}

function historyActor(record, match) {
  const entry = ((record && record.history) || []).find((h) => h.detail && match(h));
  return entry ? actorName(entry.actor) : "";
}

/** Who took a call (the officer who paired it), when the list does not name them. */
async function officerName(item) {
  if (item.officer_name) return item.officer_name;
  if (!state.officers.has(item.session_id)) {
    const record = await call("GET", `/api/records/${item.record_id}`);
    const paired = (record.history || []).find(
      (h) => h.detail && h.detail.session_id === item.session_id && h.to === "in_call",
    );
    state.officers.set(item.session_id, paired ? actorName(paired.actor) : "");
  }
  return state.officers.get(item.session_id);
}

export async function loadUndecided() {
  const items = (await call("GET", "/api/sessions/undecided")).items;
  for (const item of items) item.officer_name = await officerName(item).catch(() => "");
  state.items = items;
  renderUndecided();
  return state.items;
}

export function renderUndecided() {
  $("undecided-list").replaceChildren(
    ...state.items.map((item) => {
      const tr = document.createElement("tr");
      tr.dataset.sessionId = item.session_id;
      tr.dataset.stale = String(item.stale);
      if (item.stale) tr.className = "overdue";
      cell(tr, item.full_name || "–");
      cell(tr, item.officer_name || "–");
      cell(tr, formatDateTime(item.ended_at));
      cell(tr, item.stale ? tag("fail", "undecided.stale") : tag("warn", "undecided.with_officer"));
      const open = document.createElement("button");
      open.type = "button";
      open.className = "secondary";
      open.textContent = t("undecided.open");
      open.addEventListener("click", () => state.onOpen(item));
      cell(tr, open);
      return tr;
    }),
  );
  $("undecided-empty").hidden = state.items.length > 0;
}

function fillReleaseReasons() {
  const options = RELEASE_REASONS.map((code) => [code, t(`release_reason.${code}`)]);
  fillSelect($("release-reason"), t("undecided.choose_release_reason"), options);
}

/** Show the decide and release forms for `item` (the review panel shows its evidence). */
export function showActions(item) {
  state.current = item;
  resetForm();
  const release = $("form-release");
  release.reset();
  clearErrors(release);
  $("release").disabled = false;
  $("release-done").hidden = true;
  $("decide-not-stale").hidden = item.stale;
  $("decide").disabled = !item.stale;
  $("undecided-actions").hidden = false;
}

export function hideActions() {
  state.current = null;
  $("undecided-actions").hidden = true;
}

function done(box, text) {
  box.textContent = `✓ ${text}`;
  box.hidden = false;
}

async function decide(event) {
  event.preventDefault();
  const form = $("form-decision");
  clearErrors(form);
  const body = read(form);
  if (!body) return;
  if (body.result !== "approved" && body.reasons.length === 0) {
    return showError(form, { code: "reasons_missing", message: "" }, "err-form-decision");
  }
  $("decide").disabled = true;
  try {
    await call("POST", `/api/sessions/${state.current.session_id}/decision`, { json: body });
    const record = await call("GET", `/api/records/${state.current.record_id}`);
    done($("decision-done"), t("undecided.decided", { state: t(`state.${record.state}`) }));
    $("decision-done").dataset.state = record.state;
    $("release").disabled = true;
    await state.onDone();
  } catch (err) {
    $("decide").disabled = false;
    showError(form, err, "err-form-decision");
  }
}

async function release(event) {
  event.preventDefault();
  const form = $("form-release");
  clearErrors(form);
  const reason = $("release-reason").value;
  if (!reason) return showError(form, { code: "release_reason_required", message: "" }, "err-form-release");
  $("release").disabled = true;
  try {
    await call("POST", `/api/sessions/${state.current.session_id}/release`, { json: { reason } });
    done($("release-done"), t("undecided.released"));
    $("decide").disabled = true;
    await state.onDone();
  } catch (err) {
    $("release").disabled = false;
    $("err-form-release").textContent = `⚠ ${errorText(err)}`;
    $("err-form-release").hidden = false;
  }
}

/** Wire the forms; `onOpen(item)` opens a call's evidence, `onDone()` refreshes the board. */
export async function setupUndecided({ onOpen, onDone }) {
  state.onOpen = onOpen;
  state.onDone = onDone;
  $("form-decision").addEventListener("submit", decide);
  $("form-release").addEventListener("submit", release);
  for (const radio of document.querySelectorAll("#form-decision input[name=result]")) {
    radio.addEventListener("change", renderReasons);
  }
  fillReleaseReasons();
  try {
    await loadReasons();
  } catch {
    /* the reasons list stays empty; the server still checks every decision */
  }
}

/** After a language switch. */
export function retranslate() {
  renderUndecided();
  fillReleaseReasons();
}
