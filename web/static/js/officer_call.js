// The officer's call view: the participant's record and photos, the live media with the quality
// traffic light, snapshots, hang-up and the decision form (officer_decision.js); also opened
// without media for a call that still awaits the decision.
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import { call } from "./api.js";
import { clearErrors, showError, errorText } from "./forms.js";
import { showRecord, staffImage } from "./staff.js";
import { MediaLink } from "./media_link.js";
import { confirmTwice } from "./confirm.js";
import { closeZoom, zoomable } from "./officer_zoom.js";
import * as decision from "./officer_decision.js";
import { EV, $, state, chosenPresence } from "./officer_state.js";
import { ack, loadUndecided, updateAccept } from "./officer_desk.js";

function snapButtons(disabled) {
  for (const b of document.querySelectorAll("#snap-face, #snap-ktp")) b.disabled = disabled;
}

/** The quality light and hints say nothing (yet, or no more once the call is over). */
function clearQuality() {
  $("o-hints").replaceChildren();
  $("traffic").dataset.level = "unknown";
  $("traffic-text").textContent = t("traffic.unknown");
}

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
  snapButtons(!live);
  $("snap-status").textContent = "";
  $("snapshots").replaceChildren();
  clearQuality();
  decision.resetForm();
}

/** The code and the snapshots taken so far, from the session's evidence (if it loaded). */
function showEvidence(evidence, sessionId) {
  if (!evidence) return;
  if (evidence.random_code) $("o-code").textContent = evidence.random_code;
  for (const snap of evidence.snapshots || []) addSnapshot(snap, sessionId);
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

export async function openCall(msg) {
  if (state.call && state.call.session_id === msg.session_id) return;
  showCallView(msg, true);
  const current = state.call;
  // The record and evidence load while the camera opens: the media starts without waiting
  // for them (bench/chromium_setup.py measured 184 / 656 ms p50 / p95 before the camera).
  loadRecordAndEvidence(msg).then((found) => {
    if (state.call === current) showEvidence(found, msg.session_id);
  });
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
export async function openDecision(item) {
  if (state.call) return;
  showCallView({ session_id: item.session_id, record_id: item.record_id }, false);
  showEvidence(await loadRecordAndEvidence(item), item.session_id);
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
  snapButtons(true);
  try {
    const reply = await state.media.snapshot(kind);
    addSnapshot({ ...reply.snapshot, kind, thumbnail: reply.thumbnail }, state.call.session_id);
    $("snap-status").textContent = t("ocall.snapped", { kind: t(`snapshot.${kind}`) });
  } catch (err) {
    $("snap-status").textContent = `⚠ ${errorText(err)}`;
  } finally {
    snapButtons(!state.media);
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

export function callEnded(msg) {
  if (!state.call || (msg && msg.session_id && msg.session_id !== state.call.session_id)) return;
  stopMedia();
  state.call.ended = true;
  state.call.live = false;
  $("callview").dataset.live = "false";
  if (state.call.resolveEnded) state.call.resolveEnded();
  if (!state.call.decided) $("o-call-status").textContent = t("ocall.ended");
  $("o-hangup").disabled = true;
  $("o-back").hidden = false;
  snapButtons(true);
  clearQuality(); // warnings were about the live call: none of them holds once it is over
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

export function setupDecision() {
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
    renderTraffic();
    decision.renderChecklist();
    decision.renderReasons();
  });
}

export function setupPhotos() {
  for (const kind of ["ktp", "selfie_with_ktp", "face"]) {
    zoomable($(`oc-photo-${kind}`), () => t(`documents.${kind}`));
  }
}
