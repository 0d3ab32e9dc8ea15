// The booking panel's slot picker (booking.js holds the state): the zone, a day picker and the
// day's free slots in the participant's zone, named ("08:00–08:15 WITA"), and the choice with the
// button to book it. Dates and times are formatted here, in the page's language.
import { t, formatDay as dayName, formatDateTime as dateTime } from "./i18n.js";

const $ = (id) => document.getElementById(id);
export const ZONES = { "Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT" };

function span(cls, text) {
  const el = document.createElement("span");
  el.className = cls;
  el.textContent = text;
  return el;
}

/** A pressed-or-not button of the picker (a day or a slot), `data` set on its dataset. */
function choice(cls, data, pressed, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  Object.assign(b.dataset, data);
  b.setAttribute("aria-pressed", String(pressed));
  b.addEventListener("click", onClick);
  return b;
}

/** A calendar date in words (i18n.formatDay); an instant as a weekday, date and time in a zone,
 * whose label the caller adds (i18n.formatDateTime with a zone). */
export { dayName, dateTime };

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
      const b = choice("day", { date: d.date }, d.date === view.day, () => on.onDay(d.date));
      const [weekday, ...rest] = dayName(d.date, "short").replace(",", "").split(" ");
      b.append(span("day-name", weekday), span("day-date", rest.join(" ")));
      b.setAttribute("aria-label", dayName(d.date));
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
      const pressed = Boolean(view.slot && view.slot.start === s.start);
      const b = choice("slot", { start: s.start }, pressed, () => on.onSlot(s));
      b.append(
        span("slot-time", `${s.local_start}–${s.local_end}`),
        span("slot-zone", ` ${view.slots.zone_label}`),
      );
      b.title = t("booking.free", { n: s.free });
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
