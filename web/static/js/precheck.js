// Pre-call check: camera + microphone permission, live preview, a lighting meter computed from
// a canvas, a microphone level, and a short connection test against our own server.
import { t } from "./i18n.js";

const NET_SAMPLES = 5;
const NET_SLOW_MS = 800;

// The lighting limits come from the server (GET /api/quality/thresholds, the same numbers the
// call's analysis uses); until they arrive the meter shows a value but no verdict.
let lighting = null;

/** Load the server's lighting limits once; resolves to them (or null when unreachable). */
export const thresholdsReady = fetch("/api/quality/thresholds", { cache: "no-store" })
  .then((response) => (response.ok ? response.json() : null))
  .then((body) => {
    lighting = body && body.lighting;
    const meter = document.getElementById("light-meter");
    if (meter && lighting) {
      meter.low = lighting.dark_luma_warn;
      meter.high = lighting.bright_luma_warn;
    }
    return lighting;
  })
  .catch(() => null);

/** Mean BT.601 luma (0-255) of what `video` shows now, drawn on `canvas`; null before a frame.
 * The server measures the call the same way (videocall/quality.py): on the RGB picture as shown,
 * Y' = 0.299 R + 0.587 G + 0.114 B. */
export function meanLuma(video, canvas) {
  if (!video.videoWidth) return null;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  let sum = 0;
  for (let i = 0; i < data.length; i += 4) {
    sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
  }
  return sum / (data.length / 4);
}

/** "too_dark" | "too_bright" | "ok" by the server's limits; "pending" before a frame or limits. */
export function lightingLevel(luma) {
  if (luma == null || !lighting) return "pending";
  if (luma <= lighting.dark_luma_warn) return "too_dark";
  if (luma >= lighting.bright_luma_warn) return "too_bright";
  return "ok";
}

/** The translation key of the plain-language fix for a getUserMedia failure. */
export function mediaErrorKey(err) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return "precheck.fix_insecure";
  switch (err && err.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "precheck.fix_denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "precheck.fix_no_device";
    case "NotReadableError":
    case "AbortError":
      return "precheck.fix_in_use";
    default:
      return "precheck.fix_media_other";
  }
}

export async function openCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    const err = new Error("getUserMedia unavailable");
    err.name = "InsecureContext";
    throw err;
  }
  return navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
    audio: { echoCancellation: true, noiseSuppression: true },
  });
}

/** Time a few small requests to our server; {ok, medianMs, failed}. */
export async function connectionTest(url = "/healthz") {
  const times = [];
  let failed = 0;
  for (let i = 0; i < NET_SAMPLES; i += 1) {
    const start = performance.now();
    try {
      const response = await fetch(`${url}?n=${i}-${Date.now()}`, { cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      await response.text();
      times.push(performance.now() - start);
    } catch {
      failed += 1;
    }
  }
  times.sort((a, b) => a - b);
  const medianMs = times.length ? times[Math.floor(times.length / 2)] : null;
  let verdict = "ok";
  if (failed === NET_SAMPLES) verdict = "offline";
  else if (failed > 0) verdict = "unstable";
  else if (medianMs > NET_SLOW_MS) verdict = "slow";
  return { verdict, medianMs, failed };
}

/** A running microphone level (0-100) from an analyser; returns {read(), close()}. */
export function micLevel(stream) {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx || !stream.getAudioTracks().length) return { read: () => 0, close() {} };
  const ctx = new Ctx();
  const source = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const buf = new Uint8Array(analyser.fftSize);
  return {
    read() {
      analyser.getByteTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += (v - 128) * (v - 128);
      return Math.min(100, Math.sqrt(sum / buf.length) * 4);
    },
    close() {
      ctx.close();
    },
  };
}

/** Set one check row: status ok|warn|fail|pending|running, a state text and an optional fix. */
export function setCheck(id, status, stateKey, fixKey, vars) {
  const row = document.getElementById(id);
  if (!row) return;
  row.dataset.status = status;
  row.querySelector(".check-icon").textContent = { ok: "✓", warn: "⚠", fail: "✗", running: "…" }[status] || "•";
  row.querySelector(".check-state").textContent = stateKey ? t(stateKey, vars) : "";
  const fix = row.querySelector(".check-fix");
  fix.hidden = !fixKey;
  fix.textContent = fixKey ? t(fixKey, vars) : "";
  row.dataset.stateKey = stateKey || "";
  row.dataset.fixKey = fixKey || "";
  row.dataset.vars = JSON.stringify(vars || {});
}

/** Re-translate the check rows after a language change. */
export function retranslateChecks() {
  for (const row of document.querySelectorAll(".check")) {
    const { stateKey, fixKey } = row.dataset;
    const vars = JSON.parse(row.dataset.vars || "{}");
    if (stateKey) row.querySelector(".check-state").textContent = t(stateKey, vars);
    if (fixKey) row.querySelector(".check-fix").textContent = t(fixKey, vars);
  }
}
