/**
 * data-harness/cluster: sessions as Effect Cluster entities on runners that share one PostgreSQL
 * database (`Cluster.layer`, `Cluster.layerClient`, `Cluster.Sessions`), and the `Session`
 * entity's protocol (`SessionEntity`). A separate entry point because it loads Effect Cluster,
 * its socket transport and the Postgres driver.
 * @since 0.2.0
 */
export * as Cluster from "./Cluster.js"
export * as ClusterHttpApi from "./HttpApi.js"
export * as SessionEntity from "./SessionEntity.js"
export * as Sessions from "./Sessions.js"
