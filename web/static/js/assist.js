// Officer assist (docs/assist.md). On the participant's page: the KTP photo's NIK check, beside
// the photo, after each upload. On the officer's call view: the KTP as read by machine and the face
// scores, polled while the call view is open. An aid, never a decision: nothing here blocks.
import { t, onChange } from "./i18n.js";
import { call } from "./api.js";

const POLL_MS = 1500;
const POLL_LIMIT_MS = 5 * 60 * 1000;
const NONE_GRACE_MS = 10000;
const $ = (id) => document.getElementById(id);

function addStyles() {
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = "/static/css/assist.css";
  document.head.append(link);
}

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text != null) node.textContent = text;
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

// -- participant ------------------------------------------------------------------------

function participant(box) {
  const card = box.closest(".doc");
  let last = null;
  let timer = null;
  let started = 0;

  function show(ktp) {
    last = ktp;
    if (!ktp || ktp.status === "none") {
      box.hidden = true;
      return;
    }
    const key = ktp.status === "pending" ? "pending" : ktp.nik;
    box.dataset.assist = key;
    box.textContent = (key === "mismatch" ? "⚠ " : key === "match" ? "✓ " : "") + t(`assist.p_${key}`);
    box.hidden = false;
  }

  async function poll() {
    clearTimeout(timer);
    let reply;
    try {
      reply = await call("GET", "/api/me/assist", { auth: true });
    } catch {
      return; // not registered yet, or offline: the check is a convenience only
    }
    show(reply.ktp);
    // Right after an upload the analysis may not be registered yet ("none") for a moment.
    const waiting = reply.ktp.status === "pending" || (reply.ktp.status === "none" && Date.now() - started < NONE_GRACE_MS);
    if (waiting && Date.now() - started < POLL_LIMIT_MS) timer = setTimeout(poll, POLL_MS);
  }

  function restart() {
    const status = card.dataset.status;
    if (status === "running") {
      box.hidden = true; // a new photo is on its way
      return;
    }
    if (status === "ok" || status === "warn") {
      started = Date.now();
      poll();
    }
  }

  new MutationObserver(restart).observe(card, { attributes: true, attributeFilter: ["data-status"] });
  onChange(() => show(last));
  restart();
}

// -- officer ----------------------------------------------------------------------------

function likenessCell(kind, value, extra) {
  const cell = el("td", null, { "data-check": value || "unreadable" });
  cell.textContent = kind === "nik" ? t(`assist.nik.${value}`, extra) : t(`assist.likeness.${value}`);
  return cell;
}

function ktpTable(ktp) {
  const wrap = el("div", null, { class: "assist-ktp" });
  wrap.append(el("h3", t("assist.ktp_heading")));
  if (ktp.status !== "done") {
    wrap.append(el("p", t(ktp.status === "none" ? "assist.none" : "assist.pending"), { class: "muted" }));
    return wrap;
  }
  const read = ktp.read || {};
  const cmp = ktp.comparison || {};
  const table = el("table", null, { class: "assist-table", id: "assist-ktp-table" });
  const head = el("tr");
  head.append(el("th", t("assist.field")), el("th", t("assist.read")), el("th", t("assist.check")));
  table.append(head);
  const rows = [
    ["nik", read.nik, cmp.nik, { n: cmp.nik_differing_digits }],
    ["name", read.name, cmp.name],
    ["birth_date", read.birth_date, cmp.birth_date],
    ["sex", read.sex ? t(`sex.${read.sex}`) : null, cmp.sex],
    ["card_consistent", "", cmp.card_consistent],
  ];
  for (const [field, value, check, extra] of rows) {
    const tr = el("tr", null, { "data-field": field });
    tr.append(el("th", t(`assist.fields.${field}`), { scope: "row" }), el("td", value || "–"));
    tr.append(likenessCell(field, check || "unreadable", extra || {}));
    table.append(tr);
  }
  wrap.append(table);
  return wrap;
}

function facesList(faces) {
  const wrap = el("div", null, { class: "assist-faces" });
  wrap.append(el("h3", t("assist.faces_heading")));
  const list = el("ul", null, { id: "assist-faces" });
  for (const face of faces) {
    const li = el("li", null, { "data-pair": face.pair, "data-band": face.band || face.status });
    const verdict =
      face.status === "scored"
        ? `${t(`assist.band.${face.band}`)} (${t("assist.distance", { d: face.distance.toFixed(2) })})`
        : t(`assist.face_status.${face.status}`);
    li.append(el("span", t(`assist.pairs.${face.pair}`) + ": "), el("strong", verdict));
    list.append(li);
  }
  wrap.append(list, el("p", t("assist.limits"), { class: "muted" }));
  return wrap;
}

function officer(panel) {
  const view = $("callview");
  let timer = null;
  let last = null;

  function render(data) {
    last = data;
    if (!data) {
      panel.hidden = true;
      return;
    }
    const heading = el("h2", null);
    heading.append(el("span", t("assist.heading") + " — "), el("em", t("assist.notice"), { id: "assist-notice" }));
    panel.replaceChildren(heading, el("p", t("assist.help"), { class: "muted" }), ktpTable(data.ktp), facesList(data.faces));
    panel.hidden = false;
  }

  async function poll() {
    clearTimeout(timer);
    if (!view || view.hidden) return;
    try {
      render((await call("GET", "/api/assist/current")).call);
    } catch {
      /* the panel is an aid: a failed poll leaves the last readings */
    }
    timer = setTimeout(poll, POLL_MS * 2);
  }

  if (view) {
    new MutationObserver(() => (view.hidden ? render(null) : poll())).observe(view, {
      attributes: true,
      attributeFilter: ["hidden"],
    });
  }
  onChange(() => last && render(last));
  poll();
}

function start() {
  addStyles();
  const box = $("assist-ktp");
  if (box) participant(box);
  const panel = $("assist-panel");
  if (panel) officer(panel);
}

start();
