/**
 * Effect Cluster over TCP sockets with SQL storage: `NodeClusterSocket.layer` of
 * `@effect/platform-node`, composed of the same parts, with `TCP_NODELAY` on every runner socket
 * (client and server side) and the sharding configuration given whole.
 *
 * Why: a streamed RPC acknowledges each chunk, so with Nagle's algorithm (Node's default) each
 * small chunk of an ask waits for the peer's delayed ACK, about 40 ms on Linux. An ask of six
 * events alone took 272 ms through two runners and 25 ms with `noDelay` (bench/cluster.ts,
 * "one ask at a time p50").
 *
 * @internal
 */
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { Effect, Layer, Option } from "effect"
import {
  RunnerHealth,
  Runners,
  type Sharding,
  ShardingConfig,
  SocketRunner,
  SqlMessageStorage,
  SqlRunnerStorage
} from "effect/cluster"
import { RpcClient, RpcSerialization } from "effect/rpc"
import { Socket, type SocketServer } from "effect/socket"
import type { SqlClient } from "effect/sql"

/** Runner-to-runner (and client-to-runner) connections, with `noDelay`. */
const clientProtocol: Layer.Layer<Runners.RpcClientProtocol, never, RpcSerialization.RpcSerialization> = Layer.effect(
  Runners.RpcClientProtocol
)(
  Effect.gen(function* () {
    const serialization = yield* RpcSerialization.RpcSerialization
    return {
      codecFor: serialization.codecFor,
      make: Effect.fnUntraced(function* (address) {
        const socket = yield* NodeSocket.makeNet({
          openTimeout: 1000,
          timeout: 5500,
          host: address.host,
          port: address.port,
          noDelay: true
        })
        return yield* RpcClient.makeProtocolSocket().pipe(
          Effect.provideService(Socket.Socket, socket),
          Effect.provideService(RpcSerialization.RpcSerialization, serialization)
        )
      }, Effect.orDie)
    }
  })
)

/** The runner's server socket, on its listen address (or its address), with `noDelay`. */
const socketServer = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* ShardingConfig.ShardingConfig
    const address = Option.orElse(config.runnerListenAddress, () => config.runnerAddress)
    if (Option.isNone(address)) return yield* Effect.die("a runner needs an address to listen on")
    return NodeSocketServer.layer({ host: address.value.host, port: address.value.port, noDelay: true })
  })
)

/**
 * `Sharding` for a runner (`clientOnly: false`: it serves shards and listens) or a client.
 * @internal
 */
export const layer = (options: {
  readonly clientOnly: boolean
  readonly config: ShardingConfig.ShardingConfig["Service"]
}): Layer.Layer<Sharding.Sharding | Runners.Runners, SocketServer.SocketServerError, SqlClient.SqlClient> => {
  const sharding = options.clientOnly
    ? Layer.provide(SocketRunner.layerClientOnly, clientProtocol)
    : SocketRunner.layer.pipe(
        Layer.provide([socketServer, clientProtocol]),
        Layer.provide(RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(clientProtocol)))
      )
  return sharding.pipe(
    Layer.provide(SqlMessageStorage.layer.pipe(Layer.provide(NodeCrypto.layerDigest))),
    Layer.provide(Layer.orDie(SqlRunnerStorage.layer)),
    Layer.provide(ShardingConfig.layer(options.config)),
    Layer.provide(RpcSerialization.layerSchemaBinary())
  )
}
