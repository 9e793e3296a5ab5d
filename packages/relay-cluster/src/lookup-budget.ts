/**
 * How many room look-ups (Redis, then PostgreSQL) a client address may cause on a routing node: routing runs
 * before admission, so without a budget anyone could make a node query PostgreSQL once per upgrade. The
 * budget is the relay's own connection rate per address (`limits.connectsPerMinutePerIp`); past it the node
 * routes nothing for that address and answers it itself, where admission refuses it over the same rate (4529).
 */

import { KeyedRate } from "@parley/relay";

/** The budget: a token bucket per address, `perMinute` at once, refilled at `perMinute` a minute. */
export function lookupBudget(perMinute: number, now?: () => number): KeyedRate {
  return new KeyedRate(perMinute, perMinute / 60, now);
}
