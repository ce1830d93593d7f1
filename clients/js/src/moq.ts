import { ErrorCode, RelaypassError } from "./errors.js";
import type { TokenProvider } from "./tokens.js";

/** The reserved broadcast and track a session hands the relay fresh tokens on. */
export const REFRESH_BROADCAST = "_relaypass/refresh";
export const REFRESH_TRACK = "refresh";

/* The part of `@moq/lite` this helper uses, so the package itself depends on nothing. */
interface MoqTrack {
  readonly name: string;
  writeString(text: string): void;
}
interface MoqBroadcast {
  requested(): Promise<{ track: MoqTrack } | undefined>;
  close(): void;
}
export interface MoqConnection {
  publish(path: never, broadcast: never): void;
  close(): void;
  readonly closed: Promise<void>;
}
/** `import * as Moq from "@moq/lite"`, passed in. */
export interface MoqModule<C extends MoqConnection = MoqConnection> {
  Connection: {
    connect(
      url: URL,
      props?: { webtransport?: WebTransportOptions; websocket?: { enabled?: boolean } },
    ): Promise<C>;
  };
  Broadcast: new () => MoqBroadcast;
  Path: { from(...parts: string[]): unknown };
}

export interface MoqOptions<C extends MoqConnection> {
  /** `import * as Moq from "@moq/lite"`. */
  moq: MoqModule<C>;
  /** `https://relay.example:4443/<root>`: the path is the session's root. */
  url: string;
  provider: TokenProvider;
  /**
   * The SHA-256 of a development relay's self-signed certificate, hex (what `relaypass relay
   * --tls-generate` prints): passed to WebTransport as `serverCertificateHashes`.
   */
  fingerprint?: string;
  /** Allow `@moq/lite`'s WebSocket fallback (for a relay that serves one; default true). */
  websocket?: boolean;
}

export interface MoqSession<C extends MoqConnection> {
  /** The `@moq/lite` connection: publish, consume, announced. */
  readonly connection: C;
  /** Stop refreshing and close. */
  close(): void;
  /** Resolves when the session ends; rejects with a `RelaypassError` when a refresh fails. */
  readonly done: Promise<void>;
}

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const clean = hex.replace(/[^0-9a-f]/gi, "");
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/**
 * Connect to a relaypass relay (or any relay whose auth server is relaypass) with a token from
 * `provider` in `?jwt=`, and keep the session past each token's `exp` by writing every fresh
 * token on the reserved refresh track (the relay reads it; it never forwards it).
 */
export async function connectMoq<C extends MoqConnection>(options: MoqOptions<C>): Promise<MoqSession<C>> {
  const { moq, provider } = options;
  const token = await provider.token();
  const url = new URL(options.url);
  url.searchParams.set("jwt", token);
  const webtransport: WebTransportOptions = options.fingerprint
    ? { serverCertificateHashes: [{ algorithm: "sha-256", value: hexBytes(options.fingerprint) }] }
    : {};
  let connection: C;
  try {
    connection = await moq.Connection.connect(url, {
      webtransport,
      websocket: { enabled: options.websocket ?? true },
    });
  } catch (error) {
    throw new RelaypassError(ErrorCode.INVALID_TOKEN, "the relay refused or could not be reached", {
      cause: error,
    });
  }
  const stop = new AbortController();
  const broadcast = new moq.Broadcast();
  const tracks: MoqTrack[] = [];
  let latest = token;
  connection.publish(moq.Path.from(REFRESH_BROADCAST) as never, broadcast as never);
  void (async () => {
    for (;;) {
      const request = await broadcast.requested();
      if (request === undefined) return;
      if (request.track.name !== REFRESH_TRACK) continue;
      tracks.push(request.track);
      request.track.writeString(latest); // the relay subscribed: it gets the current token now
    }
  })();
  const refreshing = provider.keepFresh((fresh) => {
    latest = fresh;
    for (const track of tracks) track.writeString(fresh);
  }, stop.signal);
  const done = Promise.race([
    connection.closed,
    refreshing.then(() => connection.closed),
  ]).finally(() => stop.abort());
  return {
    connection,
    done,
    close(): void {
      stop.abort();
      broadcast.close();
      connection.close();
    },
  };
}
