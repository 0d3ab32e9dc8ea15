// The participant's pre-call check (step 5): camera, microphone level, lighting and a connection
// test (precheck.js measures), and the camera stream that the queue and the call then use.
import * as i18n from "./i18n.js";
import * as precheck from "./precheck.js";

const $ = (id) => document.getElementById(id);
const state = {
  stream: null,
  meterTimer: null,
  mic: null,
  checks: { camera: false, network: false },
  keepStream: () => false, // true while a call or queue uses the stream
};

/** Stop the meters, and the camera unless the queue or the call uses it. */
export function stopMedia() {
  clearInterval(state.meterTimer);
  state.meterTimer = null;
  if (state.mic) state.mic.close();
  state.mic = null;
  if (state.stream && !state.keepStream()) {
    for (const track of state.stream.getTracks()) track.stop();
    state.stream = null;
  }
}

function updatePrecheckButtons() {
  const ready = state.checks.camera && state.checks.network;
  $("precheck-next").hidden = !ready;
  $("precheck-next").disabled = !ready;
  $("precheck-retry").hidden = ready;
  document.body.dataset.precheck = ready ? "passed" : "pending";
}

function startMeters() {
  const video = $("precheck-video");
  const canvas = $("light-canvas");
  let heard = false;
  state.mic = precheck.micLevel(state.stream);
  clearInterval(state.meterTimer);
  state.meterTimer = setInterval(() => {
    const luma = precheck.meanLuma(video, canvas);
    const level = precheck.lightingLevel(luma);
    if (luma != null) $("light-meter").value = Math.round(luma);
    document.body.dataset.lighting = level;
    if (level === "ok") precheck.setCheck("check-light", "ok", "precheck.light_ok");
    else if (level !== "pending") precheck.setCheck("check-light", "warn", `precheck.light_${level}`, `precheck.fix_${level}`);
    const mic = state.mic.read();
    $("mic-meter").value = Math.round(mic);
    if (mic > 2) heard = true;
    if (heard) precheck.setCheck("check-mic", "ok", "precheck.mic_ok");
    else precheck.setCheck("check-mic", "warn", "precheck.mic_silent", "precheck.fix_mic_silent");
  }, 400);
}

async function runPrecheck() {
  stopMedia();
  state.checks = { camera: false, network: false };
  updatePrecheckButtons();
  $("precheck-start").hidden = true;
  precheck.setCheck("check-camera", "running", "precheck.asking");
  precheck.setCheck("check-mic", "pending", "precheck.waiting");
  precheck.setCheck("check-light", "pending", "precheck.waiting");
  precheck.setCheck("check-network", "running", "precheck.testing");
  const networkDone = precheck.connectionTest().then((result) => {
    state.checks.network = result.verdict === "ok";
    const vars = { ms: result.medianMs == null ? "–" : Math.round(result.medianMs) };
    if (result.verdict === "ok") precheck.setCheck("check-network", "ok", "precheck.net_ok", null, vars);
    else precheck.setCheck("check-network", "fail", `precheck.net_${result.verdict}`, `precheck.fix_net_${result.verdict}`, vars);
  });
  try {
    state.stream = await precheck.openCamera();
    $("precheck-video").srcObject = state.stream;
    state.checks.camera = true;
    precheck.setCheck("check-camera", "ok", "precheck.camera_ok");
    startMeters();
  } catch (err) {
    precheck.setCheck("check-camera", "fail", "precheck.camera_failed", precheck.mediaErrorKey(err));
    precheck.setCheck("check-mic", "fail", "precheck.camera_failed");
    precheck.setCheck("check-light", "pending", "precheck.waiting");
  }
  await networkDone;
  updatePrecheckButtons();
}

/** Wire the check's buttons; `keepStream()` says the stream is in use, `onNext()` goes on. */
export function setupPrecheck({ keepStream, onNext }) {
  state.keepStream = keepStream;
  $("precheck-start").addEventListener("click", runPrecheck);
  $("precheck-retry").addEventListener("click", runPrecheck);
  $("precheck-next").addEventListener("click", onNext);
  i18n.onChange(precheck.retranslateChecks);
}

/** The camera stream for the queue and the call: the check's, or a new one. */
export async function ensureStream() {
  if (state.stream && state.stream.getTracks().some((tr) => tr.readyState === "live")) return state.stream;
  state.stream = await precheck.openCamera();
  return state.stream;
}
