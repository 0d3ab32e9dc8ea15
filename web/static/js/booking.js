// Appointments for the participant (issue 16): free slots of the next days in the participant's own
// zone (named: WIB, WITA, WIT), book one, see it (with an .ics for the calendar), cancel or rebook,
// and join at the booked time (the priority lane). Shown under the pre-call check and the queue
// while the record is ready for the call; the queue page offers it when the desk is closed or the
// wait is long (queue status `closed` / `booking_offered`).
import { t, onChange, formatDuration } from "./i18n.js";
import { call, token, ApiError } from "./api.js";
import { errorText } from "./forms.js";
import { banner } from "./net.js";
import { confirmTwice } from "./confirm.js";
import { LiveSession, EV } from "./participant_live.js";
import * as picker from "./booking_picker.js"; // the day and slot picker, and date formats

const $ = (id) => document.getElementById(id);
const ZONE_KEY = "vc_zone"; // the zone the participant chose (else the server's, from the NIK)
const REFRESH_MS = 30_000; // the booking is looked at again (can_join_now) while shown

const state = {
  step: null,
  record: null,
  mine: null, // the live booking (status "booked"), or null
  last: null, // the latest booking of any status (a missed one is mentioned)
  slots: null, // GET /api/appointments/slots
  day: null, // the chosen date ("2026-11-26")
  slot: null, // the chosen slot {start, end, local_start, local_end, free}
  queue: null, // the latest queue status (closed, booking_offered, lane)
  open: false, // the slot picker is shown
  rebooking: false, // the picker replaces the current booking
  ics: { id: null, url: null },
  timer: null,
  joinNow: () => {},
};

// -- the queue's hook -------------------------------------------------------------------

/** The participant's live session, telling this module what the queue said. */
export class QueueSession extends LiveSession {
  onQueue(msg) {
    super.onQueue(msg);
    queueSeen(msg);
  }

  /** Ask for a place again (inside the booking's join window the server puts us in the
   * priority lane). */
  rejoin() {
    if (!this.socket || !this.socket.connected) return this.nudge();
    this.socket.emit(EV.join, {}, (reply) => this.onJoinReply(reply));
  }
}

function queueSeen(msg) {
  const before = offer();
  state.queue = msg;
  const now = offer();
  // Closed: waiting is pointless, so the slots are shown at once.
  if (now === "closed" && before !== "closed" && !state.mine) openPicker(false);
  render();
}

/** "closed" | "long" | null: why the queue page offers a booking. */
function offer() {
  const q = state.queue;
  if (!q || state.step !== "queue") return null;
  if (q.closed) return "closed";
  return q.booking_offered ? "long" : null;
}

// -- the server ---------------------------------------------------------------------------

function zoneQuery() {
  const zone = localStorage.getItem(ZONE_KEY);
  return zone && picker.ZONES[zone] ? `zone=${encodeURIComponent(zone)}` : "";
}

function bookBody(start) {
  const zone = localStorage.getItem(ZONE_KEY);
  return zone && picker.ZONES[zone] ? { start, zone } : { start };
}

async function loadMine() {
  const q = zoneQuery();
  const body = await call("GET", `/api/appointments/mine${q ? `?${q}` : ""}`, { auth: true });
  state.last = body.appointment;
  state.mine = body.appointment && body.appointment.status === "booked" ? body.appointment : null;
  if (state.mine) prepareIcs(state.mine);
}

async function loadSlots() {
  const q = zoneQuery();
  state.slots = await call("GET", `/api/appointments/slots${q ? `?${q}` : ""}`, { auth: true });
  const days = state.slots.days.filter((d) => d.slots.length);
  if (!days.some((d) => d.date === state.day)) state.day = days.length ? days[0].date : null;
  const slots = dayOf(state.day);
  if (!state.slot || !slots.some((s) => s.start === state.slot.start)) state.slot = null;
}

function dayOf(date) {
  const day = state.slots && state.slots.days.find((d) => d.date === date);
  return day ? day.slots : [];
}

/** The .ics needs the participant's token: fetched once per booking, offered as a blob link. */
async function prepareIcs(appt) {
  if (state.ics.id === appt.id) return;
  if (state.ics.url) URL.revokeObjectURL(state.ics.url); // the previous booking's file
  state.ics = { id: appt.id, url: null };
  try {
    const response = await fetch(appt.ics_url, {
      headers: { Authorization: `Bearer ${token()}` },
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!response.ok) throw new ApiError(response.status, "http_error", response.statusText);
    const blob = await response.blob();
    if (state.ics.id !== appt.id) return;
    state.ics.url = URL.createObjectURL(new Blob([blob], { type: "text/calendar" }));
  } catch {
    state.ics = { id: null, url: null }; // tried again at the next refresh
  }
  render();
}

// -- formatting ---------------------------------------------------------------------------

function zoneOf() {
  if (state.mine) return { zone: state.mine.zone, label: state.mine.zone_label };
  if (state.slots) return { zone: state.slots.zone, label: state.slots.zone_label };
  const chosen = localStorage.getItem(ZONE_KEY);
  return chosen && picker.ZONES[chosen] ? { zone: chosen, label: picker.ZONES[chosen] } : null;
}

// -- rendering ----------------------------------------------------------------------------

function shown() {
  return (
    Boolean(state.record && state.record.state === "ready_for_call") &&
    (state.step === "precheck" || state.step === "queue")
  );
}

function render() {
  const why = offer();
  const missed = !state.mine && Boolean(state.last) && state.last.status === "missed";
  // In the queue without an offer, a booking or a missed one there is nothing to say here.
  const content = state.step === "precheck" || state.mine || state.open || missed || why;
  const visible = shown() && Boolean(content);
  $("booking").hidden = !visible;
  $("step-queue").dataset.bookingOffer = why || "none";
  $("booking-offer").hidden = !why || Boolean(state.mine);
  if (why) {
    $("booking-offer-title").textContent = t(why === "closed" ? "booking.offer_closed" : "booking.offer_long");
    const wait = state.queue.estimated_wait_seconds;
    let help = t("booking.offer_closed_help");
    if (why === "long") {
      help = wait != null ? t("booking.offer_long_help", { wait: formatDuration(wait) }) : t("booking.offer_long_unknown");
    }
    $("booking-offer-help").textContent = help;
  }
  if (why === "closed" && state.queue.opens_at && zoneOf()) {
    // When it opens, in the participant's zone (the queue itself says it in the desk's).
    const zone = zoneOf();
    $("queue-status").textContent = t("queue.closed", { opens: `${picker.dateTime(state.queue.opens_at, zone.zone)} ${zone.label}` });
  }
  if (!visible) return;
  renderMine();
  renderPicker();
  $("booking-missed").hidden = !missed;
  if (missed) {
    $("booking-missed").textContent = t("booking.missed", {
      when: `${picker.dayName(state.last.local_date)}, ${state.last.local_start} ${state.last.zone_label}`,
    });
  }
  $("booking-later").hidden = Boolean(state.mine) || state.open || (state.step !== "precheck" && !missed);
}

function renderMine() {
  const appt = state.mine;
  $("booking-mine").hidden = !appt || (state.open && state.rebooking);
  if (!appt) return;
  $("booking-date").textContent = picker.dayName(appt.local_date);
  $("booking-time").textContent = `${appt.local_start}–${appt.local_end} ${appt.zone_label}`;
  $("booking-zone-name").textContent = `${t(`booking.zones.${appt.zone_label}`)} (${appt.zone})`;
  const q = state.queue;
  const inPriority = state.step === "queue" && q && !q.closed && q.lane === "priority";
  $("booking-join").hidden = !appt.can_join_now || inPriority;
  $("booking-in-priority").hidden = !(appt.can_join_now && inPriority);
  let help = "";
  if (!appt.can_join_now) {
    help = t("booking.join_from", { time: picker.clock(appt.join_from, appt.zone), zone: appt.zone_label });
  } else if (!inPriority) help = t("booking.join_now_help");
  $("booking-join-help").textContent = help;
  $("booking-join-help").hidden = !help;
  const link = $("booking-ics");
  if (state.ics.url) link.href = state.ics.url;
  else link.removeAttribute("href");
  link.setAttribute("aria-disabled", state.ics.url ? "false" : "true");
}

function renderPicker() {
  picker.render(
    {
      open: state.open,
      rebooking: state.rebooking,
      zone: zoneOf(),
      slots: state.slots,
      day: state.day,
      slot: state.slot,
      closable: Boolean(state.mine) || offer() !== "closed",
    },
    {
      onDay: (date) => {
        state.day = date;
        state.slot = null;
        render();
      },
      onSlot: (slot) => {
        state.slot = slot;
        render();
        $("booking-submit").focus({ preventScroll: true });
        $("booking-confirm").scrollIntoView({ block: "nearest" });
      },
    },
  );
}

function say(err) {
  const box = $("err-booking");
  box.textContent = err ? `⚠ ${errorText(err)}` : "";
  box.hidden = !err;
}

// -- actions ------------------------------------------------------------------------------

async function refresh() {
  if (!shown()) return;
  try {
    await loadMine();
    if (state.open) await loadSlots();
  } catch (err) {
    if (err.status === 401 || err.code === "not_ready_for_call") return;
    if (state.open) say(err);
  }
  render();
}

function schedule() {
  clearTimeout(state.timer);
  if (!shown()) return;
  state.timer = setTimeout(async () => {
    await refresh();
    schedule();
  }, REFRESH_MS);
}

async function openPicker(rebooking) {
  state.open = true;
  state.rebooking = rebooking;
  say(null);
  render();
  try {
    await loadSlots();
  } catch (err) {
    say(err);
  }
  render();
}

async function book() {
  const slot = state.slot;
  if (!slot) return;
  let old = null; // the booking a rebooking replaces
  const button = $("booking-submit");
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  say(null);
  try {
    // Rebooking is cancel + book (one live booking each): the old one goes only just before.
    if (state.rebooking && state.mine) {
      old = state.mine;
      await call("POST", `/api/appointments/${state.mine.id}/cancel`, { auth: true });
      state.mine = null;
    }
    const body = await call("POST", "/api/appointments", { auth: true, json: bookBody(slot.start) });
    state.mine = body.appointment;
    state.last = body.appointment;
    state.open = false;
    state.rebooking = false;
    state.slot = null;
    prepareIcs(state.mine);
    banner("ok", "booking.booked");
    render();
    $("booking-mine-title").focus();
  } catch (err) {
    say(err);
    if (state.rebooking && !state.mine && old) {
      // The new slot was taken meanwhile: keep the old one if it is still free.
      try {
        state.mine = (await call("POST", "/api/appointments", { auth: true, json: bookBody(old.start) })).appointment;
      } catch {
        /* gone too: the picker stays open */
      }
    }
    if (["slot_full", "slot_in_past", "slot_not_offered"].includes(err.code)) await loadSlots().catch(() => {});
    if (err.code === "appointment_exists") await loadMine().catch(() => {});
    render();
  } finally {
    button.removeAttribute("aria-busy");
    button.disabled = !state.slot;
  }
}

async function cancel() {
  if (!state.mine) return;
  say(null);
  try {
    await call("POST", `/api/appointments/${state.mine.id}/cancel`, { auth: true });
    state.mine = null;
    banner("ok", "booking.cancelled");
    await openPicker(false);
  } catch (err) {
    say(err);
    await loadMine().catch(() => {});
    render();
  }
}

function wire() {
  $("booking-offer-open").addEventListener("click", async () => {
    if (!state.open && !state.mine) await openPicker(false);
    ($("booking-mine").hidden ? $("booking-picker") : $("booking-mine")).scrollIntoView({ block: "start" });
  });
  $("booking-later-open").addEventListener("click", () => openPicker(false));
  $("booking-rebook").addEventListener("click", () => openPicker(true));
  $("booking-close").addEventListener("click", () => {
    state.open = false;
    state.rebooking = false;
    say(null);
    render();
  });
  $("booking-zone").addEventListener("change", async (event) => {
    localStorage.setItem(ZONE_KEY, event.target.value);
    state.slot = null;
    try {
      await loadSlots();
      if (state.mine) await loadMine();
    } catch (err) {
      say(err);
    }
    render();
  });
  $("booking-submit").addEventListener("click", book);
  confirmTwice($("booking-cancel"), "booking.cancel_confirm", cancel);
  $("booking-join").addEventListener("click", () => state.joinNow());
  $("booking-ics").addEventListener("click", (event) => {
    if (!state.ics.url) event.preventDefault();
  });
}

// -- the page's hooks -------------------------------------------------------------------

/** Once, at start-up: `joinNow()` takes the participant into the queue (the priority lane). */
export function setup({ joinNow }) {
  state.joinNow = joinNow;
  wire();
  onChange(() => render());
}

/** The journey shows `step` for `record`: the booking goes along on the pre-call check and the
 * queue while the record is ready for the call. */
export async function stepShown(step, record) {
  const before = state.step;
  state.step = step;
  state.record = record;
  if (step !== "queue") state.queue = null;
  if (!shown()) {
    clearTimeout(state.timer);
    render();
    return;
  }
  render();
  if (before !== step || !state.last) {
    await refresh();
    schedule();
  }
}
