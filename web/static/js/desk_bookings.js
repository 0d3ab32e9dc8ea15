// The officer's desk: the next booked participants (issue 16), in the desk's zone, from
// GET /api/appointments/upcoming; looked at again every half minute. Waits quietly until an
// officer or supervisor has logged in on this page.
import { t, onChange, locale } from "./i18n.js";
import { call } from "./api.js";
import { errorText } from "./forms.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 30_000;
const LOGIN_POLL_MS = 3_000;
const LIMIT = 10;
const state = { body: null, timer: null };

/** "Kam, 26 Nov" for a calendar date of the desk's zone. */
function shortDay(date) {
  const [y, m, d] = date.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), {
    weekday: "short",
    day: "numeric",
    month: "short",
    timeZone: "UTC",
  }).format(new Date(Date.UTC(y, m - 1, d, 12)));
}

/** Today's date in `zone` as YYYY-MM-DD. */
function today(zone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone }).format(new Date());
}

function cell(tr, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  tr.append(td);
}

function render() {
  const body = state.body;
  if (!body) return;
  const now = Date.now();
  const zone = body.zone_label;
  $("bookings-zone").textContent = zone;
  const rows = body.appointments.map((a) => {
    const tr = document.createElement("tr");
    tr.dataset.appointmentId = a.id;
    tr.dataset.recordId = a.record_id;
    const started = Date.parse(a.start) <= now;
    if (started) tr.className = "bookings-now";
    const day = a.local_date === today(body.zone) ? t("dbook.today") : shortDay(a.local_date);
    const when = document.createElement("span");
    when.textContent = `${day}, ${a.local_start} ${zone}`;
    cell(tr, when);
    cell(tr, a.participant_name || "–");
    const tag = document.createElement("span");
    tag.className = `tag ${started ? "ok" : ""}`;
    tag.textContent = started ? `✓ ${t("dbook.now")}` : t("dbook.booked");
    cell(tr, tag);
    return tr;
  });
  $("bookings-list").replaceChildren(...rows);
  $("bookings-empty").hidden = rows.length > 0;
}

async function load() {
  try {
    state.body = await call("GET", `/api/appointments/upcoming?limit=${LIMIT}`);
    $("desk-bookings").hidden = false;
    $("err-bookings").hidden = true;
    render();
    return true;
  } catch (err) {
    if (err.status === 401 || err.status === 403) return false; // not logged in (yet)
    if (err.status === 404) return false; // a server without appointments
    $("err-bookings").textContent = `⚠ ${errorText(err)}`;
    $("err-bookings").hidden = false;
    return true;
  }
}

async function loop() {
  const loggedIn = await load();
  clearTimeout(state.timer);
  state.timer = setTimeout(loop, loggedIn ? REFRESH_MS : LOGIN_POLL_MS);
}

function start() {
  if (!$("desk-bookings")) return;
  onChange(render);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !$("desk-bookings").hidden) loop();
  });
  loop();
}

start();
