// Tells the app around this page (the web view of the insurer's app) how the journey goes, with
// one small JSON event per moment the app cares about. The events, and how each kind of host
// listens, are documented in docs/embedding.md. No token and no personal data is ever sent.
//
// Channels, the first that exists wins:
//   window.ReactNativeWebView.postMessage(text)           React Native (react-native-webview)
//   window.webkit.messageHandlers.videocall.postMessage(text)   iOS WKWebView
//   window.VideoCallHost.postMessage(text)                Android, WebViewCompat.addWebMessageListener
//   window.parent.postMessage(text, "*")                  an iframe (allowed by FRAME_ANCESTORS)
// Every channel gets the same JSON text: {source, version, type, at, ...}.

export const WEBKIT_HANDLER = "videocall";
export const ANDROID_OBJECT = "VideoCallHost";
export const VERSION = 1;
const RESULTS = { active: "approved", rejected: "rejected", retry_required: "retry_required" };

/** The channel to the host, or null in a plain browser tab. */
export function channel(win = window) {
  const rn = win.ReactNativeWebView;
  if (rn && typeof rn.postMessage === "function") return { name: "react-native", send: (m) => rn.postMessage(m) };
  const handler = win.webkit && win.webkit.messageHandlers && win.webkit.messageHandlers[WEBKIT_HANDLER];
  if (handler && typeof handler.postMessage === "function") return { name: "webkit", send: (m) => handler.postMessage(m) };
  const android = win[ANDROID_OBJECT];
  if (android && typeof android.postMessage === "function") return { name: "android", send: (m) => android.postMessage(m) };
  if (win.parent && win.parent !== win) return { name: "parent", send: (m) => win.parent.postMessage(m, "*") };
  return null;
}

/** Send one event to the host (nothing happens outside an app). Returns the event. */
export function notify(type, detail = {}) {
  const event = { source: "videocall", version: VERSION, type, at: new Date().toISOString(), ...detail };
  const host = channel();
  if (host) {
    try {
      host.send(JSON.stringify(event));
    } catch {
      /* a host that refuses a message must not break the journey */
    }
  }
  return event;
}

// -- what the page has seen so far ------------------------------------------------------------

const seen = { record: null, step: null, inCall: false, opened: false };

function about(record) {
  if (!record) return {};
  return {
    record_id: record.id,
    reference: record.reference || null,
    state: record.state,
    call_status: record.call_status || null,
  };
}

function callStarted() {
  if (seen.inCall) return;
  seen.inCall = true;
  notify("call_started", about(seen.record));
}

function callFinished(awaitingDecision) {
  if (!seen.inCall) return;
  seen.inCall = false;
  notify("call_finished", { ...about(seen.record), awaiting_decision: awaitingDecision });
}

/**
 * The record as the page just loaded it (GET /api/me and the status polling). Emits
 * `call_started`, `call_finished`, `under_review` and `result` when the state or
 * `call_status` changes; before `opened` it only takes note.
 */
export function observeRecord(record) {
  if (!record) return;
  const before = seen.record;
  seen.record = record;
  const live = record.call_status === "live" || (record.state === "in_call" && !record.call_status);
  if (!seen.opened) {
    seen.inCall = live;
    return;
  }
  if (record.call_status === "live") callStarted();
  if (record.state === "in_call" && record.call_status === "awaiting_decision") callFinished(true);
  if (record.state !== "in_call") callFinished(false);
  if (!before || before.state === record.state) return;
  if (record.state === "under_review") notify("under_review", about(record));
  if (record.state in RESULTS) notify("result", { ...about(record), result: RESULTS[record.state] });
}

/** A step of the page was shown: `opened` the first time, then `step` (and the call's events). */
export function observeStep(step, previous) {
  if (!step || step === seen.step) return;
  seen.step = step;
  notify(seen.opened ? "step" : "opened", { ...about(seen.record), step });
  seen.opened = true;
  if (step === "call") callStarted();
  // Back in the queue means the call is being tried again, not finished. A record still in_call
  // once the call page is left is waiting for the officer's decision.
  else if (previous === "call" && step !== "queue") {
    callFinished(Boolean(seen.record && seen.record.state === "in_call"));
  }
}

/** Follow the page's steps (participant.js marks the shown one as <body data-step>). */
export function watchSteps(body = document.body) {
  const observer = new MutationObserver((mutations) => {
    // Several changes may arrive together: replay each one, in order.
    const values = mutations.map((m) => m.oldValue);
    values.push(body.dataset.step);
    for (let i = 1; i < values.length; i += 1) observeStep(values[i], values[i - 1]);
  });
  observer.observe(body, { attributes: true, attributeFilter: ["data-step"], attributeOldValue: true });
  if (body.dataset.step) observeStep(body.dataset.step, null);
  return observer;
}
