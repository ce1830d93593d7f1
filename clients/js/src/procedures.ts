// The control plane's procedures, input and output, by name: `RelaypassBackend.call`.
// Rendered from the procedure table by `python -m relaypass.api._typescript --procedures`; do not edit.

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

export interface Procedures {
  "auth.whoami": { input: NoInput | void; output: WhoAmI; scope: null };
  "orgs.create": { input: OrgCreate; output: OrgCreated; scope: "platform:admin" };
  "orgs.list": { input: NoInput | void; output: OrgList; scope: "platform:admin" };
  "orgs.disable": { input: OrgId; output: OrgDisabled; scope: "platform:admin" };
  "orgs.setLimits": { input: OrgLimitsInput; output: OrgLimits; scope: "platform:admin" };
  "orgs.limits": { input: OwnOrg | void; output: OrgLimits; scope: "audit:read" };
  "tenants.create": { input: TenantCreate; output: TenantCreated; scope: "keys:admin" };
  "tenants.list": { input: OwnOrg | void; output: TenantList; scope: "keys:admin" };
  "tenants.disable": { input: TenantRef; output: TenantDisabled; scope: "keys:admin" };
  "tenants.resources.assign": { input: ResourceRef; output: ResourceAssigned; scope: "keys:admin" };
  "tenants.resources.release": { input: ResourceRef; output: ResourceReleased; scope: "keys:admin" };
  "streams.apiKeys.create": { input: ApiKeyCreate; output: ApiKeyCreated; scope: "keys:admin" };
  "streams.apiKeys.list": { input: OrgRef | void; output: ApiKeyList; scope: "keys:admin" };
  "streams.apiKeys.revoke": { input: ApiKeyRef; output: ApiKeyRevoked; scope: "keys:admin" };
  "streams.apiKeys.reroll": { input: ApiKeyReroll; output: ApiKeyRerolled; scope: "keys:admin" };
  "streams.signingKeys.create": { input: SigningKeyCreate; output: SigningKeyCreated; scope: "keys:admin" };
  "streams.signingKeys.list": { input: OrgRef | void; output: SigningKeyList; scope: "keys:admin" };
  "streams.signingKeys.retire": { input: SigningKeyRef; output: SigningKeyRetired; scope: "keys:admin" };
  "streams.signingKeys.revoke": { input: SigningKeyRef; output: SigningKeyRevoked; scope: "keys:admin" };
  "tokens.relay.mint": { input: RelayMint; output: MintedToken; scope: "tokens:mint" };
  "streams.signingKeys.mintPlaybackToken": { input: PlaybackMint; output: MintedToken; scope: "tokens:mint" };
  "voice.audioBridge.mintBrowserToken": { input: BrowserVoiceMint; output: MintedToken; scope: "tokens:mint" };
  "tokens.room.mint": { input: RoomMint | void; output: MintedToken; scope: "tokens:mint" };
  "tokens.moq.mint": { input: MoqMint | void; output: MintedToken; scope: "tokens:mint" };
  "tokens.revoke": { input: TokenRef; output: TokenRevoked; scope: "keys:admin" };
  "PublishServiceAccount": { input: PublishServiceAccountRequest; output: Empty; scope: "keys:admin" };
  "RevokeServiceAccount": { input: RevokeServiceAccountRequest; output: Empty; scope: "keys:admin" };
  "SessionAuth": { input: SessionAuthRequest; output: SessionAuthResponse; scope: "keys:admin" };
  "serviceAccounts.list": { input: ServiceAccountQuery | void; output: ServiceAccountList; scope: "keys:admin" };
  "rooms.lobby.list": { input: RoomRef; output: LobbyList; scope: "keys:admin" };
  "rooms.lobby.admit": { input: ParticipantRef; output: RoomChanged; scope: "keys:admin" };
  "rooms.lobby.deny": { input: ParticipantRef; output: RoomChanged; scope: "keys:admin" };
  "rooms.lobby.admitAll": { input: RoomRef; output: RoomChanged; scope: "keys:admin" };
  "rooms.participants.list": { input: ParticipantQuery; output: ParticipantList; scope: "keys:admin" };
  "rooms.participants.update": { input: ParticipantUpdate; output: RoomChanged; scope: "keys:admin" };
  "rooms.participants.remove": { input: ParticipantRef; output: RoomChanged; scope: "keys:admin" };
  "rooms.end": { input: RoomRef; output: RoomChanged; scope: "keys:admin" };
  "audit.list": { input: AuditQuery | void; output: AuditList; scope: "audit:read" };
  "usage.query": { input: UsageQuery; output: UsageSeries; scope: "audit:read" };
  "usage.live": { input: UsageLiveQuery | void; output: UsageLive; scope: "audit:read" };
  "webhooks.create": { input: EndpointCreate; output: EndpointCreated; scope: "keys:admin" };
  "webhooks.list": { input: EndpointQuery | void; output: EndpointList; scope: "keys:admin" };
  "webhooks.update": { input: EndpointUpdate; output: EndpointInfo; scope: "keys:admin" };
  "webhooks.delete": { input: EndpointRef; output: WebhookDeleted; scope: "keys:admin" };
  "webhooks.rotateSecret": { input: EndpointRef; output: SecretRotated; scope: "keys:admin" };
  "webhooks.test": { input: EndpointRef; output: TestQueued; scope: "keys:admin" };
  "webhooks.deliveries.list": { input: DeliveryQuery; output: DeliveryList; scope: "keys:admin" };
  "webhooks.deliveries.replay": { input: DeliveryRef; output: Replayed; scope: "keys:admin" };
}
