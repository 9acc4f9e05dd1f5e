export {
  type ConsumerInfoLike,
  type ConsumerInfoSource,
  type WatchedConsumer,
  watchConsumerLag,
} from "./consumer-lag.ts";
export {
  mikroOrmPoolSource,
  mysql2PoolStats,
  type NativePoolOwner,
  type PoolSource,
  type PoolStats,
  watchDbPool,
} from "./db-pool.ts";
export {
  DELIVERY_OUTCOMES,
  type DeliveryChannel,
  type DeliveryMetrics,
  type DeliveryOutcome,
  deliveryMetrics,
} from "./delivery.ts";
export { ProcessMetrics } from "./metrics.ts";
export { watchReadiness } from "./readiness.ts";
