/**
 * Which due deliveries start now, so that one app's endpoint cannot delay another's: endpoints take turns
 * (round-robin, one delivery per turn, starting after the endpoint served last), each within its own concurrency,
 * all within the relay's.
 */

/** What the scheduler knows of one endpoint's due deliveries. */
export interface EndpointTurn<D> {
  /** Its due deliveries, oldest first. */
  due: D[];
  /** How many of its deliveries are in flight. */
  busy: number;
  /** How many it may have in flight. */
  concurrency: number;
}

/**
 * The deliveries to start, in order, with their endpoint's key. `endpoints` maps an endpoint key to its turn
 * (in a stable order); `slots` is how many more deliveries the relay may have in flight; `lastServed` is the key of
 * the endpoint that started one last. The turns' `due` lists are consumed.
 */
export function takeTurns<D>(
  endpoints: Map<string, EndpointTurn<D>>,
  slots: number,
  lastServed: string | undefined,
): Array<{ key: string; delivery: D }> {
  const keys = [...endpoints.keys()];
  const after = lastServed === undefined ? -1 : keys.indexOf(lastServed);
  const order = [...keys.slice(after + 1), ...keys.slice(0, after + 1)];
  const started: Array<{ key: string; delivery: D }> = [];
  let progress = true;
  while (progress && started.length < slots) {
    progress = false;
    for (const key of order) {
      if (started.length >= slots) break;
      const turn = endpoints.get(key) as EndpointTurn<D>;
      const delivery = turn.due[0];
      if (delivery === undefined || turn.busy >= turn.concurrency) continue;
      turn.due.shift();
      turn.busy++;
      started.push({ key, delivery });
      progress = true;
    }
  }
  return started;
}
