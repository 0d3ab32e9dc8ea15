// The officer's desk: presence, the live queue, Accept next, and the call view with the record,
// snapshots, quality traffic light, checklist and decision.
import { io } from "/static/vendor/socket.io.esm.min.js";
import * as i18n from "./i18n.js";
import { t, formatDuration } from "./i18n.js";
import { call } from "./api.js";
import { clearErrors, showError, errorText } from "./forms.js";
import { banner } from "./net.js";
import { requireLogin, showRecord, staffImage } from "./staff.js";
import { MediaLink } from "./media_link.js";
import { confirmTwice } from "./confirm.js";
import { closeZoom, setupZoom, zoomable } from "./officer_zoom.js";
import * as decision from "./officer_decision.js";
import { followWatch } from "./officer_watched.js";

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
const state = {
  me: null,
  socket: null,
  queue: null,
  call: null,
  media: null,
  camera: null, // the officer's own getUserMedia stream, stopped when the call ends
  undecided: [],
};
// The presence the officer chose, kept for this tab across reloads (the server's own state
// says "away" for a new connection until the page says otherwise).
const PRESENCE_KEY = "vc_officer_presence";

function chosenPresence() {
  const stored = sessionStorage.getItem(PRESENCE_KEY);
  return stored === "available" || stored === "away" ? stored : "away";
}

// -- desk -------------------------------------------------------------------------------

function connect() {
  const socket = io("/officer", { transports: ["websocket", "polling"], reconnectionDelayMax: 5000 });
  state.socket = socket;
  let dropped = false;
  socket.on("connect", () => {
    if (dropped) banner("ok", "net.back");
    dropped = false;
    socket.emit(EV.presence, { presence: chosenPresence() }, ack);
  });
  socket.on("disconnect", () => {
    dropped = true;
    banner("warn", "net.socket_lost");
  });
  socket.on("connect_error", () => {
    dropped = true;
    banner("warn", "net.socket_lost");
  });
  socket.on(EV.presenceState, (msg) => {
    showPresence(msg.presence);
    if (Array.isArray(msg.undecided)) renderUndecided(msg.undecided);
  });
  socket.on(EV.queue, renderQueue);
  socket.on(EV.paired, (msg) => openCall(msg));
  socket.on(EV.peer, (msg) => {
    $("o-call-status").textContent = t(msg.status === "reconnecting" ? "ocall.peer_reconnecting" : "ocall.peer_resumed");
  });
  socket.on(EV.ended, (msg) => callEnded(msg));
  socket.on(EV.error, (msg) => deskError(msg));
  followWatch(socket, () => state.call); // "a supervisor is watching this call"
}

function ack(reply) {
  if (reply && reply.error) deskError(reply);
  if (reply && reply.presence) showPresence(reply.presence);
  if (reply && reply.queue) renderQueue(reply.queue);
  if (reply && Array.isArray(reply.undecided)) renderUndecided(reply.undecided);
}

function deskError(msg) {
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
  let help = !available ? t("desk.accept_needs_available") : waiting ? "" : t("desk.empty");
  if (state.undecided.length) help = t("desk.accept_needs_decision");
  $("accept-help").textContent = help;
}

// -- calls awaiting this officer's decision ------------------------------------------------

async function loadUndecided() {
  try {
    renderUndecided((await call("GET", "/api/sessions/undecided")).items);
  } catch {
    /* the socket's presence answer carries the same list */
  }
}

function renderUndecided(items) {
  state.undecided = items.filter((item) => !state.me || item.officer_id === state.me.id);
  const rows = state.undecided.map((item) => {
    const tr = document.createElement("tr");
    tr.dataset.sessionId = item.session_id;
    const name = document.createElement("td");
    name.textContent = item.full_name || "–";
    const ended = document.createElement("td");
    ended.textContent = item.ended_at ? i18n.formatDateTime(item.ended_at) : "–";
    const action = document.createElement("td");
    const open = document.createElement("button");
    open.type = "button";
    open.className = "primary";
    open.textContent = t("desk.undecided_open");
    open.addEventListener("click", () => openDecision(item));
    action.append(open);
    tr.append(name, ended, action);
    return tr;
  });
  $("undecided-list").replaceChildren(...rows);
  $("undecided").hidden = rows.length === 0;
  updateAccept();
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
      } else if (reply && (reply.session_id || reply.call)) openCall(reply.call || reply);
    });
  });
  i18n.onChange(() => {
    if (state.queue) renderQueue(state.queue);
    if (state.media) renderTraffic();
    renderUndecided(state.undecided);
  });
}

// -- call -------------------------------------------------------------------------------

function showCallView(msg, live) {
  state.call = { ...msg, snapshots: [], live, ended: !live };
  closeZoom();
  $("desk").hidden = true;
  $("callview").hidden = false;
  $("callview").dataset.live = String(live);
  $("h-call").focus();
  $("o-code").textContent = msg.code || msg.random_code || "–";
  $("o-call-status").textContent = t(live ? "ocall.connecting" : "ocall.decide_only");
  $("o-hangup").disabled = !live;
  $("o-back").hidden = live;
  for (const b of document.querySelectorAll("#snap-face, #snap-ktp")) b.disabled = !live;
  $("snap-status").textContent = "";
  $("snapshots").replaceChildren();
  $("o-hints").replaceChildren();
  $("traffic").dataset.level = "unknown";
  $("traffic-text").textContent = t("traffic.unknown");
  decision.resetForm();
}

async function loadRecordAndEvidence(msg) {
  try {
    showRecord("oc", await call("GET", `/api/records/${msg.record_id}`));
  } catch (err) {
    $("o-call-status").textContent = `⚠ ${errorText(err)}`;
  }
  try {
    return await call("GET", `/api/sessions/${msg.session_id}`);
  } catch {
    return null; // the code also comes with the pairing
  }
}

async function openCall(msg) {
  if (state.call && state.call.session_id === msg.session_id) return;
  showCallView(msg, true);
  const evidence = await loadRecordAndEvidence(msg);
  if (evidence && evidence.random_code) $("o-code").textContent = evidence.random_code;
  for (const snap of (evidence && evidence.snapshots) || []) addSnapshot(snap, msg.session_id);
  const current = state.call;
  const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  if (state.call !== current || current.ended) {
    // The call ended while the camera was opening: do not leave it on.
    for (const track of stream.getTracks()) track.stop();
    return;
  }
  state.camera = stream;
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

/** An undecided call from the desk: its record and evidence, the decision form, no media. */
async function openDecision(item) {
  if (state.call) return;
  showCallView({ session_id: item.session_id, record_id: item.record_id }, false);
  const evidence = await loadRecordAndEvidence(item);
  if (!evidence) return;
  if (evidence.random_code) $("o-code").textContent = evidence.random_code;
  for (const snap of evidence.snapshots || []) addSnapshot(snap, item.session_id);
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
    addSnapshot({ ...reply.snapshot, kind, thumbnail: reply.thumbnail }, state.call.session_id);
    $("snap-status").textContent = t("ocall.snapped", { kind: t(`snapshot.${kind}`) });
  } catch (err) {
    $("snap-status").textContent = `⚠ ${errorText(err)}`;
  } finally {
    for (const b of document.querySelectorAll("#snap-face, #snap-ktp")) b.disabled = !state.media;
  }
}

function addSnapshot(snap, sessionId) {
  state.call.snapshots.push(snap);
  const fig = document.createElement("figure");
  fig.dataset.kind = snap.kind;
  const img = document.createElement("img");
  img.alt = t(`snapshot.${snap.kind}`);
  if (snap.thumbnail) img.src = snap.thumbnail; // a data: URL from the server
  else if (snap.thumbnail_file || snap.file) {
    const name = encodeURIComponent(snap.thumbnail_file || snap.file);
    staffImage(img, `/api/sessions/${sessionId}/snapshots/${name}`).catch(() => {});
  }
  const full = snap.file ? `/api/sessions/${sessionId}/snapshots/${encodeURIComponent(snap.file)}` : null;
  zoomable(img, () => `${t("ocall.snapshots")}: ${t(`snapshot.${snap.kind}`)}`, () => full);
  const cap = document.createElement("figcaption");
  const problems = [snap.bad_lighting && "snapshot.bad_lighting", snap.blurry && "snapshot.blurry"].filter(Boolean);
  if (!problems.length && snap.bad) problems.push("snapshot.not_usable");
  cap.textContent = `${t(`snapshot.${snap.kind}`)}: ${problems.length ? "⚠ " + problems.map((k) => t(k)).join(", ") : "✓ " + t("snapshot.usable")}`;
  fig.append(img, cap);
  $("snapshots").append(fig);
}

function stopCamera() {
  if (state.camera) for (const track of state.camera.getTracks()) track.stop();
  state.camera = null;
  $("o-local-video").srcObject = null;
}

function stopMedia() {
  if (state.media) state.media.close();
  state.media = null;
  stopCamera();
}

function callEnded(msg) {
  if (!state.call || (msg && msg.session_id && msg.session_id !== state.call.session_id)) return;
  stopMedia();
  state.call.ended = true;
  state.call.live = false;
  $("callview").dataset.live = "false";
  if (state.call.resolveEnded) state.call.resolveEnded();
  if (!state.call.decided) $("o-call-status").textContent = t("ocall.ended");
  $("o-hangup").disabled = true;
  $("o-back").hidden = false;
  for (const b of document.querySelectorAll("#snap-face, #snap-ktp")) b.disabled = true;
  // Warnings were about the live call: none of them holds once it is over.
  $("o-hints").replaceChildren();
  $("traffic").dataset.level = "unknown";
  $("traffic-text").textContent = t("traffic.unknown");
}

/** Hang up without a decision: the call waits for one, on this desk, across reloads. */
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
  stopMedia();
  closeZoom();
  state.call = null;
  $("callview").hidden = true;
  $("desk").hidden = false;
  $("o-hangup").disabled = false;
  // Tell the desk we are free again; its answer also lists any call still waiting for a decision.
  state.socket.emit(EV.presence, { presence: chosenPresence() }, ack);
  loadUndecided();
  updateAccept();
}

// -- decision ---------------------------------------------------------------------------

function setupDecision() {
  const form = $("form-decision");
  for (const radio of form.querySelectorAll("input[name=result]")) {
    radio.addEventListener("change", decision.renderReasons);
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = decision.read(form);
    if (!body) return;
    $("decide").disabled = true;
    const current = state.call;
    try {
      // Sent while the call is live: the server checks it first and ends the call only when it
      // is complete, so missing evidence can still be fixed in the call.
      await call("POST", `/api/sessions/${current.session_id}/decision`, { json: body });
      current.decided = true;
      $("decision-done").textContent = `✓ ${t("decision.saved")}`;
      $("decision-done").hidden = false;
      stopMedia();
      setTimeout(backToDesk, 1500);
    } catch (err) {
      $("decide").disabled = false;
      decision.showError(form, err, current);
    }
  });
  confirmTwice($("o-hangup"), "call.hang_up_confirm", () => {
    endCall().catch((err) => showError($("form-decision"), err, "err-form-decision"));
  });
  $("o-back").addEventListener("click", backToDesk);
  $("snap-face").addEventListener("click", () => snapshot("face"));
  $("snap-ktp").addEventListener("click", () => snapshot("ktp"));
  i18n.onChange(() => {
    decision.renderChecklist();
    decision.renderReasons();
  });
}

function setupPhotos() {
  for (const kind of ["ktp", "selfie_with_ktp", "face"]) {
    zoomable($(`oc-photo-${kind}`), () => t(`documents.${kind}`));
  }
}

async function main() {
  state.me = await requireLogin(["officer", "supervisor"]);
  $("desk").hidden = false;
  showPresence("away");
  setupDesk();
  setupDecision();
  setupZoom();
  setupPhotos();
  connect();
  loadUndecided();
  await decision.loadReasons().catch((err) => deskError(err));
  document.body.dataset.ready = "true";
}

main();
