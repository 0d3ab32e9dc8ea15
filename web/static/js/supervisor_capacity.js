// The supervisor's appointments panel (issue 16): bookings against capacity per slot for today and
// the next days (GET /api/appointments/capacity), and the weekly plan of officers per weekday and
// hour that makes the capacity (GET/PUT /api/appointments/plan), all in the desk's zone. Waits
// quietly until a supervisor has logged in on this page.
import { t, onChange, locale, formatDay } from "./i18n.js";
import { call } from "./api.js";
import { errorText } from "./forms.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 60_000;
const LOGIN_POLL_MS = 3_000;
const DAYS = 7;
const HOURS = [...Array(24).keys()];
const WEEKDAYS = [...Array(7).keys()]; // 0 = Monday, as the API counts
const state = { capacity: null, day: null, plan: new Map(), timer: null, dirty: false };

const hour = (h) => `${String(h).padStart(2, "0")}:00`;

/** Monday..Sunday in the page's language (1 Jan 2024 was a Monday). */
function weekdayName(weekday, style = "long") {
  return new Intl.DateTimeFormat(locale(), { weekday: style, timeZone: "UTC" }).format(
    new Date(Date.UTC(2024, 0, 1 + weekday, 12)),
  );
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text != null) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

// -- bookings against capacity ----------------------------------------------------------------

function totals(day) {
  return day.slots.reduce(
    (sum, s) => ({ booked: sum.booked + s.booked, capacity: sum.capacity + s.capacity }),
    { booked: 0, capacity: 0 },
  );
}

function renderCapacity() {
  const body = state.capacity;
  if (!body) return;
  $("capacity-load-help").textContent = t("capacity.load_help", { zone: body.zone_label });
  $("plan-help").textContent = t("capacity.plan_help", {
    zone: `${body.zone_label}, ${body.zone}`,
    minutes: body.slot_minutes,
  });
  if (!body.days.some((d) => d.date === state.day)) state.day = body.days.length ? body.days[0].date : null;
  $("capacity-days").replaceChildren(
    ...body.days.map((d) => {
      const b = el("button", null, "day");
      b.type = "button";
      b.dataset.date = d.date;
      b.setAttribute("aria-pressed", String(d.date === state.day));
      const sum = totals(d);
      b.append(el("span", formatDay(d.date, "short"), "day-date"), el("span", t("capacity.day_summary", sum), "day-name"));
      b.addEventListener("click", () => {
        state.day = d.date;
        renderCapacity();
      });
      return b;
    }),
  );
  const day = body.days.find((d) => d.date === state.day);
  const slots = day ? day.slots.filter((s) => s.capacity > 0 || s.booked > 0) : [];
  $("capacity-list").replaceChildren(
    ...slots.map((s) => {
      const tr = document.createElement("tr");
      tr.dataset.start = s.start;
      const over = s.booked > s.capacity;
      const full = !over && s.booked >= s.capacity;
      if (over) tr.className = "over";
      else if (full) tr.className = "full";
      if (Date.parse(s.start) < Date.now()) tr.classList.add("past");
      tr.append(el("td", `${s.local_start} ${body.zone_label}`), el("td", String(s.booked)), el("td", String(s.capacity)));
      const bar = el("span", null, "capacity-bar");
      const fill = el("span");
      fill.style.width = `${s.capacity ? Math.min(100, (100 * s.booked) / s.capacity) : 100}%`;
      bar.append(fill);
      const load = el("td");
      load.append(bar);
      if (over || full) load.append(" ", el("span", `⚠ ${t(over ? "capacity.over" : "capacity.full")}`, "tag warn"));
      tr.append(load, el("td", String(Math.max(0, s.capacity - s.booked))));
      return tr;
    }),
  );
  $("capacity-empty").hidden = slots.length > 0;
}

async function loadCapacity() {
  state.capacity = await call("GET", `/api/appointments/capacity?days=${DAYS}`);
  renderCapacity();
}

// -- the weekly plan ----------------------------------------------------------------------------

function renderPlanGrid() {
  const head = el("tr");
  head.append(el("th", t("capacity.col_hour")));
  for (const wd of WEEKDAYS) {
    const th = el("th", weekdayName(wd, "short"));
    th.scope = "col";
    th.title = weekdayName(wd);
    head.append(th);
  }
  $("plan-head").replaceChildren(head);
  $("plan-body").replaceChildren(
    ...HOURS.map((h) => {
      const tr = el("tr");
      const th = el("th", hour(h));
      th.scope = "row";
      tr.append(th);
      for (const wd of WEEKDAYS) {
        const input = document.createElement("input");
        input.type = "number";
        input.min = "0";
        input.max = "1000";
        input.step = "1";
        input.inputMode = "numeric";
        input.id = `plan-${wd}-${h}`;
        input.dataset.weekday = String(wd);
        input.dataset.hour = String(h);
        input.setAttribute("value", String(state.plan.get(`${wd}-${h}`) || 0));
        input.setAttribute("aria-label", t("capacity.officers_at", { day: weekdayName(wd), hour: hour(h) }));
        input.addEventListener("input", () => {
          state.dirty = true;
          input.setAttribute("value", input.value); // the CSS marks staffed hours
        });
        const td = el("td");
        td.append(input);
        tr.append(td);
      }
      return tr;
    }),
  );
}

async function loadPlan() {
  const body = await call("GET", "/api/appointments/plan");
  state.plan = new Map(body.plan.map((p) => [`${p.weekday}-${p.hour}`, p.officers]));
  state.dirty = false;
  renderPlanGrid();
}

function readPlan() {
  const plan = [];
  for (const input of $("plan-body").querySelectorAll("input")) {
    const officers = Number(input.value || 0);
    if (officers > 0) plan.push({ weekday: Number(input.dataset.weekday), hour: Number(input.dataset.hour), officers });
  }
  return plan;
}

function planError(err) {
  $("err-plan").textContent = err ? `⚠ ${errorText(err)}` : "";
  $("err-plan").hidden = !err;
}

async function savePlan(event) {
  event.preventDefault();
  planError(null);
  $("plan-saved").textContent = "";
  const inputs = [...$("plan-body").querySelectorAll("input")];
  const bad = inputs.find((i) => !i.checkValidity());
  if (bad) {
    bad.focus();
    return planError({ code: "plan_invalid" });
  }
  const button = $("plan-save");
  button.disabled = true;
  try {
    const body = await call("PUT", "/api/appointments/plan", { json: { plan: readPlan() } });
    state.plan = new Map(body.plan.map((p) => [`${p.weekday}-${p.hour}`, p.officers]));
    state.dirty = false;
    renderPlanGrid();
    $("plan-saved").textContent = `✓ ${t("capacity.saved", { n: body.plan.length })}`;
    await loadCapacity();
  } catch (err) {
    planError(err);
  } finally {
    button.disabled = false;
  }
}

function copyMonday() {
  for (const h of HOURS) {
    const monday = $(`plan-0-${h}`).value;
    for (const wd of [1, 2, 3, 4]) {
      const input = $(`plan-${wd}-${h}`);
      input.value = monday;
      input.setAttribute("value", monday);
    }
  }
  state.dirty = true;
}

function clearPlan() {
  for (const input of $("plan-body").querySelectorAll("input")) {
    input.value = "0";
    input.setAttribute("value", "0");
  }
  state.dirty = true;
}

// -- start ----------------------------------------------------------------------------------------

async function load(first) {
  try {
    await loadCapacity();
    if (first) await loadPlan();
    $("capacity-panel").hidden = false;
    $("err-capacity").hidden = true;
    $("capacity-refreshed").textContent = t("capacity.refreshed_at", {
      time: new Date().toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" }),
    });
    return true;
  } catch (err) {
    if (err.status === 401 || err.status === 403 || err.status === 404) return false; // not (yet)
    $("err-capacity").textContent = `⚠ ${errorText(err)}`;
    $("err-capacity").hidden = false;
    return !first;
  }
}

async function loop() {
  const first = $("capacity-panel").hidden;
  const ok = await load(first);
  clearTimeout(state.timer);
  state.timer = setTimeout(loop, ok ? REFRESH_MS : LOGIN_POLL_MS);
}

function start() {
  if (!$("capacity-panel")) return;
  $("form-plan").addEventListener("submit", savePlan);
  $("plan-copy").addEventListener("click", copyMonday);
  $("plan-clear").addEventListener("click", clearPlan);
  onChange(() => {
    renderCapacity();
    if (!state.dirty && $("plan-body").children.length) renderPlanGrid();
  });
  loop();
}

start();
