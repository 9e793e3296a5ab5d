/**
 * The SQL of the storage, one statement per operation. Each write is a single statement, so it is one
 * round trip and one transaction, and its epoch check and its effect cannot be separated by a claim: the
 * UPDATE of the room row takes the row lock, and under READ COMMITTED a claim that committed meanwhile makes
 * the re-checked `epoch = fence` false, so the statement writes nothing.
 */

/**
 * Group commit: `$1` names, `$2` fences, `$3` updates (parallel arrays, in call order). Each room whose
 * epoch matches its fence gets its updates numbered after `last_seq` in array order; returns the rooms
 * (and epochs) that were written. Appends of a room with another fence are not in the result: refused.
 *
 * The webhook deliveries attached to the appends ride in the same statement, so in the same transaction:
 * `$4` the index (1-based, in `$1`) of the append each belongs to, `$5` ids, `$6` app ids, `$7` URLs,
 * `$8` event ids, `$9` bodies. Only those of written appends are inserted (the join on `bumped`).
 */
export function appendBatch(s: string): string {
  return `
    WITH input AS (
      SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) WITH ORDINALITY AS t(name, fence, bytes, ord)
    ), counts AS (
      SELECT name, fence, count(*) AS n FROM input GROUP BY name, fence
    ), bumped AS (
      UPDATE ${s}.rooms r SET last_seq = r.last_seq + c.n, stored = true
      FROM counts c WHERE r.name = c.name AND r.epoch = c.fence
      RETURNING r.name, r.epoch, r.last_seq - c.n AS base
    ), inserted AS (
      INSERT INTO ${s}.updates (room, seq, bytes)
      SELECT i.name, b.base + row_number() OVER (PARTITION BY i.name ORDER BY i.ord), i.bytes
      FROM input i JOIN bumped b ON b.name = i.name AND b.epoch = i.fence
    ), outboxed AS (
      INSERT INTO ${s}.webhook_outbox (id, app_id, url, event_id, body)
      SELECT o.id, o.app_id, o.url, o.event_id, o.body
      FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
        AS o(ord, id, app_id, url, event_id, body)
      JOIN input i ON i.ord = o.ord JOIN bumped b ON b.name = i.name AND b.epoch = i.fence
    )
    SELECT name, epoch FROM bumped`;
}

/** `$1` name: creates the room row or bumps its epoch, ending any lease. Returns the new epoch. */
export function claim(s: string): string {
  return `
    INSERT INTO ${s}.rooms AS r (name) VALUES ($1)
    ON CONFLICT (name) DO UPDATE SET epoch = r.epoch + 1, owner = NULL, lease_until = NULL
    RETURNING epoch`;
}

/** `$1` name: the snapshot (k = 0) then the updates after it in order, read in one statement's snapshot. */
export function load(s: string): string {
  return `
    SELECT 0::bigint AS k, snapshot AS bytes FROM ${s}.rooms WHERE name = $1 AND snapshot IS NOT NULL
    UNION ALL
    SELECT u.seq, u.bytes FROM ${s}.updates u JOIN ${s}.rooms r ON r.name = u.room
    WHERE u.room = $1 AND u.seq > r.snapshot_seq
    ORDER BY k`;
}

/**
 * `$1` name, `$2` snapshot, `$3` fence: the snapshot replaces every update appended so far (the write queue
 * runs this after every append called before the compaction, and before any called after). Returns one
 * row if the fence held.
 */
export function compact(s: string): string {
  return `
    WITH r AS (
      UPDATE ${s}.rooms SET snapshot = $2, snapshot_seq = last_seq, stored = true
      WHERE name = $1 AND epoch = $3 RETURNING name, last_seq
    ), d AS (
      DELETE FROM ${s}.updates u USING r WHERE u.room = r.name AND u.seq <= r.last_seq
    )
    SELECT name FROM r`;
}

/**
 * `$1` name, `$2` fence: erases the document and bumps the epoch, so that writing it again takes a new
 * claim (the remover's fence is refused too) and any lease ends. The row stays (without data, not listed)
 * so that its epoch and sequence never go back: a writer fenced before the remove stays fenced after it.
 */
export function remove(s: string): string {
  return `
    WITH r AS (
      UPDATE ${s}.rooms
      SET snapshot = NULL, snapshot_seq = last_seq, stored = false, epoch = epoch + 1, owner = NULL, lease_until = NULL
      WHERE name = $1 AND epoch = $2 RETURNING name
    ), d AS (
      DELETE FROM ${s}.updates u USING r WHERE u.room = r.name
    )
    SELECT name FROM r`;
}

/** Names of stored rooms in `[from, to)` after `cursor`, in byte order, by the partial index on `name`. */
export function list(s: string, bounds: { to: boolean; cursor: boolean }): string {
  let params = 1;
  const conditions = ["stored", `name >= $${params++}`];
  if (bounds.to) conditions.push(`name < $${params++}`);
  if (bounds.cursor) conditions.push(`name > $${params++}`);
  return `SELECT name FROM ${s}.rooms WHERE ${conditions.join(" AND ")} ORDER BY name LIMIT $${params}`;
}

/**
 * The smallest string greater than every string starting with `prefix`, in code point (= UTF-8 byte, = "C"
 * collation) order; `null` if there is none (empty prefix, or only U+10FFFF code points).
 */
export function prefixEnd(prefix: string): string | null {
  const points = [...prefix].map((char) => char.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) {
      // Skip the surrogate range: those code points are not valid in a PostgreSQL text value.
      points.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...points);
    }
  }
  return null;
}
