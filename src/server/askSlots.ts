/**
 * Counts the asks each tenant runs, against a limit.
 * @internal
 */
import { Effect, type Scope } from "effect"

/** @internal */
export class AskSlots {
  private readonly running = new Map<string, number>()
  constructor(readonly limit: number) {}

  /** Takes a slot for `tenant`; `false` when it has none left. */
  tryTake(tenant: string): boolean {
    const now = this.running.get(tenant) ?? 0
    if (now >= this.limit) return false
    this.running.set(tenant, now + 1)
    return true
  }

  release(tenant: string): void {
    const now = this.running.get(tenant) ?? 0
    if (now <= 1) this.running.delete(tenant)
    else this.running.set(tenant, now - 1)
  }

  /** A slot held for the scope's life; `false` (and nothing held) when none is left. */
  scoped(tenant: string): Effect.Effect<boolean, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.sync(() => this.tryTake(tenant)),
      (taken) => (taken ? Effect.sync(() => this.release(tenant)) : Effect.void)
    )
  }
}
