// The live part of the participant's journey: the queue and the call, over Socket.IO
// (namespace /participant) with WebRTC media negotiated through the server.
import { io } from "/static/vendor/socket.io.esm.min.js";
import { t, formatDuration, formatDateTime, onChange } from "./i18n.js";
import { banner } from "./net.js";
import { errorText } from "./forms.js";
import { MediaLink } from "./media_link.js";

// Event names of the /participant namespace (signaling/participant.py).
export const EV = {
  join: "join_queue",
  leave: "leave_queue",
  queue: "queue_status",
  paired: "paired",
  peer: "peer_status",
  ended: "call_ended",
  hangUp: "end_call",
  error: "error",
};

const $ = (id) => document.getElementById(id);

export class LiveSession {
  constructor({ token, getStream, show, onFinished, onAuthError }) {
    this.token = token;
    this.getStream = getStream;
    this.show = show;
    this.onFinished = onFinished;
    this.onAuthError = onAuthError;
    this.socket = null;
    this.media = null;
    this.active = true;
    this.inCall = false;
    this.lastQueue = null;
    onChange(() => this.retranslate());
  }

  start() {
    this.setQueueStatus("queue.connecting");
    this.socket = io("/participant", {
      auth: { token: this.token },
      transports: ["websocket", "polling"],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
    });
    const s = this.socket;
    s.on("connect", () => this.onConnect());
    s.on("disconnect", (reason) => this.onDisconnect(reason));
    s.on("connect_error", (err) => this.onConnectError(err));
    s.on(EV.queue, (msg) => this.onQueue(msg));
    s.on(EV.paired, (msg) => this.onPaired(msg));
    s.on(EV.peer, (msg) => this.onPeer(msg));
    s.on(EV.ended, (msg) => this.onEnded(msg));
    s.on(EV.error, (msg) => this.onError(msg));
  }

  nudge() {
    if (this.socket && !this.socket.connected) this.socket.connect();
  }

  onConnect() {
    if (this.wasDisconnected) banner("ok", "net.back");
    this.wasDisconnected = false;
    // Joining is idempotent on the server: after a reconnect it keeps our place or our call.
    this.socket.emit(EV.join, {}, (reply) => this.onJoinReply(reply));
  }

  onJoinReply(reply) {
    if (reply && reply.queue) this.onQueue(reply.queue);
    if (reply && reply.call) return this.onPaired(reply.call);
    // The call is over and the officer is still recording the decision: the status page says so.
    if (reply && reply.awaiting_decision) return this.finish();
    if (reply && reply.error) {
      // The call is over (or the record moved on): the status page says what happens next.
      if (["not_ready_for_call", "invalid_transition"].includes(reply.error.code)) return this.finish();
      this.onError(reply);
    }
  }

  onDisconnect(reason) {
    if (!this.active) return;
    this.wasDisconnected = true;
    banner("warn", "net.socket_lost");
    if (reason === "io server disconnect") this.socket.connect();
  }

  onConnectError(err) {
    const code = err && err.data && err.data.code;
    if (code && /^token_/.test(code)) {
      this.stop();
      this.onAuthError({ status: 401, code, message: err.message });
      return;
    }
    this.wasDisconnected = true;
    banner("warn", "net.socket_lost");
  }

  onError(msg) {
    const err = (msg && msg.error) || msg || {};
    const box = $(this.inCall ? "call-status" : "err-form-queue");
    box.textContent = `⚠ ${errorText(err)}`;
    box.hidden = false;
  }

  // -- queue ------------------------------------------------------------------------------

  setQueueStatus(key, vars) {
    this.queueStatusKey = [key, vars];
    $("queue-status").textContent = t(key, vars);
  }

  onQueue(msg) {
    this.lastQueue = msg;
    if (msg.closed) {
      this.setQueueStatus("queue.closed", { opens: formatDateTime(msg.opens_at) });
    } else {
      this.setQueueStatus(msg.position === 1 ? "queue.next" : "queue.waiting");
    }
    $("queue-position").textContent = msg.position != null ? String(msg.position) : "–";
    $("queue-estimate").textContent =
      msg.estimated_wait_seconds != null ? formatDuration(msg.estimated_wait_seconds) : t("queue.unknown");
  }

  leaveQueue() {
    if (this.socket) this.socket.emit(EV.leave, {});
    this.stop();
  }

  // -- call -------------------------------------------------------------------------------

  async onPaired(msg) {
    if (this.inCall && this.media) return;
    this.inCall = true;
    this.call = msg || {};
    this.show("call");
    $("call-hangup").hidden = false;
    $("call-status").textContent = t("call.connecting");
    const code = this.call.code || this.call.random_code;
    if (code) {
      $("call-code").textContent = code;
      $("code-box").hidden = false;
    }
    const stream = await this.getStream();
    $("local-video").srcObject = stream;
    const ticket = this.call.media || this.call.ticket;
    if (!ticket) return;
    this.media = new MediaLink({
      role: "participant",
      ticket,
      stream,
      remoteVideo: $("remote-video"),
      onStatus: (key) => ($("call-status").textContent = t(key)),
      onQuality: () => this.renderHints(),
      onEnded: () => {},
    });
    this.media.start();
  }

  renderHints() {
    const list = $("call-hints");
    const { hints } = this.media ? this.media.quality("participant") : { hints: [] };
    list.replaceChildren(
      ...hints.map((code) => {
        const li = document.createElement("li");
        li.dataset.hint = code;
        li.textContent = `⚠ ${t(`hint.${code}`)}`;
        return li;
      }),
    );
  }

  onPeer(msg) {
    const key = msg && msg.status === "reconnecting" ? "call.peer_reconnecting" : "call.peer_resumed";
    $("call-status").textContent = t(key);
  }

  hangUp() {
    if (this.socket) this.socket.emit(EV.hangUp, {});
  }

  /** The call ended: back to the head of the queue when the officer was lost, else done. */
  onEnded(msg) {
    $("call-status").textContent = t("call.ended");
    if (msg && msg.requeued) {
      if (this.media) this.media.close();
      this.media = null;
      this.inCall = false;
      this.show("queue");
      // Cancelled by nobody: the video never connected (the connect timeout), not an officer lost.
      const noMedia = msg.reason === "cancelled" && !msg.ended_by;
      banner("warn", noMedia ? "queue.requeued_no_media" : "queue.requeued");
      this.socket.emit(EV.join, {}, (reply) => this.onJoinReply(reply));
      return;
    }
    if (msg && msg.awaiting_decision) return this.awaitDecision();
    this.finish();
  }

  /** The officer hung up before recording the decision: say so on the call page (camera and
   * video off), then go on to the status page, which follows the decision by itself. */
  awaitDecision() {
    if (this.media) this.media.close();
    this.media = null;
    this.inCall = false;
    $("call-hints").replaceChildren();
    $("code-box").hidden = true;
    $("call-hangup").hidden = true;
    $("call-status").textContent = t("call.awaiting_decision");
    $("call-status").dataset.state = "awaiting_decision";
    banner("ok", "call.awaiting_decision");
    clearTimeout(this.finishTimer);
    this.finishTimer = setTimeout(() => this.finish(), 4000);
  }

  finish() {
    if (!this.active) return;
    this.stop();
    this.onFinished();
  }

  stop() {
    clearTimeout(this.finishTimer);
    this.active = false;
    this.inCall = false;
    if (this.media) this.media.close();
    this.media = null;
    if (this.socket) this.socket.disconnect();
    this.socket = null;
  }

  retranslate() {
    if (this.queueStatusKey) this.setQueueStatus(...this.queueStatusKey);
    if (this.lastQueue) this.onQueue(this.lastQueue);
    this.renderHints();
  }
}

