/**
 * What the runner and the client of this example share: the Postgres connection (libpq's
 * environment variables) and the sharding settings (every member of a cluster must agree on
 * `shardsPerGroup`, and should on `shardLockExpiration`).
 */
import { Cluster } from "../../src/cluster/index.js"

/** `PGHOST` (a host, or a unix socket directory), `PGPORT`, `PGUSER`, `PGDATABASE`. */
export const connection = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  username: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "postgres"
}

/** Fast failover for the demo (shard locks expire after 5 s); 30 shards. */
export const sharding: Cluster.ShardingOptions = { ...Cluster.fastFailover, shardsPerGroup: 30 }
