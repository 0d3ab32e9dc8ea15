// The officer's desk: presence, the live queue, Accept next, and the call view with the record,
// snapshots, quality traffic light, checklist and decision.
import { io } from "/static/vendor/socket.io.esm.min.js";
import * as i18n from "./i18n.js";
import { t, formatDuration } from "./i18n.js";
import { call } from "./api.js";
import { clearErrors, showError, errorText } from "./forms.js";
import { banner } from "./net.js";
import { requireLogin, showRecord } from "./staff.js";
import { MediaLink } from "./media_link.js";
import { confirmTwice } from "./confirm.js";

// Event names of the /officer namespace (signaling/officer.py).
export const EV = {
  presence: "set_presence",
  presenceState: "presence",
  queue: "queue_view",
  accept: "accept_next",
  paired: "paired",
  peer: "peer_status",
  hangUp: "end_call",
  ended: "call_ended",
  error: "error",
};

const $ = (id) => document.getElementById(id);
const state = { me: null, socket: null, queue: null, call: null, media: null, reasons: [], checklist: [] };

// -- desk -------------------------------------------------------------------------------

function connect() {
  const socket = io("/officer", { transports: ["websocket", "polling"], reconnectionDelayMax: 5000 });
  state.socket = socket;
  let dropped = false;
  socket.on("connect", () => {
    if (dropped) banner("ok", "net.back");
    dropped = false;
    const presence = document.querySelector("input[name=presence]:checked").value;
    socket.emit(EV.presence, { presence }, ack);
  });
  socket.on("disconnect", () => {
    dropped = true;
    banner("warn", "net.socket_lost");
  });
  socket.on("connect_error", () => {
    dropped = true;
    banner("warn", "net.socket_lost");
  });
  socket.on(EV.presenceState, (msg) => showPresence(msg.presence));
  socket.on(EV.queue, renderQueue);
  socket.on(EV.paired, (msg) => openCall(msg));
  socket.on(EV.peer, (msg) => {
    $("o-call-status").textContent = t(msg.status === "reconnecting" ? "ocall.peer_reconnecting" : "ocall.peer_resumed");
  });
  socket.on(EV.ended, (msg) => callEnded(msg));
  socket.on(EV.error, (msg) => deskError(msg));
}

function ack(reply) {
  if (reply && reply.error) deskError(reply);
  if (reply && reply.presence) showPresence(reply.presence);
  if (reply && reply.queue) renderQueue(reply.queue);
}

function deskError(msg) {
  const err = (msg && msg.error) || msg || {};
  const box = $("err-desk");
  box.textContent = `⚠ ${errorText(err)}`;
  box.hidden = false;
}

function showPresence(presence) {
  const tag = $("presence-state");
  tag.dataset.presence = presence;
  tag.className = `tag ${presence === "available" ? "ok" : presence === "busy" ? "warn" : ""}`;
  tag.textContent = t(`presence.${presence}`);
  const radio = document.querySelector(`input[name=presence][value=${presence}]`);
  if (radio) radio.checked = true;
  updateAccept();
}

function updateAccept() {
  const available = $("presence-state").dataset.presence === "available";
  const waiting = state.queue ? state.queue.count : 0;
  $("accept-next").disabled = !(available && waiting > 0) || !!state.call;
  $("accept-help").textContent = !available ? t("desk.accept_needs_available") : waiting ? "" : t("desk.empty");
}

/** The officers' queue view (videocall.queue.OfficerQueueView as JSON). */
function renderQueue(view) {
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

function setupDesk() {
  for (const radio of document.querySelectorAll("input[name=presence]")) {
    radio.addEventListener("change", () => state.socket.emit(EV.presence, { presence: radio.value }, ack));
  }
  $("accept-next").addEventListener("click", () => {
    $("err-desk").hidden = true;
    $("accept-next").disabled = true;
    state.socket.emit(EV.accept, {}, (reply) => {
      if (reply && reply.error) {
        deskError(reply);
        updateAccept();
      } else if (reply && (reply.session_id || reply.call)) openCall(reply.call || reply);
    });
  });
  i18n.onChange(() => {
    if (state.queue) renderQueue(state.queue);
    if (state.media) renderTraffic();
  });
}

// -- call -------------------------------------------------------------------------------

async function openCall(msg) {
  if (state.call && state.call.session_id === msg.session_id) return;
  state.call = { ...msg, snapshots: [] };
  $("desk").hidden = true;
  $("callview").hidden = false;
  $("h-call").focus();
  $("o-code").textContent = msg.code || msg.random_code || "–";
  $("o-call-status").textContent = t("ocall.connecting");
  $("snapshots").replaceChildren();
  resetDecisionForm();
  try {
    showRecord("oc", await call("GET", `/api/records/${msg.record_id}`));
  } catch (err) {
    $("o-call-status").textContent = `⚠ ${errorText(err)}`;
  }
  try {
    const evidence = await call("GET", `/api/sessions/${msg.session_id}`);
    if (evidence.random_code) $("o-code").textContent = evidence.random_code;
  } catch {
    /* the code may also come with the pairing */
  }
  const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  $("o-local-video").srcObject = stream;
  const ticket = msg.media || msg.ticket;
  if (!ticket) return;
  state.media = new MediaLink({
    role: "officer",
    ticket,
    stream,
    remoteVideo: $("o-remote-video"),
    onStatus: (key) => {
      $("o-call-status").textContent = t(key.replace(/^call\./, "ocall."));
      renderTraffic();
    },
    onQuality: renderTraffic,
    onEnded: callEnded,
  });
  state.media.start();
}

function renderTraffic() {
  if (!state.media) return;
  const { level, hints } = state.media.quality();
  const box = $("traffic");
  box.dataset.level = level;
  $("traffic-text").textContent = t(`traffic.${level}`);
  $("o-hints").replaceChildren(
    ...hints.map((code) => {
      const li = document.createElement("li");
      li.dataset.hint = code;
      li.textContent = `⚠ ${t(`ohint.${code}`)}`;
      return li;
    }),
  );
}

async function snapshot(kind) {
  if (!state.media) return;
  $("snap-status").textContent = t("ocall.snapping");
  for (const b of document.querySelectorAll("#snap-face, #snap-ktp")) b.disabled = true;
  try {
    const reply = await state.media.snapshot(kind);
    addSnapshot({ ...reply.snapshot, kind, thumbnail: reply.thumbnail });
  } catch (err) {
    $("snap-status").textContent = `⚠ ${errorText(err)}`;
  } finally {
    for (const b of document.querySelectorAll("#snap-face, #snap-ktp")) b.disabled = false;
  }
}

function addSnapshot(snap) {
  state.call.snapshots.push(snap);
  const fig = document.createElement("figure");
  fig.dataset.kind = snap.kind;
  const img = document.createElement("img");
  if (snap.thumbnail) img.src = snap.thumbnail; // a data: URL from the server
  img.alt = t(`snapshot.${snap.kind}`);
  const cap = document.createElement("figcaption");
  const problems = [snap.bad_lighting && "snapshot.bad_lighting", snap.blurry && "snapshot.blurry"].filter(Boolean);
  cap.textContent = `${t(`snapshot.${snap.kind}`)}: ${problems.length ? "⚠ " + problems.map((k) => t(k)).join(", ") : "✓ " + t("snapshot.usable")}`;
  fig.append(img, cap);
  $("snapshots").append(fig);
  $("snap-status").textContent = t("ocall.snapped", { kind: t(`snapshot.${snap.kind}`) });
}

function callEnded(msg) {
  if (!state.call || (msg && msg.session_id && msg.session_id !== state.call.session_id)) return;
  if (state.media) state.media.close();
  state.media = null;
  state.call.ended = true;
  if (state.call.resolveEnded) state.call.resolveEnded();
  $("o-call-status").textContent = t("ocall.ended");
  $("o-hangup").disabled = true;
  $("traffic").dataset.level = "unknown";
  $("traffic-text").textContent = t("traffic.unknown");
}

/** Hang up (if still live) and wait until the server has closed the call's media, so the
 * recording is stored before the decision refers to it. */
async function endCall() {
  const current = state.call;
  if (!current || current.ended) return;
  const ended = new Promise((resolve) => (current.resolveEnded = resolve));
  const reply = await state.socket.timeout(10000).emitWithAck(EV.hangUp, { session_id: current.session_id });
  if (reply && reply.ok === false && reply.error.code !== "no_call") throw reply.error;
  await Promise.race([ended, new Promise((r) => setTimeout(r, 10000))]);
  callEnded({ session_id: current.session_id });
}

function backToDesk() {
  if (state.media) state.media.close();
  state.media = null;
  state.call = null;
  $("callview").hidden = true;
  $("desk").hidden = false;
  $("o-hangup").disabled = false;
  // Tell the desk we are free again (the server releases an officer whose call is decided).
  const presence = document.querySelector("input[name=presence]:checked").value;
  state.socket.emit(EV.presence, { presence: presence === "busy" ? "available" : presence }, ack);
  updateAccept();
}

// -- decision ---------------------------------------------------------------------------

async function loadReasons() {
  const out = await call("GET", "/api/outcomes/reasons");
  state.reasons = out.reasons;
  state.checklist = out.checklist;
  renderChecklist();
  renderReasons();
}

function checkbox(name, value, label) {
  const li = document.createElement("li");
  const lab = document.createElement("label");
  lab.className = "choice";
  const input = document.createElement("input");
  input.type = "checkbox";
  input.name = name;
  input.value = value;
  input.id = `${name}-${value}`;
  const span = document.createElement("span");
  span.textContent = label;
  lab.append(input, span);
  li.append(lab);
  return li;
}

function renderChecklist() {
  const checked = new Set([...document.querySelectorAll("input[name=checklist]:checked")].map((i) => i.value));
  $("checklist").replaceChildren(...state.checklist.map((item) => checkbox("checklist", item, t(`checklist.${item}`))));
  for (const input of document.querySelectorAll("input[name=checklist]")) input.checked = checked.has(input.value);
}

function renderReasons() {
  const result = (document.querySelector("input[name=result]:checked") || {}).value;
  const checked = new Set([...document.querySelectorAll("input[name=reasons]:checked")].map((i) => i.value));
  const fitting = state.reasons.filter((r) => result && result !== "approved" && r.results.includes(result));
  $("reasons").replaceChildren(
    ...fitting.map((r) => checkbox("reasons", r.code, i18n.has(`reason.${r.code}`) ? t(`reason.${r.code}`) : r.description)),
  );
  for (const input of document.querySelectorAll("input[name=reasons]")) input.checked = checked.has(input.value);
  $("reasons-box").hidden = fitting.length === 0;
}

function resetDecisionForm() {
  const form = $("form-decision");
  form.reset();
  clearErrors(form);
  renderChecklist();
  renderReasons();
  $("decide").disabled = false;
  $("decision-done").hidden = true;
}

function setupDecision() {
  const form = $("form-decision");
  for (const radio of form.querySelectorAll("input[name=result]")) radio.addEventListener("change", renderReasons);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const result = (form.querySelector("input[name=result]:checked") || {}).value;
    if (!result) return showError(form, { field: "result", code: "result_required", message: "" });
    const checklist = {};
    for (const input of form.querySelectorAll("input[name=checklist]")) checklist[input.value] = input.checked;
    const reasons = [...form.querySelectorAll("input[name=reasons]:checked")].map((i) => i.value);
    $("decide").disabled = true;
    try {
      await endCall();
      await call("POST", `/api/sessions/${state.call.session_id}/decision`, {
        json: { result, reasons, checklist, notes: form.notes.value },
      });
      $("decision-done").textContent = `✓ ${t("decision.saved")}`;
      $("decision-done").hidden = false;
      if (state.media) state.media.close();
      setTimeout(backToDesk, 1500);
    } catch (err) {
      $("decide").disabled = false;
      showError(form, err, "err-form-decision");
    }
  });
  confirmTwice($("o-hangup"), "call.hang_up_confirm", () => {
    endCall().catch((err) => showError($("form-decision"), err, "err-form-decision"));
  });
  $("snap-face").addEventListener("click", () => snapshot("face"));
  $("snap-ktp").addEventListener("click", () => snapshot("ktp"));
  i18n.onChange(() => {
    renderChecklist();
    renderReasons();
  });
}

async function main() {
  state.me = await requireLogin(["officer", "supervisor"]);
  $("desk").hidden = false;
  showPresence("away");
  connect();
  setupDesk();
  setupDecision();
  await loadReasons().catch((err) => deskError(err));
  document.body.dataset.ready = "true";
}

main();
