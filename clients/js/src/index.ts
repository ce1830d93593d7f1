export { ErrorCode, ErrorKind, HTTP_STATUS, PUBLIC_MESSAGE } from "./codes.js";
export { codeForStatus, isErrorCode, RelaypassError, type RelaypassErrorOptions } from "./errors.js";
export {
  createTokenProvider,
  TokenProvider,
  tokenProvider,
  type TokenFetch,
  type TokenProviderOptions,
  type UrlTokenProviderOptions,
} from "./tokens.js";
export {
  CLOSE_CODES,
  GatedSocket,
  type GatedSocketOptions,
  type GateEvent,
  type ModeratorAction,
  type Participant,
  SUBPROTOCOL,
  type Tier,
} from "./websocket.js";
export {
  connectMoq,
  type MoqConnection,
  type MoqModule,
  type MoqOptions,
  type MoqSession,
  REFRESH_BROADCAST,
  REFRESH_TRACK,
} from "./moq.js";
export { type Procedures, RelaypassBackend, type RelaypassBackendOptions } from "./backend.js";
