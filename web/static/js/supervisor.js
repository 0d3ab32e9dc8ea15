// The supervisor's board: calls left without a decision (decide or send back), approvals waiting
// for review (due dates, overdue flagged), a call's evidence and recording, who decided and when,
// confirm/overturn, a small dashboard and failed webhooks to redeliver.
import * as i18n from "./i18n.js";
import { t, formatDateTime } from "./i18n.js";
import { call } from "./api.js";
import { clearErrors, showError, errorText } from "./forms.js";
import { banner } from "./net.js";
import { cell, fillSelect, requireLogin, showRecord, staffImage, tag } from "./staff.js";
import * as undecided from "./supervisor_undecided.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 30000;
const state = { reviews: [], failed: [], reasons: [], current: null };

function button(key, onClick, cls = "secondary") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = t(key);
  b.addEventListener("click", onClick);
  return b;
}

// -- lists ------------------------------------------------------------------------------

async function refresh() {
  $("err-reviews").hidden = true;
  try {
    const [reviews, failed, dash] = await Promise.all([
      call("GET", "/api/reviews"),
      call("GET", "/api/webhooks/failed"),
      call("GET", "/api/dashboard"),
      // The board still works when this list cannot be read (shown empty until the next refresh).
      undecided.loadUndecided().catch(() => []),
    ]);
    state.reviews = reviews.items;
    state.failed = failed.items;
    render();
    renderDashboard(dash);
    $("refreshed-at").textContent = t("dash.refreshed_at", { time: new Date().toLocaleTimeString(i18n.locale()) });
  } catch (err) {
    const box = $("err-reviews");
    box.textContent = `⚠ ${errorText(err)}`;
    box.hidden = false;
  }
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  return s >= 60 ? t("dash.minutes", { m: Math.round(s / 60) }) : t("dash.seconds", { s });
}

function renderDashboard(dash) {
  $("dash-queue").textContent = String(dash.waiting);
  $("dash-longest").textContent = duration(dash.longest_wait_seconds);
  $("dash-officers").textContent = `${dash.officers_available} / ${dash.officers_busy}`;
  $("dash-calls").textContent = String(dash.calls_today);
  $("dash-wait").textContent = `${duration(dash.wait_median_seconds)} / ${duration(dash.wait_p90_seconds)}`;
  const results = Object.entries(dash.decisions_today).map(([r, n]) => `${t(`result_code.${r}`)}: ${n}`);
  $("dash-decisions").textContent = results.length ? results.join(", ") : "0";
}

function render() {
  const items = state.reviews;
  $("dash-waiting").textContent = String(items.length);
  $("dash-overdue").textContent = String(items.filter((i) => i.overdue).length);
  const next = items.map((i) => i.due_at).filter(Boolean).sort()[0];
  $("dash-next-due").textContent = next ? formatDateTime(next) : "–";
  $("dash-failed").textContent = String(state.failed.length);
  $("review-list").replaceChildren(
    ...items.map((item) => {
      const tr = document.createElement("tr");
      tr.dataset.recordId = item.record_id;
      if (item.overdue) tr.className = "overdue";
      cell(tr, item.full_name || "–");
      cell(tr, formatDateTime(item.decided_at));
      cell(tr, item.due_at ? formatDateTime(item.due_at) : "–");
      cell(tr, item.overdue ? tag("fail", "reviews.overdue") : tag("ok", "reviews.on_time"));
      cell(tr, button("reviews.open", () => openReview(item)));
      return tr;
    }),
  );
  $("reviews-empty").hidden = items.length > 0;
  $("webhook-list").replaceChildren(
    ...state.failed.map((d) => {
      const tr = document.createElement("tr");
      tr.dataset.deliveryId = d.id;
      cell(tr, d.type);
      cell(tr, d.record_id).className = "mono";
      cell(tr, d.endpoint).className = "mono";
      cell(tr, String(d.attempts));
      cell(tr, d.last_error || "–");
      cell(tr, button("webhooks.redeliver", () => redeliver(d, tr)));
      return tr;
    }),
  );
  $("webhooks-empty").hidden = state.failed.length > 0;
}

async function redeliver(delivery, tr) {
  try {
    await call("POST", `/api/webhooks/${delivery.id}/redeliver`);
    banner("ok", "webhooks.redelivered");
    tr.remove();
    state.failed = state.failed.filter((d) => d.id !== delivery.id);
    $("dash-failed").textContent = String(state.failed.length);
  } catch (err) {
    banner("warn", "errors.generic");
  }
}

// -- one review -------------------------------------------------------------------------

/** Open a call's evidence: to review an approval, or (`undecided`) to decide it or send it back. */
async function openReview(item, mode = "review") {
  state.current = item;
  const form = $("form-review");
  form.reset();
  clearErrors(form);
  $("overturn-fields").hidden = true;
  $("review-done").hidden = true;
  $("review-submit").disabled = false;
  form.hidden = mode !== "review";
  if (mode === "undecided") undecided.showActions(item);
  else undecided.hideActions();
  $("h-review").textContent = t(mode === "review" ? "review.heading" : "undecided.heading");
  $("review").hidden = false;
  $("r-due").textContent = item.due_at ? formatDateTime(item.due_at) : "–";
  $("r-decided-by").textContent = "–";
  try {
    const [record, evidence] = await Promise.all([
      call("GET", `/api/records/${item.record_id}`),
      call("GET", `/api/sessions/${item.session_id}`),
    ]);
    // One file at a time: every first view is written to the record's audit history, and
    // parallel writes to one record collide.
    const pending = showEvidence(item.session_id, evidence);
    showDecidedBy(evidence.decision, record);
    await showRecord("rv", record);
    await pending();
  } catch (err) {
    showError(form, err, "err-form-review");
  }
  $("h-review").tabIndex = -1;
  $("h-review").focus();
}

/** Which officer decided, and when (the name from the API, else from the record's history). */
function showDecidedBy(decision, record) {
  if (!decision) return;
  const name = undecided.deciderOf(decision, record);
  $("r-decided-by").textContent = t("review.decided_by_value", {
    name: name || "–",
    time: formatDateTime(decision.decided_at),
  });
}

function showEvidence(sessionId, ev) {
  $("r-code").textContent = ev.random_code || "–";
  const d = ev.decision;
  $("r-decision").textContent = d
    ? `${t(`result_code.${d.result}`)}${d.reasons.length ? " — " + d.reasons.map(reasonText).join(", ") : ""}`
    : "–";
  $("r-checklist").textContent = d
    ? Object.entries(d.checklist)
        .map(([k, ok]) => `${ok ? "✓" : "✗"} ${t(`checklist.${k}`)}`)
        .join(" · ")
    : "–";
  $("r-notes").textContent = (d && d.notes) || "–";
  // Snapshots and recording segments: fetched from the session's evidence files, later.
  const loads = [];
  const snaps = (ev.snapshots || []).map((s, index) => {
    const fig = document.createElement("figure");
    fig.dataset.kind = s.kind;
    const img = document.createElement("img");
    img.alt = t(`snapshot.${s.kind}`);
    loads.push(() =>
      staffImage(img, `/api/sessions/${sessionId}/snapshots/${encodeURIComponent(s.thumbnail_file || s.file)}`).catch(() => {
        img.alt = `${t(`snapshot.${s.kind}`)} — ${t("review.file_unavailable")}`;
      }),
    );
    // The full-resolution picture opens in its own tab (same origin, the cookie goes along).
    const link = document.createElement("a");
    link.href = `/api/sessions/${sessionId}/snapshots/${encodeURIComponent(s.file)}`;
    link.target = "_blank";
    link.rel = "noopener";
    link.append(img);
    const cap = document.createElement("figcaption");
    cap.textContent = `${t(`snapshot.${s.kind}`)}: ${s.bad ? "⚠ " + t("snapshot.not_usable") : "✓ " + t("snapshot.usable")}`;
    fig.append(link, cap);
    return fig;
  });
  $("r-snapshots").replaceChildren(...snaps);
  const segments = (ev.recording && ev.recording.segments) || [];
  $("recordings").replaceChildren(
    ...segments.map((seg, index) => {
      const video = document.createElement("video");
      video.className = "recording";
      video.controls = true;
      video.preload = "metadata";
      const src = `/api/sessions/${sessionId}/recording/${index}`;
      let retries = 3;
      video.addEventListener("error", () => {
        if (retries-- > 0) setTimeout(() => (video.src = src), 300);
      });
      loads.push(() => {
        video.src = src;
      });
      video.setAttribute("aria-label", t("review.recording_part", { n: index + 1 }));
      return video;
    }),
  );
  $("recording-missing").hidden = segments.length > 0;
  const quality = ev.quality_summary || {};
  const rows = [];
  for (const [side, summary] of Object.entries(quality)) {
    const dt = document.createElement("dt");
    dt.textContent = t(`side.${side}`);
    const dd = document.createElement("dd");
    dd.textContent = summaryText(summary);
    rows.push(dt, dd);
  }
  $("r-quality").replaceChildren(...rows);
  return async () => {
    for (const load of loads) await load();
  };
}

/** A call's quality summary (videocall.quality_monitor.QualitySummary) in words. */
function summaryText(summary) {
  if (!summary || typeof summary !== "object") return "–";
  const parts = [];
  if (summary.duration_s != null) parts.push(t("review.duration", { s: Math.round(summary.duration_s) }));
  const problems = [];
  for (const [measure, shares] of Object.entries(summary.shares || {})) {
    for (const level of ["bad", "warn"]) {
      const share = shares[level] || 0;
      if (share >= 0.05) problems.push(`${t(`measure.${measure}`)}: ${t(`traffic.${level}`)} ${Math.round(share * 100)}%`);
    }
  }
  parts.push(problems.length ? `⚠ ${problems.join(", ")}` : `✓ ${t("review.quality_good")}`);
  return parts.join(" · ");
}

function reasonText(code) {
  if (i18n.has(`reason.${code}`)) return t(`reason.${code}`);
  const r = state.reasons.find((x) => x.code === code);
  return r ? r.description : code;
}

function fillReasonOptions() {
  const result = $("overturn-result").value;
  const reasons = state.reasons.filter((r) => r.results.includes(result));
  fillSelect($("overturn-reason"), t("review.choose_reason"), reasons.map((r) => [r.code, reasonText(r.code)]));
}

function setupReviewForm() {
  const form = $("form-review");
  for (const radio of form.querySelectorAll("input[name=action]")) {
    radio.addEventListener("change", () => {
      $("overturn-fields").hidden = radio.value !== "overturn" || !radio.checked;
    });
  }
  $("overturn-result").addEventListener("change", fillReasonOptions);
  $("review-close").addEventListener("click", () => ($("review").hidden = true));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const action = (form.querySelector("input[name=action]:checked") || {}).value;
    if (!action) return showError(form, { field: "action", code: "action_required", message: "" });
    const body = { action };
    if (action === "overturn") {
      body.result = $("overturn-result").value;
      body.reason = $("overturn-reason").value || null;
    }
    $("review-submit").disabled = true;
    try {
      const out = await call("POST", `/api/reviews/${state.current.record_id}`, { json: body });
      const done = $("review-done");
      done.textContent = `✓ ${t("review.done", { state: t(`state.${out.state}`) })}`;
      done.hidden = false;
      done.dataset.state = out.state;
      await refresh();
    } catch (err) {
      $("review-submit").disabled = false;
      showError(form, err, "err-form-review");
    }
  });
}

async function main() {
  await requireLogin(["supervisor"]);
  $("board").hidden = false;
  setupReviewForm();
  await undecided.setupUndecided({ onOpen: (item) => openReview(item, "undecided"), onDone: refresh });
  $("refresh").addEventListener("click", refresh);
  try {
    state.reasons = (await call("GET", "/api/outcomes/reasons")).reasons;
  } catch {
    /* reasons fall back to codes */
  }
  fillReasonOptions();
  i18n.onChange(() => {
    render();
    fillReasonOptions();
    undecided.retranslate();
  });
  await refresh();
  setInterval(refresh, REFRESH_MS);
  document.body.dataset.ready = "true";
}

main();
