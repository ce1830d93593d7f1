// The relaypass control plane as a tRPC v11 router type: `createTRPCClient<AppRouter>`.
// Rendered from the procedure table by `python -m relaypass.api._typescript`; do not edit.
// Plain JSON (no transformer); the server also answers superjson clients.
import type {
  TRPCBuiltRouter,
  TRPCDefaultErrorData,
  TRPCDefaultErrorShape,
  TRPCMutationProcedure,
  TRPCQueryProcedure,
} from "@trpc/server";

/** A stable relaypass error code, as `/rpc` answers it. */
export type RelaypassCode = "INVALID_TOKEN" | "INVALID_API_KEY" | "INVALID_PERMISSIONS" | "UNAUTHORIZED_ROOM" | "UNAUTHORIZED_PARTICIPANT" | "INVALID_ENTRY_CLAIM" | "INVALID_KEY" | "INVALID_REQUEST" | "UNAUTHORIZED_PATH" | "UNAUTHORIZED_ORIGIN" | "RATE_LIMITED" | "REQUEST_TOO_LARGE" | "QUOTA_EXCEEDED" | "UNAVAILABLE" | "UNKNOWN_PROCEDURE" | "METHOD_NOT_ALLOWED" | "UNSUPPORTED_MEDIA_TYPE" | "TOKEN_EXPIRED" | "PENDING_ADMISSION" | "ENTRY_DENIED" | "ENTRY_TIMEOUT" | "PARTICIPANT_REMOVED" | "ROOM_ENDED" | "DUPLICATE_IDENTITY" | "URI_TOO_LONG" | "HEADERS_TOO_LARGE";

/** tRPC's error shape, with the stable code and the refused fields. */
export interface RelaypassErrorShape extends TRPCDefaultErrorShape {
  data: TRPCDefaultErrorData & { relaypassCode: RelaypassCode; fields?: string[] };
}

export type AdminKey = {
  id: string;
  key: string;
  scopes: Array<string>;
};

export type ApiKeyCreate = {
  orgId?: string;
  label: string;
  scopes: Array<string>;
  environment?: string;
  expiresAtMs?: number | null;
};

export type ApiKeyCreated = {
  id: string;
  key: string;
  scopes: Array<string>;
  label: string;
  published: boolean | null;
};

export type ApiKeyInfo = {
  id: string;
  label: string;
  environment: string;
  display: string;
  scopes: Array<string>;
  createdAtMs: number;
  expiresAtMs: number | null;
  revokedAtMs: number | null;
  lastUsedAtMs: number | null;
};

export type ApiKeyList = {
  keys: Array<ApiKeyInfo>;
};

export type ApiKeyRef = {
  orgId?: string;
  id: string;
};

export type ApiKeyReroll = {
  orgId?: string;
  id: string;
  graceSeconds?: number;
};

export type ApiKeyRerolled = {
  id: string;
  key: string;
  replaces: string;
  graceSeconds: number;
};

export type ApiKeyRevoked = {
  revoked: string;
  published: boolean | null;
};

export type AuditEvent = {
  id: number;
  atMs: number;
  orgId: string | null;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
};

export type AuditList = {
  events: Array<AuditEvent>;
};

export type AuditQuery = {
  orgId?: string;
  action?: string | null;
  actor?: string | null;
  sinceMs?: number | null;
  untilMs?: number | null;
  limit?: number;
  offset?: number;
};

export type BrowserVoiceMint = {
  orgId?: string;
  tenant?: string;
  callSid: string;
  ttlSeconds?: number;
};

export type DeliveryInfo = {
  id: number;
  messageId: string;
  eventType: string;
  state: string;
  attempts: number;
  nextAttemptMs: number | null;
  lastStatus: number | null;
  lastError: string | null;
  lastLatencyMs: number | null;
  deliveredAtMs: number | null;
  createdAtMs: number;
};

export type DeliveryList = {
  deliveries: Array<DeliveryInfo>;
};

export type DeliveryQuery = {
  orgId?: string;
  id: string;
  state?: "pending" | "delivered" | "failed" | null;
  limit?: number;
};

export type DeliveryRef = {
  orgId?: string;
  deliveryId: number;
};

export type Empty = Record<string, unknown>;

export type EndpointCreate = {
  orgId?: string;
  url: string;
  eventTypes?: Array<string> | null;
  description?: string;
};

export type EndpointCreated = {
  endpoint: EndpointInfo;
  secret: string;
};

export type EndpointInfo = {
  id: string;
  url: string;
  description: string;
  eventTypes: Array<string>;
  createdAtMs: number;
  disabledAtMs: number | null;
  disabledReason: string | null;
  failingSinceMs: number | null;
};

export type EndpointList = {
  endpoints: Array<EndpointInfo>;
};

export type EndpointQuery = {
  orgId?: string;
};

export type EndpointRef = {
  orgId?: string;
  id: string;
};

export type EndpointUpdate = {
  orgId?: string;
  id: string;
  url?: string | null;
  eventTypes?: Array<string> | null;
  description?: string | null;
  enabled?: boolean | null;
};

export type GateLive = {
  node: string;
  profile: string;
  at: number;
  sessions: Array<LiveSessions>;
};

export type LiveSessions = {
  tenant: string;
  sessions: number;
};

export type LobbyEntry = {
  participantId: string;
  since: number;
  deadline: number;
};

export type LobbyList = {
  waiting: Array<LobbyEntry>;
};

export type MintedToken = {
  token: string;
  expiresAt: number | null;
  kid: string;
};

export type MoqMint = {
  orgId?: string;
  root?: string;
  publish?: Array<string>;
  subscribe?: Array<string>;
  cluster?: boolean;
  ttlSeconds?: number;
  format?: string;
};

export type NoInput = Record<string, unknown>;

export type OrgCreate = {
  name: string;
  namespaces?: Array<string> | null;
};

export type OrgCreated = {
  orgId: string;
  name: string;
  namespaces: Array<string>;
  adminKey: AdminKey;
  published: boolean | null;
};

export type OrgDisabled = {
  disabled: string;
  published: boolean | null;
};

export type OrgId = {
  orgId: string;
};

export type OrgInfo = {
  id: string;
  name: string;
  namespaces: Array<string>;
  createdAtMs: number;
  disabledAtMs: number | null;
};

export type OrgLimits = {
  orgId: string;
  maxSessions: number | null;
  connectsPerSecond: number | null;
  mintsPerMinute: number | null;
  sessionMinutesPerMonth: number | null;
  published?: boolean | null;
};

export type OrgLimitsInput = {
  orgId: string;
  maxSessions?: number | null;
  connectsPerSecond?: number | null;
  mintsPerMinute?: number | null;
  sessionMinutesPerMonth?: number | null;
};

export type OrgList = {
  orgs: Array<OrgInfo>;
};

export type OrgRef = {
  orgId?: string;
};

export type OwnOrg = {
  orgId?: string;
};

export type ParticipantEntry = {
  participantId: string;
  tier: "speaker" | "viewer";
  state: "waiting" | "admitted";
  grant: Record<string, unknown>;
  since: number;
};

export type ParticipantList = {
  participants: Array<ParticipantEntry>;
};

export type ParticipantQuery = {
  orgId?: string;
  roomId: string;
  tier?: "speaker" | "viewer" | null;
};

export type ParticipantRef = {
  orgId?: string;
  roomId: string;
  participantId: string;
};

export type ParticipantUpdate = {
  orgId?: string;
  roomId: string;
  participantId: string;
  grant?: Record<string, unknown> | null;
  isViewer?: boolean | null;
};

export type PlaybackMint = {
  orgId?: string;
  tenant?: string;
  inputId: string;
  scopes?: Array<string> | null;
  ttlSeconds?: number;
};

export type PublishServiceAccountRequest = {
  admin_token?: string;
  tenant_id: string;
  private_key_id: string;
  public_key_pem: string;
  role: string;
  expires_at_ms?: number;
};

export type RelayMint = {
  orgId?: string;
  tenant?: string;
  ns: Array<string>;
  ttlSeconds?: number | null;
  service?: boolean;
};

export type Replayed = {
  deliveryId: number;
};

export type ResourceAssigned = {
  kind: string;
  resourceId: string;
  tenant: string;
  published: boolean | null;
};

export type ResourceRef = {
  orgId?: string;
  kind: string;
  resourceId: string;
  tenant: string;
};

export type ResourceReleased = {
  released: string;
  published: boolean | null;
};

export type RevokeServiceAccountRequest = {
  admin_token?: string;
  tenant_id: string;
  private_key_id: string;
};

export type RoomChanged = {
  roomId: string;
  participantId?: string | null;
  action: string;
  published: boolean | null;
};

export type RoomMint = {
  orgId?: string;
  roomId?: string | null;
  participantId?: string | null;
  role?: string | null;
  grant?: Record<string, unknown> | null;
  isViewer?: boolean | null;
  joinPolicy?: Record<string, unknown> | null;
  ttlSeconds?: number | null;
};

export type RoomRef = {
  orgId?: string;
  roomId: string;
};

export type SecretRotated = {
  id: string;
  secret: string;
};

export type ServiceAccountInfo = {
  tenantId: string;
  privateKeyId: string;
  role: string;
  expiresAtMs: number;
  createdAtMs: number;
};

export type ServiceAccountList = {
  serviceAccounts: Array<ServiceAccountInfo>;
};

export type ServiceAccountQuery = {
  orgId?: string;
  tenantId?: string | null;
};

export type SessionAuthRequest = {
  admin_token?: string;
  tenant_id: string;
  subject: string;
  ttl_seconds: number;
  scope: string;
  origin?: string | null;
};

export type SessionAuthResponse = {
  token: string;
  expires_at_ms: number;
  error_message: string;
};

export type SigningKeyCreate = {
  orgId?: string;
  label: string;
  algorithm?: string | null;
  alg?: string | null;
};

export type SigningKeyCreated = {
  id: string;
  state: string;
  algorithm: string;
  profiles: Array<string>;
  signsAfterSeconds: number;
  published: boolean | null;
};

export type SigningKeyInfo = {
  id: string;
  kid: string;
  alg: string;
  profiles: Array<string>;
  label: string;
  state: string;
  createdAtMs: number;
  activeAtMs: number | null;
  retiredAtMs: number | null;
  revokedAtMs: number | null;
};

export type SigningKeyList = {
  keys: Array<SigningKeyInfo>;
};

export type SigningKeyRef = {
  orgId?: string;
  id: string;
};

export type SigningKeyRetired = {
  retired: string;
  published: boolean | null;
};

export type SigningKeyRevoked = {
  revoked: string;
  published: boolean | null;
};

export type TenantCreate = {
  orgId?: string;
  tenantId: string;
  label?: string;
};

export type TenantCreated = {
  tenantId: string;
  label: string;
};

export type TenantDisabled = {
  disabled: string;
  published: boolean | null;
};

export type TenantInfo = {
  id: string;
  label: string;
  createdAtMs: number;
  disabledAtMs: number | null;
};

export type TenantList = {
  tenants: Array<TenantInfo>;
};

export type TenantRef = {
  orgId?: string;
  tenantId: string;
};

export type TestQueued = {
  messageId: string;
};

export type TokenRef = {
  orgId?: string;
  jti: string;
};

export type TokenRevoked = {
  revoked: string;
  published: boolean | null;
};

export type UsageLive = {
  gates: Array<GateLive>;
  total: number;
};

export type UsageLiveQuery = {
  orgId?: string;
};

export type UsagePoint = {
  at: number;
  values: Record<string, number>;
};

export type UsageQuery = {
  orgId?: string;
  tenant?: string | null;
  since: number;
  until: number;
  granularity?: "minute" | "hour" | "day";
  metrics?: Array<string> | null;
};

export type UsageSeries = {
  orgId: string;
  tenant: string | null;
  granularity: string;
  points: Array<UsagePoint>;
  totals: Record<string, number>;
};

export type WebhookDeleted = {
  id: string;
};

export type WhoAmI = {
  orgId: string;
  orgName: string;
  keyId: string;
  scopes: Array<string>;
  namespaces: Array<string>;
};

export type AppRouter = TRPCBuiltRouter<
  { ctx: object; meta: object; errorShape: RelaypassErrorShape; transformer: false },
  {
    auth: {
      whoami: TRPCQueryProcedure<{ input: NoInput | void; output: WhoAmI; meta: object }>;
    };
    orgs: {
      create: TRPCMutationProcedure<{ input: OrgCreate; output: OrgCreated; meta: object }>;
      list: TRPCQueryProcedure<{ input: NoInput | void; output: OrgList; meta: object }>;
      disable: TRPCMutationProcedure<{ input: OrgId; output: OrgDisabled; meta: object }>;
      setLimits: TRPCMutationProcedure<{ input: OrgLimitsInput; output: OrgLimits; meta: object }>;
      limits: TRPCQueryProcedure<{ input: OwnOrg | void; output: OrgLimits; meta: object }>;
    };
    tenants: {
      create: TRPCMutationProcedure<{ input: TenantCreate; output: TenantCreated; meta: object }>;
      list: TRPCQueryProcedure<{ input: OwnOrg | void; output: TenantList; meta: object }>;
      disable: TRPCMutationProcedure<{ input: TenantRef; output: TenantDisabled; meta: object }>;
      resources: {
        assign: TRPCMutationProcedure<{ input: ResourceRef; output: ResourceAssigned; meta: object }>;
        release: TRPCMutationProcedure<{ input: ResourceRef; output: ResourceReleased; meta: object }>;
      };
    };
    streams: {
      apiKeys: {
        create: TRPCMutationProcedure<{ input: ApiKeyCreate; output: ApiKeyCreated; meta: object }>;
        list: TRPCQueryProcedure<{ input: OrgRef | void; output: ApiKeyList; meta: object }>;
        revoke: TRPCMutationProcedure<{ input: ApiKeyRef; output: ApiKeyRevoked; meta: object }>;
        reroll: TRPCMutationProcedure<{ input: ApiKeyReroll; output: ApiKeyRerolled; meta: object }>;
      };
      signingKeys: {
        create: TRPCMutationProcedure<{ input: SigningKeyCreate; output: SigningKeyCreated; meta: object }>;
        list: TRPCQueryProcedure<{ input: OrgRef | void; output: SigningKeyList; meta: object }>;
        retire: TRPCMutationProcedure<{ input: SigningKeyRef; output: SigningKeyRetired; meta: object }>;
        revoke: TRPCMutationProcedure<{ input: SigningKeyRef; output: SigningKeyRevoked; meta: object }>;
        mintPlaybackToken: TRPCMutationProcedure<{ input: PlaybackMint; output: MintedToken; meta: object }>;
      };
    };
    tokens: {
      relay: {
        mint: TRPCMutationProcedure<{ input: RelayMint; output: MintedToken; meta: object }>;
      };
      room: {
        mint: TRPCMutationProcedure<{ input: RoomMint | void; output: MintedToken; meta: object }>;
      };
      moq: {
        mint: TRPCMutationProcedure<{ input: MoqMint | void; output: MintedToken; meta: object }>;
      };
      revoke: TRPCMutationProcedure<{ input: TokenRef; output: TokenRevoked; meta: object }>;
    };
    voice: {
      audioBridge: {
        mintBrowserToken: TRPCMutationProcedure<{ input: BrowserVoiceMint; output: MintedToken; meta: object }>;
      };
    };
    PublishServiceAccount: TRPCMutationProcedure<{ input: PublishServiceAccountRequest; output: Empty; meta: object }>;
    RevokeServiceAccount: TRPCMutationProcedure<{ input: RevokeServiceAccountRequest; output: Empty; meta: object }>;
    SessionAuth: TRPCMutationProcedure<{ input: SessionAuthRequest; output: SessionAuthResponse; meta: object }>;
    serviceAccounts: {
      list: TRPCQueryProcedure<{ input: ServiceAccountQuery | void; output: ServiceAccountList; meta: object }>;
    };
    rooms: {
      lobby: {
        list: TRPCQueryProcedure<{ input: RoomRef; output: LobbyList; meta: object }>;
        admit: TRPCMutationProcedure<{ input: ParticipantRef; output: RoomChanged; meta: object }>;
        deny: TRPCMutationProcedure<{ input: ParticipantRef; output: RoomChanged; meta: object }>;
        admitAll: TRPCMutationProcedure<{ input: RoomRef; output: RoomChanged; meta: object }>;
      };
      participants: {
        list: TRPCQueryProcedure<{ input: ParticipantQuery; output: ParticipantList; meta: object }>;
        update: TRPCMutationProcedure<{ input: ParticipantUpdate; output: RoomChanged; meta: object }>;
        remove: TRPCMutationProcedure<{ input: ParticipantRef; output: RoomChanged; meta: object }>;
      };
      end: TRPCMutationProcedure<{ input: RoomRef; output: RoomChanged; meta: object }>;
    };
    audit: {
      list: TRPCQueryProcedure<{ input: AuditQuery | void; output: AuditList; meta: object }>;
    };
    usage: {
      query: TRPCQueryProcedure<{ input: UsageQuery; output: UsageSeries; meta: object }>;
      live: TRPCQueryProcedure<{ input: UsageLiveQuery | void; output: UsageLive; meta: object }>;
    };
    webhooks: {
      create: TRPCMutationProcedure<{ input: EndpointCreate; output: EndpointCreated; meta: object }>;
      list: TRPCQueryProcedure<{ input: EndpointQuery | void; output: EndpointList; meta: object }>;
      update: TRPCMutationProcedure<{ input: EndpointUpdate; output: EndpointInfo; meta: object }>;
      delete: TRPCMutationProcedure<{ input: EndpointRef; output: WebhookDeleted; meta: object }>;
      rotateSecret: TRPCMutationProcedure<{ input: EndpointRef; output: SecretRotated; meta: object }>;
      test: TRPCMutationProcedure<{ input: EndpointRef; output: TestQueued; meta: object }>;
      deliveries: {
        list: TRPCQueryProcedure<{ input: DeliveryQuery; output: DeliveryList; meta: object }>;
        replay: TRPCMutationProcedure<{ input: DeliveryRef; output: Replayed; meta: object }>;
      };
    };
  }
>;
