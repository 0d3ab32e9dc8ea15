// The participant's journey, one step at a time; the record's state on the server decides
// where a reload resumes (the access token is kept in localStorage).
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import { call, setToken, token, ApiError } from "./api.js";
import { clearErrors, showError, fieldError, busy } from "./forms.js";
import { banner, watchBrowser, withRetry } from "./net.js";
import { ensureStream, setupPrecheck, stopMedia } from "./participant_precheck.js";
import { confirmTwice } from "./confirm.js";
import { StatusWatcher, renderStatus, unseenRelease, markSeen, backInQueue } from "./participant_status.js";
import { fillProfile, parseDate, setupDateField } from "./profile.js";
import * as documents from "./participant_documents.js";
import * as handoff from "./handoff.js"; // hand-off links and the app's web view (host events)
import * as booking from "./booking.js"; // appointments, beside the pre-call check and the queue

const STEPS = ["register", "profile", "documents", "consent", "precheck", "queue", "call", "result"];
const STAGE_KEY = "vc_stage"; // "queue" once the pre-call check passed (resume there on reload)

const state = {
  record: null,
  step: null,
  live: null,
};

const $ = (id) => document.getElementById(id);

// -- navigation ---------------------------------------------------------------------------

function showStep(step) {
  state.step = step;
  $("loading").hidden = true;
  for (const name of STEPS) $(`step-${name}`).hidden = name !== step;
  const index = STEPS.indexOf(step);
  for (const li of document.querySelectorAll("#steps li")) {
    const i = STEPS.indexOf(li.dataset.step);
    li.classList.toggle("done", i < index);
    li.classList.toggle("current", i === index);
    if (i === index) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }
  $("progress-bar").value = index + 1;
  updateProgressLabel();
  document.body.dataset.step = step;
  const heading = $(`step-${step}`).querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: false });
  }
  if (step === "documents") documents.render(state.record);
  if (step === "profile") fillProfile($("form-profile"), state.record);
  if (step === "result") renderResult();
  else watcher.stop();
  if (step !== "precheck" && step !== "queue" && step !== "call") stopMedia();
  booking.stepShown(step, state.record);
}

function updateProgressLabel() {
  if (!state.step) return;
  const index = STEPS.indexOf(state.step);
  $("progress-label").textContent = t("progress.label", {
    n: index + 1,
    total: STEPS.length,
    name: t(`step.${state.step}`),
  });
}

/** Where a record in this state continues its journey. */
function stepFor(record) {
  switch (record.state) {
    case "registered":
      return "profile";
    case "profile_complete":
    case "retry_required":
      return "documents";
    case "documents_uploaded":
      return "consent";
    case "ready_for_call":
      // Sent back by a supervisor: say why first (the status step), then queue again.
      if (unseenRelease(record)) return "result";
      return localStorage.getItem(STAGE_KEY) === "queue" ? "queue" : "precheck";
    case "in_call":
      // Hung up, the officer still deciding: the status page (it updates by itself).
      return record.call_status === "awaiting_decision" ? "result" : "call";
    default:
      return "result";
  }
}

async function loadRecord() {
  state.record = await withRetry(() => call("GET", "/api/me", { auth: true }));
  handoff.observeRecord(state.record); // tells the app (if any) what changed
  return state.record;
}

function go(step) {
  if (step === "queue" || step === "call") startLive(step);
  else showStep(step);
}

// -- 1. register ------------------------------------------------------------------------

function setupRegister() {
  const form = $("form-register");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const nik = form.nik.value.replace(/\s+/g, "");
    if (!/^\d{16}$/.test(nik)) return fieldError(form, "nik", "nik_format");
    if (!form.mobile.value.trim()) return fieldError(form, "mobile", "mobile_format");
    if (!form.email.value.trim()) return fieldError(form, "email", "email_format");
    await busy(form.querySelector("button[type=submit]"), async () => {
      try {
        const out = await call("POST", "/api/participants", {
          json: { nik, mobile: form.mobile.value.trim(), email: form.email.value.trim() },
        });
        setToken(out.token);
        localStorage.removeItem(STAGE_KEY);
        state.record = out.record;
        go(stepFor(out.record));
      } catch (err) {
        showError(form, err, "err-form-register");
      }
    });
  });
}

// -- 2. profile -------------------------------------------------------------------------

function setupProfile() {
  const form = $("form-profile");
  setupDateField(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const sex = form.querySelector("input[name=sex]:checked");
    if (form.full_name.value.trim().length < 2) return fieldError(form, "full_name", "full_name_required");
    if (!form.birth_date.value.trim()) return fieldError(form, "birth_date", "birth_date_required");
    const birth = parseDate(form.birth_date.value);
    if (birth.error) return fieldError(form, "birth_date", birth.error);
    if (!sex) return fieldError(form, "sex", "sex_required");
    await busy(form.querySelector("button[type=submit]"), async () => {
      try {
        state.record = await call("PUT", "/api/me/profile", {
          auth: true,
          json: { full_name: form.full_name.value.trim(), birth_date: birth.iso, sex: sex.value },
        });
        go(stepFor(state.record));
      } catch (err) {
        handleAuthError(err) || showError(form, err, "err-form-profile");
      }
    });
  });
}

// -- 3. documents (participant_documents.js) ---------------------------------------------

function setupDocuments() {
  documents.setup({
    record: () => state.record,
    onAuthError: handleAuthError,
    onNext: async () => {
      try {
        await loadRecord();
      } catch (err) {
        if (handleAuthError(err)) return;
      }
      const next = state.record.state === "retry_required" ? "consent" : stepFor(state.record);
      go(next === "documents" ? "consent" : next);
    },
  });
}

// -- 4. consent -------------------------------------------------------------------------

function setupConsent() {
  const form = $("form-consent");
  $("consent-back").addEventListener("click", () => showStep("documents"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!$("consent-check").checked) return fieldError(form, "consent", "consent_required");
    await busy(form.querySelector("button[type=submit]"), async () => {
      try {
        state.record = await call("POST", "/api/me/consent", { auth: true });
        go(stepFor(state.record));
      } catch (err) {
        handleAuthError(err) || showError(form, err, "err-form-consent");
      }
    });
  });
}

// -- 5. pre-call check (participant_precheck.js) ------------------------------------------

function setupCheck() {
  setupPrecheck({
    keepStream: () => Boolean(state.live && state.live.active),
    onNext: () => {
      localStorage.setItem(STAGE_KEY, "queue");
      go("queue");
    },
  });
}

// -- 6/7. queue and call (Socket.IO, WebRTC) ----------------------------------------------

function startLive(step) {
  showStep(step);
  if (!state.live) {
    state.live = new booking.QueueSession({
      token: token(),
      getStream: ensureStream,
      show: (s) => showStep(s),
      onFinished: async () => {
        localStorage.removeItem(STAGE_KEY);
        try {
          await loadRecord();
        } catch {
          /* the result page reloads by itself */
        }
        state.live = null;
        showStep(state.record && state.record.state === "ready_for_call" ? "precheck" : "result");
      },
      onAuthError: (err) => handleAuthError(err),
    });
    state.live.start();
  }
}

function setupLive() {
  $("queue-leave").addEventListener("click", () => {
    if (state.live) state.live.leaveQueue();
    state.live = null;
    localStorage.removeItem(STAGE_KEY);
    showStep("precheck");
  });
  confirmTwice($("call-hangup"), "call.hang_up_confirm", () => {
    if (state.live) state.live.hangUp();
  });
}

// -- 8. result / status -----------------------------------------------------------------

const watcher = new StatusWatcher({
  load: loadRecord,
  isShown: () => state.step === "result",
  onChange: () => {
    if (state.step === "result") renderResult();
  },
});

function renderResult() {
  renderStatus(state.record);
  watcher.watch(state.record);
}

function setupResult() {
  $("result-refresh").addEventListener("click", async () => {
    try {
      await loadRecord();
      renderResult();
      banner("ok", "result.refreshed");
    } catch (err) {
      handleAuthError(err);
    }
  });
  $("result-retry").addEventListener("click", () => {
    history.pushState(null, "", "/");
    if (state.record && backInQueue(state.record)) {
      // Back from a call that ended without a decision: the device check passed then.
      markSeen(state.record);
      localStorage.setItem(STAGE_KEY, "queue");
    }
    go(stepFor(state.record));
  });
  confirmTwice($("forget-me"), "result.forget_confirm", () => {
    forget();
    history.pushState(null, "", "/");
    showStep("register");
  });
  i18n.onChange(() => {
    updateProgressLabel();
    if (state.step === "result") renderStatus(state.record);
    if (state.step === "documents") documents.render(state.record);
  });
}

// -- start ------------------------------------------------------------------------------

/** Drop the token and the record: the journey starts again at registration. */
function forget() {
  setToken(null);
  localStorage.removeItem(STAGE_KEY);
  state.record = null;
}

/** A token that no longer works: start over, and say why. Returns true when handled. */
function handleAuthError(err) {
  if (!(err instanceof ApiError) || err.status !== 401) return false;
  forget();
  showStep("register");
  showError($("form-register"), err, "err-form-register");
  return true;
}

async function resume() {
  if (!token()) {
    showStep(location.pathname === "/status" ? "result" : "register");
    return;
  }
  try {
    const record = await loadRecord();
    if (location.pathname === "/status") showStep("result");
    else go(stepFor(record));
  } catch (err) {
    if (!handleAuthError(err)) {
      showStep("register");
      showError($("form-register"), err, "err-form-register");
    }
  }
}

async function main() {
  await i18n.init();
  setupRegister();
  setupProfile();
  setupDocuments();
  setupConsent();
  setupCheck();
  setupLive();
  setupResult();
  booking.setup({
    // Inside the booking's join window: into the queue, where the server gives the priority lane.
    joinNow: () => {
      localStorage.setItem(STAGE_KEY, "queue");
      if (state.live && state.step === "queue") state.live.rejoin();
      else go("queue");
    },
  });
  watchBrowser(() => {
    if (state.live) state.live.nudge();
  });
  if (await handoff.arrive()) await resume(); // arrive(): a /r/<code> link is exchanged first
  document.body.dataset.ready = "true";
}

main();
