// One side's media for one call: a Socket.IO connection to the /media namespace of the process
// that hosts the call (from the "media ticket" in the pairing message), an SDP offer answered by
// the server's aiortc peer, snapshots (officer) and live quality hints.
import { io } from "/static/vendor/socket.io.esm.min.js";

const LEVEL_RANK = { unknown: -1, ok: 0, warn: 1, bad: 2 };

function mediaUrl(ticket) {
  const ns = ticket.namespace || "/media";
  if (!ticket.url) return ns;
  const url = new URL(ticket.url, location.href);
  return url.origin === location.origin ? ns : `${url.origin}${ns}`;
}

/** Wait until ICE gathering completes (the server takes no trickled candidates), at most 3 s. */
export function waitForIce(pc, timeoutMs = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, timeoutMs);
  });
}

export class MediaLink {
  /**
   * @param {object} o
   * @param {"participant"|"officer"} o.role
   * @param {{url, namespace, token, ice_servers}} o.ticket
   * @param {MediaStream} o.stream  own camera and microphone
   * @param {HTMLVideoElement} o.remoteVideo
   * @param {(key: string) => void} o.onStatus  translation keys: call.connecting|connected|reconnecting
   * @param {() => void} [o.onQuality]  quality or hints changed
   * @param {() => void} [o.onEnded]  the server closed the call's media
   */
  constructor(o) {
    Object.assign(this, o);
    this.socket = null;
    this.pc = null;
    this.closed = false;
    this.levels = new Map(); // "side:measure" -> {level, hint}
    this.negotiating = null;
    this.failures = 0;
  }

  start() {
    const socket = io(mediaUrl(this.ticket), {
      auth: { token: this.ticket.token },
      transports: ["websocket", "polling"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
    });
    this.socket = socket;
    socket.on("connect", () => this.negotiate());
    socket.on("disconnect", () => {
      if (!this.closed) this.onStatus("call.reconnecting");
    });
    socket.on("hint", (msg) => this.onLevel({ side: "participant", ...msg }));
    socket.on("quality", (msg) => this.onLevel(msg));
    // The server offers this side's connection again (a participant's late H.264 offer: the
    // officer's video switches to the participant's format); answered on a new connection.
    socket.on("renegotiate", (msg) => this.answerOffer(msg));
    socket.on("ended", () => {
      if (this.onEnded) this.onEnded();
    });
    socket.on("error", () => {
      /* also acknowledged; handled where the request was made */
    });
  }

  /** A new peer connection each time: aiortc has no ICE restart. */
  async negotiate() {
    if (this.closed) return;
    if (this.negotiating) return this.negotiating;
    this.negotiating = this._negotiate().finally(() => (this.negotiating = null));
    return this.negotiating;
  }

  /** Answer the server's offer (``renegotiate``) after any negotiation under way. */
  async answerOffer(msg) {
    if (this.closed || !msg || msg.type !== "offer" || !msg.sdp) return;
    if (this.negotiating) await this.negotiating.catch(() => {});
    this.negotiating = this._answer(msg.sdp).finally(() => (this.negotiating = null));
    return this.negotiating;
  }

  /** Once ICE gathering is done, send the local description as `type` ("offer"/"answer"). */
  async _sendLocal(pc, type) {
    await waitForIce(pc);
    return this.socket.timeout(15000).emitWithAck(type, { sdp: pc.localDescription.sdp, type });
  }

  async _answer(sdp) {
    const pc = this._newPc();
    await pc.setRemoteDescription({ type: "offer", sdp });
    // addTrack takes the transceivers the offer created (same kind, not sending yet).
    for (const track of this.stream.getTracks()) pc.addTrack(track, this.stream);
    await pc.setLocalDescription(await pc.createAnswer());
    const reply = await this._sendLocal(pc, "answer");
    if (pc !== this.pc) return;
    // Refused (video_codec_mismatch is also shown as a hint): offer ourselves after a pause.
    if (!reply || !reply.ok) this.retrySoon();
  }

  async _negotiate() {
    const pc = this._newPc();
    for (const track of this.stream.getTracks()) pc.addTrack(track, this.stream);
    await pc.setLocalDescription(await pc.createOffer());
    const reply = await this._sendLocal(pc, "offer");
    if (pc !== this.pc) return;
    if (!reply || !reply.ok) {
      this.retrySoon();
      return;
    }
    await pc.setRemoteDescription({ type: reply.type, sdp: reply.sdp });
    this.socket.timeout(5000).emitWithAck("levels").then(
      (levels) => this.initLevels(levels),
      () => {},
    );
  }

  /** A new peer connection replacing the current one (aiortc has no ICE restart). */
  _newPc() {
    this.onStatus(this.pc ? "call.reconnecting" : "call.connecting");
    if (this.pc) this.pc.close();
    const pc = new RTCPeerConnection({ iceServers: this.ticket.ice_servers || [] });
    this.pc = pc;
    const remote = new MediaStream();
    this.remoteVideo.srcObject = remote;
    pc.addEventListener("track", (event) => {
      remote.addTrack(event.track);
      this.remoteVideo.play().catch(() => {});
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== this.pc) return;
      if (pc.connectionState === "connected") {
        this.failures = 0;
        this.onStatus("call.connected");
      } else if (pc.connectionState === "failed" || pc.connectionState === "disconnected") {
        this.retrySoon();
      }
    });
    return pc;
  }

  retrySoon() {
    if (this.closed || this.retryTimer) return;
    this.failures += 1;
    const delay = Math.min(8000, 1000 * 2 ** Math.min(this.failures - 1, 3));
    this.onStatus("call.reconnecting");
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.socket && this.socket.connected) this.negotiate();
    }, delay);
  }

  initLevels(levels) {
    if (!levels || !levels.ok) return;
    for (const side of ["participant", "officer"]) {
      for (const [measure, level] of Object.entries(levels[side] || {})) {
        const key = `${side}:${measure}`;
        if (!this.levels.has(key)) this.levels.set(key, { level, hint: null });
      }
    }
    if (this.onQuality) this.onQuality();
  }

  onLevel(msg) {
    if (!msg || !msg.measure) return;
    this.levels.set(`${msg.side || "participant"}:${msg.measure}`, { level: msg.level, hint: msg.hint || null });
    if (this.onQuality) this.onQuality();
  }

  /** The worst current level (of the participant's side, and the officer's own connection) and
   * the distinct hint codes behind it. */
  quality(side = null) {
    let level = this.levels.size ? "ok" : "unknown";
    const hints = new Set();
    for (const [key, value] of this.levels) {
      if (side && !key.startsWith(`${side}:`)) continue;
      if (LEVEL_RANK[value.level] > LEVEL_RANK[level]) level = value.level;
      if (value.hint && value.level !== "ok") hints.add(value.hint);
    }
    if (this.pc && this.pc.connectionState === "connected" && level === "unknown") level = "ok";
    return { level, hints: [...hints] };
  }

  /** Officer: ask the server to save the participant's current frame; resolves the ack. */
  async snapshot(kind) {
    const reply = await this.socket.timeout(15000).emitWithAck("snapshot", { kind });
    if (!reply.ok) {
      const err = new Error(reply.error.message);
      err.code = reply.error.code;
      throw err;
    }
    return reply;
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.pc) this.pc.close();
    this.pc = null;
    if (this.socket) this.socket.disconnect();
    this.socket = null;
  }
}
