/**
 * The PostgreSQL the integration tests use: `PARLEY_TEST_POSTGRES_URL`, default the local trust-auth server's `test`
 * database. Without it the tests fail with instructions; they never skip.
 */
import postgres, { type Sql } from "postgres";

/** The test database's URL. */
export const PG_URL = process.env.PARLEY_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A one-connection client of the test database, for setting up and inspecting schemas. */
export function postgresAdmin(): Sql {
  return postgres(PG_URL, { max: 1, onnotice: () => {}, connect_timeout: 5 });
}

/** Resolves if `admin` reaches the server; otherwise throws saying how to start one. */
export async function assertPostgresReachable(admin: Sql): Promise<void> {
  try {
    await admin`SELECT 1`;
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${PG_URL} (${(error as Error).message}). Start one (see "Tests" in ` +
        "packages/relay-postgres/README.md) or set PARLEY_TEST_POSTGRES_URL.",
    );
  }
}
