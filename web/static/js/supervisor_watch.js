// The supervisor's live calls: the calls in progress ("Pantau": watch one silently, both sides'
// video and sound, through a receive-only connection to the node hosting the call), and ending
// a call with a reason. Every watch is written to the record's history by the server.
import { io } from "/static/vendor/socket.io.esm.min.js";
import { t, onChange, formatDateTime } from "./i18n.js";
import { call } from "./api.js";
import { errorText } from "./forms.js";
import { waitForIce } from "./media_link.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 5_000;
const LOGIN_POLL_MS = 3_000; // until a supervisor has logged in on this page
const SIDES = ["participant", "officer"];
const state = { items: [], watching: null }; // watching: {item, socket, pc, status}

function say(id, text) {
  const box = $(id);
  box.textContent = text ? `⚠ ${text}` : "";
  box.hidden = !text;
}

function mediaUrl(ticket) {
  const ns = ticket.namespace || "/media";
  if (!ticket.url) return ns;
  const url = new URL(ticket.url, location.href);
  return url.origin === location.origin ? ns : `${url.origin}${ns}`;
}

// -- the list ---------------------------------------------------------------------------------

function render() {
  const rows = state.items.map((item) => {
    const tr = document.createElement("tr");
    tr.dataset.sessionId = item.session_id;
    const status = item.connected_at ? "watch.status_live" : "watch.status_paired";
    const texts = [
      item.full_name || "–",
      item.reference || "–",
      item.officer_name || "–",
      formatDateTime(item.created_at),
      t(status),
    ];
    for (const text of texts) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const td = document.createElement("td");
    const watch = document.createElement("button");
    watch.type = "button";
    watch.className = "secondary";
    watch.dataset.i18n = "watch.watch";
    watch.textContent = t("watch.watch");
    watch.disabled = !!state.watching;
    watch.addEventListener("click", () => startWatching(item));
    td.append(watch);
    tr.append(td);
    return tr;
  });
  $("live-list").replaceChildren(...rows);
  $("live-empty").hidden = rows.length > 0;
}

async function load() {
  try {
    state.items = (await call("GET", "/api/calls/live")).items;
    $("live-calls").hidden = false;
    say("live-error", "");
    render();
  } catch (err) {
    if (err.status === 401 || err.status === 403) return; // not (yet) a logged-in supervisor
    say("live-error", errorText(err));
  }
}

async function loop() {
  await load();
  setTimeout(loop, $("live-calls").hidden ? LOGIN_POLL_MS : REFRESH_MS);
}

// -- watching ---------------------------------------------------------------------------------

function showStatus(key) {
  if (state.watching) state.watching.status = key;
  $("watch-status").textContent = t(key);
}

async function startWatching(item) {
  if (state.watching) return;
  say("watch-error", "");
  $("end-done").hidden = true;
  $("end-reason").value = "";
  let reply;
  try {
    reply = await call("POST", `/api/sessions/${item.session_id}/watch`);
  } catch (err) {
    say("live-error", errorText(err));
    return;
  }
  const ticket = reply.media;
  const socket = io(mediaUrl(ticket), { auth: { token: ticket.token }, transports: ["websocket", "polling"] });
  state.watching = { item, socket, pc: null, ticket, status: "watch.connecting" };
  $("watch-name").textContent = `${item.full_name || "–"} · ${item.reference || ""}`;
  $("watch-view").hidden = false;
  showStatus("watch.connecting");
  render();
  socket.on("connect", () => negotiate(state.watching));
  socket.on("ended", () => {
    showStatus("watch.ended");
    closeMedia();
    load();
  });
  socket.on("error", () => {
    /* also acknowledged; shown where the request was made */
  });
  $("h-watch").focus();
}

async function negotiate(watching) {
  if (!watching || watching !== state.watching) return;
  if (watching.pc) watching.pc.close();
  // Max-bundle: one transport for the four streams, as the server answers.
  const pc = new RTCPeerConnection({ iceServers: watching.ticket.ice_servers || [], bundlePolicy: "max-bundle" });
  watching.pc = pc;
  const streams = {};
  const order = { video: [], audio: [] };
  for (const side of SIDES) {
    streams[side] = new MediaStream();
    $(`watch-${side}`).srcObject = streams[side];
    // Participant first, then officer, for each kind: the server answers in that order.
    order.video.push(pc.addTransceiver("video", { direction: "recvonly" }));
    order.audio.push(pc.addTransceiver("audio", { direction: "recvonly" }));
  }
  pc.addEventListener("track", (event) => {
    const index = order[event.track.kind].indexOf(event.transceiver);
    const side = SIDES[index] || SIDES[0];
    streams[side].addTrack(event.track);
    const video = $(`watch-${side}`);
    video.play().catch(() => {
      // Without a recent click the browser may refuse sound: watch muted rather than not at all.
      video.muted = true;
      video.play().catch(() => {});
    });
  });
  pc.addEventListener("connectionstatechange", () => {
    if (pc !== watching.pc) return;
    if (pc.connectionState === "connected") showStatus("watch.connected");
    if (pc.connectionState === "failed") showStatus("watch.connecting");
  });
  await pc.setLocalDescription(await pc.createOffer());
  await waitForIce(pc);
  const answer = await watching.socket.timeout(15000).emitWithAck("watch", { sdp: pc.localDescription.sdp, type: "offer" });
  if (pc !== watching.pc) return;
  if (!answer || !answer.ok) {
    say("watch-error", errorText((answer && answer.error) || {}));
    return;
  }
  await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
}

function closeMedia() {
  const watching = state.watching;
  if (!watching) return;
  if (watching.pc) watching.pc.close();
  watching.pc = null;
  if (watching.socket) watching.socket.disconnect();
  watching.socket = null;
}

function stopWatching() {
  closeMedia();
  state.watching = null;
  for (const side of SIDES) $(`watch-${side}`).srcObject = null;
  $("watch-view").hidden = true;
  render();
}

async function endCall(event) {
  event.preventDefault();
  const watching = state.watching;
  if (!watching) return;
  say("watch-error", "");
  const button = $("end-submit");
  button.disabled = true;
  try {
    await call("POST", `/api/sessions/${watching.item.session_id}/end`, { json: { reason: $("end-reason").value } });
    $("end-done").textContent = `✓ ${t("watch.end_done")}`;
    $("end-done").hidden = false;
  } catch (err) {
    say("watch-error", errorText(err));
  } finally {
    button.disabled = false;
  }
}

function start() {
  if (!$("live-calls")) return;
  $("watch-stop").addEventListener("click", stopWatching);
  $("form-end").addEventListener("submit", endCall);
  onChange(() => {
    render();
    if (state.watching) $("watch-status").textContent = t(state.watching.status);
  });
  loop();
}

start();
