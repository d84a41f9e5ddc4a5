// Steelyard real-time client: a dependency-free ES module served by the server at
// /assets/steelyard-realtime.js. It connects and authenticates, keeps a state machine
// (connecting, open, reconnecting, closed), reconnects with exponential backoff and jitter,
// resumes every topic from the last seq it saw, and calls per-topic callbacks, each event
// once and in order. The wire protocol is documented in docs/realtime.md.
//
//   import { SteelyardSocket } from "/assets/steelyard-realtime.js";
//   const socket = new SteelyardSocket({ url: "wss://erp.example.com/api/v1/ws",
//                                        token: () => currentAccessToken() });
//   socket.subscribe("purchase_orders", (event) => render(event));

/** Topics as the server spells them: `kind:<lower-case, hyphenated uuid>`. */
function canonicalTopic(topic) {
  const match = /^([a-z_]+):([0-9a-fA-F-]{32,36})$/.exec(topic);
  if (!match) return topic;
  const hex = match[2].replace(/-/g, "").toLowerCase();
  if (hex.length !== 32) return topic;
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return `${match[1]}:${id}`;
}

export class SteelyardSocket {
  /**
   * @param {object} options
   * @param {string} options.url        ws:// or wss:// URL of /api/v1/ws
   * @param {() => (string|Promise<string>)} options.token  the current access token; called
   *        on every (re)connect and before the token expires, so it may refresh it
   * @param {boolean} [options.batch]   ask the server to merge bursts into batch frames
   * @param {(state: string, detail?: object) => void} [options.onState]
   * @param {(error: object) => void} [options.onError]  refused subscriptions and other
   *        `error` frames; `resync_required` means the topic resumed from now and the
   *        caller should reload what it shows

   * @param {number} [options.minDelay] first reconnect delay in ms (default 250)
   * @param {number} [options.maxDelay] longest reconnect delay in ms (default 15000)
   * @param {number} [options.pingEvery] ms between application pings (default 25000)
   */
  constructor(options) {
    this.url = options.url;
    this.tokenSource = options.token;
    this.batch = Boolean(options.batch);
    this.onState = options.onState || (() => {});
    this.onError = options.onError || ((error) => console.warn("steelyard real-time:", error));
    this.minDelay = options.minDelay ?? 250;
    this.maxDelay = options.maxDelay ?? 15000;
    this.pingEvery = options.pingEvery ?? 25000;
    /** @type {Map<string, {callbacks: Set<Function>, lastSeq: (number|undefined)}>} */
    this.topics = new Map();
    this.state = "closed";
    this.attempt = 0;
    this.socket = null;
    this.timers = new Set();
    this.closedByUser = false;
    this.connect();
  }

  /** Follows `topic`; `since` resumes after that seq. Returns a function that stops it. */
  subscribe(topic, callback, { since } = {}) {
    topic = canonicalTopic(topic);
    let entry = this.topics.get(topic);
    if (!entry) {
      entry = { callbacks: new Set(), lastSeq: since };
      this.topics.set(topic, entry);
      if (this.state === "open") this.sendSubscribe(topic, entry);
    }
    entry.callbacks.add(callback);
    return () => this.unsubscribe(topic, callback);
  }

  unsubscribe(topic, callback) {
    topic = canonicalTopic(topic);
    const entry = this.topics.get(topic);
    if (!entry) return;
    if (callback) entry.callbacks.delete(callback);
    if (!callback || entry.callbacks.size === 0) {
      this.topics.delete(topic);
      this.send({ type: "unsubscribe", topic });
    }
  }

  /** The newest seq delivered on `topic`, for resuming elsewhere. */
  lastSeq(topic) {
    return this.topics.get(canonicalTopic(topic))?.lastSeq;
  }

  close() {
    this.closedByUser = true;
    this.clearTimers();
    if (this.socket) this.socket.close(1000, "closed by the client");
    this.setState("closed");
  }

  // ---- internals ----

  setState(state, detail) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state, detail);
  }

  later(ms, fn) {
    const id = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    this.timers.add(id);
    return id;
  }

  clearTimers() {
    for (const id of this.timers) clearTimeout(id);
    this.timers.clear();
  }

  async connect() {
    if (this.closedByUser) return;
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    let token;
    try {
      token = await this.tokenSource();
    } catch (error) {
      return this.retry({ reason: "no token", error });
    }
    if (this.closedByUser) return; // closed while the token was being fetched
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      return this.retry({ reason: "cannot open", error });
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.closedByUser) return socket.close(1000, "closed by the client");
      socket.send(JSON.stringify({ type: "auth", token, batch: this.batch }));
    };
    socket.onmessage = (message) => this.receive(socket, message.data);
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.expiresAt = undefined;
      this.clearTimers();
      if (this.closedByUser) return this.setState("closed");
      this.retry({ code: close.code, reason: close.reason });
    };
    socket.onerror = () => {}; // onclose follows and decides
  }

  retry(detail) {
    if (this.closedByUser) return;
    this.attempt += 1;
    this.setState("reconnecting", detail);
    // Full jitter: spreads a reconnection storm over the whole backoff window.
    const ceiling = Math.min(this.maxDelay, this.minDelay * 2 ** Math.min(this.attempt - 1, 16));
    this.later(Math.random() * ceiling, () => this.connect());
  }

  send(message) {
    if (this.socket && this.socket.readyState === 1 && this.state === "open") {
      this.socket.send(JSON.stringify(message));
    }
  }

  sendSubscribe(topic, entry) {
    const message = { type: "subscribe", topic };
    if (entry.lastSeq !== undefined) message.since = entry.lastSeq;
    this.socket.send(JSON.stringify(message));
  }

  receive(socket, text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    switch (message.type) {
      case "authenticated":
        if (this.state !== "open") {
          this.attempt = 0;
          this.awaitingPong = false;
          this.setState("open");
          for (const [topic, entry] of this.topics) this.sendSubscribe(topic, entry);
          this.schedulePing(socket);
        }
        // A re-auth that did not move the expiry (a cached token) is not repeated.
        if (message.expires_at !== this.expiresAt) {
          this.expiresAt = message.expires_at;
          this.scheduleReauth(socket, message.expires_at);
        }
        break;
      case "subscribed": {
        const entry = this.topics.get(message.topic);
        // Everything up to `seq` was sent before this answer: resume from there at least.
        if (entry && (entry.lastSeq === undefined || message.seq > entry.lastSeq)) {
          entry.lastSeq = message.seq;
        }
        break;
      }
      case "error": {
        const entry = message.topic && this.topics.get(message.topic);
        if (message.code === "resync_required" && entry) {
          // Too far behind to replay: follow from now; the caller reloads its view.
          entry.lastSeq = undefined;
          this.sendSubscribe(message.topic, entry);
        }
        this.onError(message);
        break;
      }
      case "event":
        this.dispatch(message);
        break;
      case "batch":
        for (const event of message.events) this.dispatch(event);
        break;
      case "pong":
        this.awaitingPong = false;
        break;
      default:
        break;
    }
  }

  dispatch(event) {
    const entry = this.topics.get(event.topic);
    if (!entry) return;
    // Resume may overlap what was already seen; each seq is delivered once.
    if (entry.lastSeq !== undefined && event.seq <= entry.lastSeq) return;
    entry.lastSeq = event.seq;
    for (const callback of entry.callbacks) {
      try {
        callback(event);
      } catch (error) {
        console.error("a real-time callback failed", error);
      }
    }
  }

  scheduleReauth(socket, expiresAt) {
    if (!expiresAt) return;
    const ms = expiresAt * 1000 - Date.now() - 30000;
    this.later(Math.max(ms, 1000), async () => {
      if (this.socket !== socket) return;
      try {
        const token = await this.tokenSource();
        if (this.socket === socket) socket.send(JSON.stringify({ type: "auth", token }));
      } catch {
        // The server closes the socket at expiry; the reconnect asks for a token again.
      }
    });
  }

  schedulePing(socket) {
    this.later(this.pingEvery, () => {
      if (this.socket !== socket) return;
      if (this.awaitingPong) {
        // No answer to the last ping: the connection is dead even if the browser has not
        // noticed yet.
        this.socket = null;
        this.expiresAt = undefined;
        this.clearTimers();
        try {
          socket.close(4000, "no pong");
        } catch {
          // already closing
        }
        this.retry({ reason: "no pong" });
        return;
      }
      this.awaitingPong = true;
      socket.send(JSON.stringify({ type: "ping" }));
      this.schedulePing(socket);
    });
  }
}
