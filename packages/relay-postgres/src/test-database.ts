/**
 * Tests' access to a real PostgreSQL: a fresh schema per test file, dropped afterwards. When the server is
 * not reachable the tests fail with instructions; they never skip.
 */
import { randomBytes } from "node:crypto";
import postgres, { type Sql } from "postgres";

/** The test database: `PARLEY_TEST_POSTGRES_URL`, default the local trust-auth server's `test` database. */
export const TEST_POSTGRES_URL = process.env.PARLEY_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const INSTRUCTIONS = `PostgreSQL is not reachable at ${TEST_POSTGRES_URL}. These tests need a real server:
  - Debian/Ubuntu: sudo apt-get install postgresql && sudo service postgresql start, then
    sudo -u postgres createdb test and allow trust auth for 127.0.0.1 in pg_hba.conf; or
  - docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:15
  or point PARLEY_TEST_POSTGRES_URL at a database where the user may create schemas.`;

/** An admin connection (one connection) to the test database; throws with instructions if unreachable. */
export async function adminConnection(): Promise<Sql> {
  const sql = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await sql`SELECT 1`;
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw new Error(`${INSTRUCTIONS}\n(${(error as Error).message})`, { cause: error });
  }
  return sql;
}

/** A schema name no other test run uses. */
export function uniqueSchema(): string {
  return `parley_test_${process.pid}_${randomBytes(4).toString("hex")}`;
}

/** Drops `schema` and everything in it. */
export async function dropSchema(admin: Sql, schema: string): Promise<void> {
  await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}
