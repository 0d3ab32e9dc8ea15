// The officer's desk: presence, the live queue, Accept next and the calls still awaiting this
// officer's decision. The call view (officer_call.js) is opened through the handlers given to
// setupDesk.
import * as i18n from "./i18n.js";
import { t, formatDuration } from "./i18n.js";
import { call } from "./api.js";
import { errorText } from "./forms.js";
import { EV, $, state, PRESENCE_KEY } from "./officer_state.js";

const open = { call: () => {}, decision: () => {} };

/** The answer to a desk event: errors, presence, queue and undecided calls, as they come. */
export function ack(reply) {
  if (reply && reply.error) deskError(reply);
  if (reply && reply.presence) showPresence(reply.presence);
  if (reply && reply.queue) renderQueue(reply.queue);
  if (reply && Array.isArray(reply.undecided)) renderUndecided(reply.undecided);
}

export function deskError(msg) {
  const err = (msg && msg.error) || msg || {};
  const box = $("err-desk");
  box.textContent = `⚠ ${errorText(err)}`;
  box.hidden = false;
  if (err.code === "decision_pending") {
    // The call waiting for a decision is the way out: show it and put the officer on it.
    loadUndecided().then(() => {
      const first = document.querySelector("#undecided-list button");
      if (first) first.focus();
    });
  }
}

export function showPresence(presence) {
  const tag = $("presence-state");
  tag.dataset.presence = presence;
  tag.className = `tag ${presence === "available" ? "ok" : presence === "busy" ? "warn" : ""}`;
  tag.textContent = t(`presence.${presence}`);
  const radio = document.querySelector(`input[name=presence][value=${presence}]`);
  if (radio) radio.checked = true;
  updateAccept();
}

export function updateAccept() {
  const available = $("presence-state").dataset.presence === "available";
  const waiting = state.queue ? state.queue.count : 0;
  $("accept-next").disabled = !(available && waiting > 0) || !!state.call;
  let help = !available ? t("desk.accept_needs_available") : waiting ? "" : t("desk.empty");
  if (state.undecided.length) help = t("desk.accept_needs_decision");
  $("accept-help").textContent = help;
}

// -- calls awaiting this officer's decision ------------------------------------------------

export async function loadUndecided() {
  try {
    renderUndecided((await call("GET", "/api/sessions/undecided")).items);
  } catch {
    /* the socket's presence answer carries the same list */
  }
}

export function renderUndecided(items) {
  state.undecided = items.filter((item) => !state.me || item.officer_id === state.me.id);
  const rows = state.undecided.map((item) => {
    const tr = document.createElement("tr");
    tr.dataset.sessionId = item.session_id;
    const name = document.createElement("td");
    name.textContent = item.full_name || "–";
    const ended = document.createElement("td");
    ended.textContent = item.ended_at ? i18n.formatDateTime(item.ended_at) : "–";
    const action = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "primary";
    button.textContent = t("desk.undecided_open");
    button.addEventListener("click", () => open.decision(item));
    action.append(button);
    tr.append(name, ended, action);
    return tr;
  });
  $("undecided-list").replaceChildren(...rows);
  $("undecided").hidden = rows.length === 0;
  updateAccept();
}

/** The officers' queue view (videocall.queue.OfficerQueueView as JSON). */
export function renderQueue(view) {
  const entries = Array.isArray(view.entries) ? view.entries : [];
  const count = typeof view.waiting === "number" ? view.waiting : entries.length;
  state.queue = { ...view, count };
  $("desk-count").textContent = String(count);
  $("desk-longest").textContent = view.longest_wait_seconds != null ? formatDuration(view.longest_wait_seconds) : "–";
  $("desk-officers").textContent = view.officers_available != null ? String(view.officers_available) : "–";
  const rows = entries.map((w, i) => {
    const tr = document.createElement("tr");
    tr.dataset.recordId = w.record_id;
    const cells = [
      String(i + 1),
      w.name || "–",
      w.nik_masked || "–",
      w.wait_seconds != null ? formatDuration(w.wait_seconds) : "–",
      `${w.lane === "priority" ? t("desk.lane_priority") : t("desk.lane_normal")}${w.connected === false ? " · " + t("desk.disconnected") : ""}`,
    ];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  $("waiting-list").replaceChildren(...rows);
  $("waiting-empty").hidden = rows.length > 0;
  updateAccept();
}

/** Wire the desk; `openCall(msg)` shows a paired call, `openDecision(item)` an undecided one. */
export function setupDesk({ openCall, openDecision }) {
  open.call = openCall;
  open.decision = openDecision;
  for (const radio of document.querySelectorAll("input[name=presence]")) {
    radio.addEventListener("change", () => {
      sessionStorage.setItem(PRESENCE_KEY, radio.value);
      state.socket.emit(EV.presence, { presence: radio.value }, ack);
    });
  }
  $("accept-next").addEventListener("click", () => {
    $("err-desk").hidden = true;
    $("accept-next").disabled = true;
    state.socket.emit(EV.accept, {}, (reply) => {
      if (reply && reply.error) {
        deskError(reply);
        updateAccept();
      } else if (reply && (reply.session_id || reply.call)) open.call(reply.call || reply);
    });
  });
  i18n.onChange(() => {
    if (state.queue) renderQueue(state.queue);
    renderUndecided(state.undecided);
  });
}
