export {
  type BootstrapLogger,
  type BootstrapOptions,
  type BootstrapResult,
  bootstrapDatabase,
  OSTICKET_SCHEMA_SIGNATURE,
} from "./bootstrap/bootstrap.ts";
export * from "./entities/index.ts";
export { DbDateTime } from "./entities/types.ts";
export {
  type IdempotencyCodec,
  IdempotencyConflictError,
  type IdempotencyOptions,
  type IdempotentResult,
  purgeExpiredIdempotency,
  withIdempotency,
} from "./idempotency.ts";
export {
  applyRecommendedIndexes,
  dropRecommendedIndexes,
  type RecommendedIndex,
  type RecommendedIndexReport,
  recommendedIndexes,
} from "./indexes.ts";
export { longBodies, longBodyFiles } from "./long-bodies.ts";
export { pendingMigrations, runMigrations } from "./migrate.ts";
export { MIGRATIONS_TABLE, migrationsList } from "./migrations/index.ts";
export {
  type CreateOrmOptions,
  createOrm,
  detectFlavor,
  type EntityManager,
  type Orm,
  SESSION_SETTINGS_SQL,
} from "./orm.ts";
export { renderCreateTable } from "./schema/ddl.ts";
export { osticketTables } from "./schema/tables/index.ts";
export type { ColumnDef, IndexDef, TableDef } from "./schema/types.ts";
export {
  type BatchRead,
  bothReads,
  DeferredBatchError,
  defer,
  deferRecoverable,
  discardDeferred,
  type ExecuteResult,
  execute,
  executeBatch,
  executePrepared,
  flushDeferred,
  hasDeferred,
  hasUnsettledDeferred,
  noRead,
  type PreparedOptions,
  query,
  queryBatch,
  queryPrepared,
  type Row,
  runBatchRead,
  type ServerTime,
  type Statement,
  serverTime,
  settleDeferred,
  sqlReader,
} from "./sql.ts";
