/**
 * A clock shared by every process of the machine: `CLOCK_MONOTONIC` through `process.hrtime`, in
 * milliseconds. The bench server (another process) stamps send and close times with it, and the
 * consumer subtracts them from its own readings.
 * @since 0.1.0
 */

/**
 * Milliseconds on the machine-wide monotonic clock (sub-microsecond precision).
 * @since 0.1.0
 */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6
