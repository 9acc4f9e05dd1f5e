// Authentication and authorization shared by every ostmesh service (see interceptor.ts for how credentials
// travel, tickets.ts for osTicket's ticket access rules).
export { type AccessDecision, ALLOW, checkAccessRule, deny, isRolePermission } from "./access.ts";
export {
  type ApiKeyOutcome,
  checkIpEntry,
  checkOstmeshKey,
  generateOstmeshKey,
  hashApiKey,
  ipAllowed,
  isOstmeshKey,
  type NewOstmeshKey,
  OSTMESH_KEY_PREFIX,
  type OstmeshKeyCheck,
  type OstmeshKeyRow,
  osticketKeyPrincipal,
  osticketKeyScopes,
  ostmeshKeyPrefix,
  ostmeshKeyPrincipal,
  ostmeshKeyRow,
} from "./api-keys.ts";
export {
  ACCESS_TOKEN_TYPE,
  type AccessTokenClaims,
  DEFAULT_AUDIENCE,
  DEFAULT_ISSUER,
  OSTMESH_TOKEN_ALGORITHMS,
  type OstmeshTokenAlgorithm,
  principalClaims,
  principalFromClaims,
} from "./claims.ts";
export { type AuthConfig, loadAuthConfig, type OidcConfig } from "./config.ts";
export {
  agentDisplayName,
  findAccountUserIdByLogin,
  findAgentIdByLogin,
  findUserIdByEmail,
  loadAgentPrincipal,
  loadEndUserPrincipal,
  type OidcAccountKinds,
  oidcAccountResolver,
  USER_PRIMARY_ORG_CONTACT,
  UserAccountStatus,
} from "./directory.ts";
export {
  type FileVisibility,
  fileVisibility,
  mayLinkFile,
  type Uploader,
  uploaderOf,
} from "./files.ts";
export {
  API_KEY_HEADER,
  type AuthInterceptorOptions,
  authInterceptor,
  principalResolver,
  revalidatePrincipal,
} from "./interceptor.ts";
export {
  CachedJwks,
  type CachedJwksOptions,
  type JwksLoader,
  jwksFromIdentity,
  jwksFromUrl,
  parseJwks,
} from "./jwks.ts";
export { createMeshAuth, type MeshAuth, type MeshAuthOptions } from "./mesh.ts";
export {
  ANONYMOUS,
  accessRuleKey,
  accessRuleOfCall,
  assertAuthorized,
  hasScope,
  idOf,
  kindName,
  kindOf,
  principalKey,
  principalOf,
  subjectOf,
  systemPrincipal,
} from "./principal.ts";
export { IssuedServiceToken, type ServiceCredentials } from "./service-token.ts";
export {
  looksLikeEmail,
  mysqlQuery,
  num,
  permissionKeys,
  queryAll,
  type SqlQuery,
  type SqlRow,
  type SqlStatement,
  str,
} from "./sql.ts";
export {
  agentTicketView,
  agentVisibleDeptIds,
  assertAllowed,
  authorizeTicket,
  type ClientVisibleFields,
  canSeeOrgTickets,
  decideThreadEntryAccess,
  decideTicketAccess,
  END_USER_ENTRY_TYPES,
  type EndUserOrgFacts,
  FORM_FIELD_CLIENT_VIEW,
  isEntryVisibleToEndUser,
  loadAttachmentAccessFacts,
  loadClientVisibleFields,
  loadEndUserOrgFacts,
  loadMergedChildren,
  loadTicketAccessFacts,
  loadTicketReferrals,
  type MergedChildFacts,
  OrganizationStatus,
  redactThreadForEndUser,
  redactTicketForEndUser,
  THREAD_ENTRY_HIDDEN,
  type TicketAccessFacts,
  type TicketDecisionOptions,
  TicketFlag,
  threadEntryType,
  ticketThreadSql,
  ticketVisibilityFilter,
} from "./tickets.ts";
export {
  AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  CredentialError,
  type OidcOptions,
  OidcVerifier,
  unverifiedIssuer,
  type VerifiedToken,
} from "./verify.ts";
