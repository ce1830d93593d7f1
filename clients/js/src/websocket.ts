import { ErrorCode, isErrorCode, RelaypassError } from "./errors.js";
import type { TokenProvider } from "./tokens.js";

/** The subprotocol the gate selects; the token rides in a second offered entry. */
export const SUBPROTOCOL = "relaypass";
const TOKEN_PROTOCOL = "relaypass.jwt.";

/** Close codes the gate uses, by the stable code they stand for. */
export const CLOSE_CODES: Readonly<Record<number, ErrorCode>> = {
  4401: ErrorCode.INVALID_TOKEN,
  4403: ErrorCode.ENTRY_DENIED,
  4404: ErrorCode.ROOM_ENDED,
  4408: ErrorCode.ENTRY_TIMEOUT,
  4409: ErrorCode.DUPLICATE_IDENTITY,
  4410: ErrorCode.PARTICIPANT_REMOVED,
};

/** A gate event a room session receives (`admitted`, `grant-changed`, ...). */
export interface GateEvent {
  type: string;
  [field: string]: unknown;
}

export interface GatedSocketOptions {
  /** `ws(s)://host/path`: the path is the session path the gate authorizes. */
  url: string;
  provider: TokenProvider;
  /** Every message of your app (the gate's own frames are handled here). */
  onMessage?: (data: string | ArrayBuffer | Blob) => void;
  /** The gate's room events, `relaypass.` prefix removed from `type`. */
  onEvent?: (event: GateEvent) => void;
  /** A refusal: at connect, of a refresh, or the gate ending the session. */
  onError?: (error: RelaypassError) => void;
  /** The connection closed (after a refusal, or by `close()`). */
  onClose?: (code: number, reason: string) => void;
  /** The WebSocket class (tests, or Node). */
  WebSocket?: typeof WebSocket;
}

/**
 * A WebSocket through relaypass's ASGI middleware, kept alive past each token's `exp`.
 *
 * The token goes in the offered subprotocols (browsers cannot set headers on a WebSocket);
 * each fresh token from the provider is sent in-band (`relaypass.refresh`), so the same
 * connection outlives every token. A refused refresh is reported to `onError` with its code,
 * and the session runs on until the old token's `exp`.
 */
export class GatedSocket {
  readonly #options: GatedSocketOptions;
  #socket: WebSocket | undefined;
  #stop = new AbortController();
  #expiresAt: number | undefined;

  constructor(options: GatedSocketOptions) {
    this.#options = options;
  }

  /** Seconds since the epoch the gate last confirmed (`relaypass.refreshed`). */
  get expiresAt(): number | undefined {
    return this.#expiresAt;
  }

  /** Open the connection with a fresh token; rejects with the refusal. */
  async connect(): Promise<void> {
    const token = await this.#options.provider.token();
    const Socket = this.#options.WebSocket ?? globalThis.WebSocket;
    const socket = new Socket(this.#options.url, [SUBPROTOCOL, TOKEN_PROTOCOL + token]);
    this.#socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener(
        "close",
        (event) => reject(closeError(event.code, event.reason, true)),
        { once: true },
      );
    });
    socket.addEventListener("message", (event) => this.#onMessage(event.data as string | ArrayBuffer | Blob));
    socket.addEventListener("close", (event) => this.#onClose(event.code, event.reason));
    let first = true;
    void this.#options.provider
      .keepFresh((fresh) => {
        if (first) {
          first = false; // the token the connection opened with
          return;
        }
        socket.send(JSON.stringify({ type: "relaypass.refresh", token: fresh }));
      }, this.#stop.signal)
      .catch((error: unknown) => this.#report(asRelaypassError(error)));
  }

  /** Send an app message. */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (this.#socket === undefined) throw new RelaypassError(ErrorCode.UNAVAILABLE, "not connected");
    this.#socket.send(data);
  }

  /** Close the connection and stop refreshing. */
  close(code = 1000, reason = ""): void {
    this.#stop.abort();
    this.#socket?.close(code, reason);
  }

  #onMessage(data: string | ArrayBuffer | Blob): void {
    if (typeof data === "string" && data.startsWith('{"type":"relaypass.')) {
      let frame: GateEvent | undefined;
      try {
        frame = JSON.parse(data) as GateEvent;
      } catch {
        frame = undefined;
      }
      if (frame !== undefined && frame.type.startsWith("relaypass.")) {
        this.#onGateFrame(frame);
        return;
      }
    }
    this.#options.onMessage?.(data);
  }

  #onGateFrame(frame: GateEvent): void {
    const type = frame.type.slice("relaypass.".length);
    if (type === "refreshed") {
      this.#expiresAt = typeof frame["exp"] === "number" ? frame["exp"] : undefined;
    } else if (type === "refresh_failed") {
      const code = isErrorCode(frame["code"]) ? frame["code"] : ErrorCode.INVALID_TOKEN;
      this.#report(new RelaypassError(code, "the gate refused the refreshed token"));
    } else {
      this.#options.onEvent?.({ ...frame, type });
    }
  }

  #onClose(code: number, reason: string): void {
    this.#stop.abort();
    if (code >= 4000) this.#report(closeError(code, reason, false));
    this.#options.onClose?.(code, reason);
  }

  #report(error: RelaypassError): void {
    this.#options.onError?.(error);
  }
}

function closeError(code: number, reason: string, atConnect: boolean): RelaypassError {
  if (isErrorCode(reason)) return new RelaypassError(reason, `the gate closed the session (${code})`);
  const mapped = CLOSE_CODES[code];
  if (mapped !== undefined) return new RelaypassError(mapped, `the gate closed the session (${code})`);
  if (atConnect) {
    // The handshake was refused (HTTP 401/403): the browser does not say which.
    return new RelaypassError(ErrorCode.INVALID_TOKEN, "the gate refused the connection", { status: 403 });
  }
  return new RelaypassError(ErrorCode.UNAVAILABLE, `the connection closed (${code})`);
}

function asRelaypassError(error: unknown): RelaypassError {
  return error instanceof RelaypassError ? error : RelaypassError.network(error);
}
