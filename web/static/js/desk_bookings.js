// The officer's desk: the next booked participants (issue 16), in the desk's zone, from
// GET /api/appointments/upcoming; looked at again every half minute. Waits quietly until an
// officer or supervisor has logged in on this page.
import { t, onChange, formatDay } from "./i18n.js";
import { call } from "./api.js";
import { errorText } from "./forms.js";
import { cell } from "./staff.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 30_000;
const LOGIN_POLL_MS = 3_000;
const LIMIT = 10;
const state = { body: null, timer: null };

/** Today's date in `zone` as YYYY-MM-DD. */
function today(zone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone }).format(new Date());
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
    const day = a.local_date === today(body.zone) ? t("dbook.today") : formatDay(a.local_date, "short");
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
