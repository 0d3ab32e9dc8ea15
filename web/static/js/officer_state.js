// What the officer's page modules share: the /officer event names, the page's state and the
// presence the officer chose (officer.js connects, officer_desk.js shows the desk,
// officer_call.js the call view).

// Event names of the /officer namespace (signaling/officer.py).
export const EV = {
  presence: "set_presence",
  presenceState: "presence",
  queue: "queue_view",
  accept: "accept_next",
  paired: "paired",
  peer: "peer_status",
  hangUp: "end_call",
  ended: "call_ended",
  error: "error",
};

export const $ = (id) => document.getElementById(id);

export const state = {
  me: null,
  socket: null,
  queue: null,
  call: null,
  media: null,
  camera: null, // the officer's own getUserMedia stream, stopped when the call ends
  undecided: [],
};

// The presence the officer chose, kept for this tab across reloads (the server's own state
// says "away" for a new connection until the page says otherwise).
export const PRESENCE_KEY = "vc_officer_presence";

export function chosenPresence() {
  const stored = sessionStorage.getItem(PRESENCE_KEY);
  return stored === "available" || stored === "away" ? stored : "away";
}
