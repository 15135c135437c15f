/**
 * Waiting, in real time, for something outside Effect's clock to happen (a socket the server sees
 * close, a worker thread that ends).
 */
import { Effect } from "effect"

/** Polls (real time, every 10 ms) until `done()` holds, up to `millis`; whether it did. */
export const eventually = (done: () => boolean, millis: number): Effect.Effect<boolean> =>
  Effect.promise(async () => {
    const until = Date.now() + millis
    while (!done() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10))
    return done()
  })
