// The booking panel's slot picker (booking.js holds the state): the zone, a day picker and the
// day's free slots in the participant's zone, named ("08:00–08:15 WITA"), and the choice with the
// button to book it. Dates and times are formatted here, in the page's language.
import { t, locale } from "./i18n.js";

const $ = (id) => document.getElementById(id);
export const ZONES = { "Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT" };

function span(cls, text) {
  const el = document.createElement("span");
  el.className = cls;
  el.textContent = text;
  return el;
}

/** A calendar date ("2026-11-26") in words; the date is the zone's own, so no zone shift. */
export function dayName(date, style = "long") {
  const [y, m, d] = date.split("-").map(Number);
  const options =
    style === "long"
      ? { weekday: "long", day: "numeric", month: "long", year: "numeric" }
      : { weekday: "short", day: "numeric", month: "short" };
  return new Intl.DateTimeFormat(locale(), { ...options, timeZone: "UTC" }).format(
    new Date(Date.UTC(y, m - 1, d, 12)),
  );
}

/** An instant as a weekday, date and time in `zone` (the zone's label is added by the caller). */
export function dateTime(iso, zone) {
  return new Intl.DateTimeFormat(locale(), {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZone: zone,
  }).format(new Date(iso));
}

/** An instant as HH:MM in `zone` (24 h, both languages). */
export function clock(iso, zone) {
  const parts = new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone: zone,
  }).formatToParts(new Date(iso));
  const get = (type) => (parts.find((p) => p.type === type) || {}).value;
  return `${get("hour")}:${get("minute")}`;
}

/** Show the picker for `view` ({open, rebooking, zone, slots, day, slot, closable}); `on.onDay(date)`
 * and `on.onSlot(slot)` are called on a choice. */
export function render(view, on) {
  $("booking-picker").hidden = !view.open;
  if (!view.open) return;
  $("booking-picker-title").textContent = t(view.rebooking ? "booking.rebook_heading" : "booking.heading");
  $("booking-rebook-help").hidden = !view.rebooking;
  const zone = view.zone;
  const select = $("booking-zone");
  select.replaceChildren(
    ...Object.entries(ZONES).map(([name, label]) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = `${t(`booking.zones.${label}`)}`;
      return option;
    }),
  );
  if (zone) select.value = zone.zone;
  $("booking-zone-help").textContent = zone ? t("booking.zone_help", { zone: zone.label }) : "";
  if (!view.slots) {
    $("booking-loading").hidden = false;
    $("booking-days").replaceChildren();
    $("booking-slots").replaceChildren();
    $("booking-no-slots").hidden = true;
    $("booking-no-days").hidden = true;
    $("booking-slots-box").hidden = true;
    $("booking-confirm").hidden = true;
    return;
  }
  $("booking-loading").hidden = true;
  const days = view.slots.days.filter((d) => d.slots.length);
  $("booking-no-days").hidden = days.length > 0;
  $("booking-days").replaceChildren(
    ...days.map((d) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "day";
      b.dataset.date = d.date;
      b.setAttribute("aria-pressed", String(d.date === view.day));
      const [weekday, ...rest] = dayName(d.date, "short").replace(",", "").split(" ");
      b.append(span("day-name", weekday), span("day-date", rest.join(" ")));
      b.setAttribute("aria-label", dayName(d.date));
      b.addEventListener("click", () => on.onDay(d.date));
      return b;
    }),
  );
  const day = view.slots.days.find((d) => d.date === view.day);
  const slots = day ? day.slots : [];
  $("booking-slots-box").hidden = !days.length;
  $("booking-slots-title").textContent = view.day
    ? t("booking.slots", { day: dayName(view.day), zone: view.slots.zone_label })
    : "";
  $("booking-no-slots").hidden = slots.length > 0 || !days.length;
  $("booking-slots").replaceChildren(
    ...slots.map((s) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "slot";
      b.dataset.start = s.start;
      b.setAttribute("aria-pressed", String(Boolean(view.slot && view.slot.start === s.start)));
      b.append(
        span("slot-time", `${s.local_start}–${s.local_end}`),
        span("slot-zone", ` ${view.slots.zone_label}`),
      );
      b.title = t("booking.free", { n: s.free });
      b.addEventListener("click", () => on.onSlot(s));
      return b;
    }),
  );
  $("booking-confirm").hidden = !days.length;
  $("booking-choice").textContent = view.slot
    ? `${dayName(view.day)}, ${view.slot.local_start}–${view.slot.local_end} ${view.slots.zone_label}`
    : t("booking.pick_slot");
  $("booking-submit").disabled = !view.slot;
  $("booking-confirm").classList.toggle("chosen", Boolean(view.slot)); // sticky once chosen
  $("booking-close").hidden = !view.closable;
}
