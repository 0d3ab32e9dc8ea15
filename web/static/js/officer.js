// The officer's page: the /officer socket and the start. The desk (presence, the live queue,
// Accept next, undecided calls) is officer_desk.js; the call view with the record, snapshots,
// quality traffic light, checklist and decision is officer_call.js; they share officer_state.js.
import { io } from "/static/vendor/socket.io.esm.min.js";
import { t } from "./i18n.js";
import { banner } from "./net.js";
import { requireLogin } from "./staff.js";
import { setupZoom } from "./officer_zoom.js";
import * as decision from "./officer_decision.js";
import { followWatch } from "./officer_watched.js";
import { EV, $, state, chosenPresence } from "./officer_state.js";
import { ack, deskError, loadUndecided, renderQueue, renderUndecided, setupDesk, showPresence } from "./officer_desk.js";
import { callEnded, openCall, openDecision, setupDecision, setupPhotos } from "./officer_call.js";

export { EV };

function connect() {
  const socket = io("/officer", { transports: ["websocket", "polling"], reconnectionDelayMax: 5000 });
  state.socket = socket;
  let dropped = false;
  socket.on("connect", () => {
    if (dropped) banner("ok", "net.back");
    dropped = false;
    socket.emit(EV.presence, { presence: chosenPresence() }, ack);
  });
  socket.on("disconnect", () => {
    dropped = true;
    banner("warn", "net.socket_lost");
  });
  socket.on("connect_error", () => {
    dropped = true;
    banner("warn", "net.socket_lost");
  });
  socket.on(EV.presenceState, (msg) => {
    showPresence(msg.presence);
    if (Array.isArray(msg.undecided)) renderUndecided(msg.undecided);
  });
  socket.on(EV.queue, renderQueue);
  socket.on(EV.paired, (msg) => openCall(msg));
  socket.on(EV.peer, (msg) => {
    $("o-call-status").textContent = t(msg.status === "reconnecting" ? "ocall.peer_reconnecting" : "ocall.peer_resumed");
  });
  socket.on(EV.ended, (msg) => callEnded(msg));
  socket.on(EV.error, (msg) => deskError(msg));
  followWatch(socket, () => state.call); // "a supervisor is watching this call"
}

async function main() {
  state.me = await requireLogin(["officer", "supervisor"]);
  $("desk").hidden = false;
  showPresence("away");
  setupDesk({ openCall, openDecision });
  setupDecision();
  setupZoom();
  setupPhotos();
  connect();
  loadUndecided();
  await decision.loadReasons().catch((err) => deskError(err));
  document.body.dataset.ready = "true";
}

main();
