// The status page (step 8): the record's state in words, its short reference, the officer's
// reasons with what to do about each, what happened after a call that ended without a
// decision, and updates by itself (polling with backoff) until the state is final.
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

// States that change without the participant doing anything, and how soon to look again.
const WATCHED_MS = { in_call: 2000, under_review: 5000 };
const MAX_DELAY_MS = 60000;
const BACKOFF = 1.5;
const SEEN_KEY = "vc_seen_back"; // the release/interruption notice the participant acted on

/** "7K3M9QX8" -> "7K3M-9QX8": two groups of four are easier to read out. */
export function formatReference(ref) {
  return ref && ref.length === 8 ? `${ref.slice(0, 4)}-${ref.slice(4)}` : ref || "–";
}

/** The history entry that moved the record into its current state. */
function arrival(record) {
  const entries = (record.history || []).filter(
    (h) => (h.action === "state_changed" || h.action === "registered") && h.to === record.state,
  );
  return entries[entries.length - 1] || null;
}

/** Reason codes behind a retry or a rejection (the officer's list, or a supervisor's one). */
export function outcomeReasons(record) {
  if (record.state !== "retry_required" && record.state !== "rejected") return [];
  const entry = arrival(record);
  if (!entry) return [];
  const codes = (entry.detail && entry.detail.reasons) || (entry.reason ? [entry.reason] : []);
  return codes.filter((code) => i18n.has(`preason.${code}`));
}

/** After a call that ended without a decision: {kind: "released"|"interrupted", at, reason}. */
export function backInQueue(record) {
  if (record.state !== "ready_for_call") return null;
  const entry = arrival(record);
  if (!entry || entry.from !== "in_call") return null;
  const released = Boolean(entry.detail && entry.detail.released);
  return { kind: released ? "released" : "interrupted", at: entry.at, reason: entry.reason };
}

/** A release the participant has not acted on yet: the page opens on the status step. */
export function unseenRelease(record) {
  const back = backInQueue(record);
  return Boolean(back && back.kind === "released" && localStorage.getItem(SEEN_KEY) !== back.at);
}

export function markSeen(record) {
  const back = backInQueue(record);
  if (back) localStorage.setItem(SEEN_KEY, back.at);
}

function backText(back) {
  if (back.kind === "interrupted") return t("result.interrupted");
  const key = `preleased.${back.reason}`;
  return t("result.released", { reason: i18n.has(key) ? t(key) : t("preleased.technical_problem") });
}

function renderReasons(record) {
  const codes = outcomeReasons(record);
  $("result-reasons-box").hidden = codes.length === 0;
  $("result-reasons").replaceChildren(
    ...codes.map((code) => {
      const li = document.createElement("li");
      li.dataset.reason = code;
      const what = document.createElement("strong");
      what.textContent = t(`preason.${code}`);
      const todo = document.createElement("span");
      todo.className = "todo";
      todo.textContent = `→ ${t(`ptodo.${code}`)}`;
      li.append(what, document.createElement("br"), todo);
      return li;
    }),
  );
}

/** Fill the status step from `record` (null: nothing registered on this device). */
export function renderStatus(record) {
  const dueShown = Boolean(record && record.state === "under_review" && record.due_at);
  $("result-due-label").hidden = !dueShown;
  $("result-due").hidden = !dueShown;
  if (!record) {
    $("result-state").textContent = t("result.no_record");
    $("result-reference").textContent = "–";
    $("result-next").textContent = t("result.next_none");
    $("result-retry").hidden = true;
    $("result-reasons-box").hidden = true;
    $("result-back").hidden = true;
    return;
  }
  const live = record.state === "in_call" && record.call_status === "live";
  $("result-state").textContent = live ? t("result.in_call_live") : t(`state.${record.state}`);
  $("result-state").dataset.state = record.state;
  $("result-state").dataset.callStatus = record.call_status || "none";
  $("result-due").textContent = dueShown ? i18n.formatDateTime(record.due_at) : "";
  $("result-reference").textContent = formatReference(record.reference);
  renderReasons(record);
  const back = backInQueue(record);
  $("result-back").hidden = !back;
  $("result-back").textContent = back ? backText(back) : "";
  $("result-back").dataset.kind = back ? back.kind : "";
  $("result-next").textContent = t(`next.${record.state}`);
  $("result-next").hidden = Boolean(back);
  const unfinished = !["under_review", "active", "rejected", "in_call"].includes(record.state);
  $("result-retry").hidden = !unfinished;
  let label = "result.continue";
  if (record.state === "retry_required") label = "result.retry";
  else if (back) label = "result.queue_again";
  $("result-retry").textContent = t(label);
  $("result-retry").dataset.i18n = label;
}

/**
 * Look at the record again while the page shows it and something outside may change it: soon
 * after a call, then less and less often (x1.5, up to a minute); at once when the tab comes back
 * into view; never on a final state or one that waits for the participant.
 */
export class StatusWatcher {
  constructor({ load, isShown, onChange }) {
    this.load = load;
    this.isShown = isShown;
    this.onChange = onChange;
    this.timer = null;
    this.delay = 0;
    this.state = null;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.isShown()) this.check(true);
    });
  }

  /** Start (or restart) watching `record`. */
  watch(record) {
    if (!record || record.state !== this.state) this.delay = 0;
    this.state = record ? record.state : null;
    clearTimeout(this.timer);
    this.timer = null;
    const base = record && WATCHED_MS[record.state];
    this.showAuto(Boolean(base), true);
    if (!base || !this.isShown()) return;
    this.delay = this.delay ? Math.min(this.delay * BACKOFF, MAX_DELAY_MS) : base;
    this.timer = setTimeout(() => this.check(false), this.delay);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  async check(now) {
    if (now) this.delay = 0;
    let record = null;
    try {
      record = await this.load();
    } catch (err) {
      if (err && err.status === 401) return;
      this.showAuto(true, false);
      this.delay = this.delay ? Math.min(this.delay * BACKOFF, MAX_DELAY_MS) : 2000;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.check(false), this.delay);
      return;
    }
    this.onChange(record);
  }

  showAuto(watching, ok) {
    const el = $("result-auto");
    el.hidden = !watching;
    if (!watching) return;
    const time = new Date().toLocaleTimeString(i18n.locale(), { hour: "2-digit", minute: "2-digit" });
    el.textContent = ok ? t("result.auto", { time }) : `⚠ ${t("result.auto_offline")}`;
    el.dataset.polling = "true";
  }
}
