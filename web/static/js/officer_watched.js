// The officer's call view says when a supervisor watches the call (and when they stop), and
// when a supervisor ended it, with the reason. Pushed on /officer by the server (`watched`,
// `supervisor_ended`, signaling/media_watch.py and videocall/app/supervision.py).
import { t, onChange } from "./i18n.js";

/** Follow the pushes on the officer's `socket`; `currentCall()` is the call on screen. */
export function followWatch(socket, currentCall) {
  const box = document.getElementById("o-watched");
  if (!box) return;
  let shown = null; // {session_id, key, vars}

  const render = () => {
    const call = currentCall();
    if (!shown || !call || call.session_id !== shown.session_id) {
      box.hidden = true;
      box.textContent = "";
      delete box.dataset.watching;
      return;
    }
    box.textContent = `👁 ${t(shown.key, shown.vars)}`;
    box.dataset.watching = String(shown.key === "watch.officer_notice");
    box.hidden = false;
  };

  socket.on("watched", (msg) => {
    if (!msg || !msg.session_id) return;
    const ended = shown && shown.session_id === msg.session_id && shown.key === "watch.officer_ended";
    if (ended && !msg.watching) return; // the monitor closing with the call: the end says more
    const key = msg.watching ? "watch.officer_notice" : "watch.officer_stopped";
    shown = { session_id: msg.session_id, key, vars: { name: msg.supervisor || "" } };
    render();
  });
  socket.on("supervisor_ended", (msg) => {
    if (!msg || !msg.session_id) return;
    const vars = { name: msg.supervisor || "", reason: msg.reason || "" };
    shown = { session_id: msg.session_id, key: "watch.officer_ended", vars };
    render();
  });
  socket.on("paired", render); // another call on screen: nothing to say about it yet
  onChange(render);
}
