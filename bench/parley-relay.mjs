// The Parley relay as a deployment runs it, for every Parley target: its config (JWT checks, authorship checks,
// per-address limits raised for a load generator on one address), its command line, and how a client reaches a
// conversation on it (`acks=1` + `attest=1`, what @parley/client asks for).
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { anonymousIdFromSecret, anonymousToken, roomName } from "@parley/protocol";
import { BENCH_APP, signUserToken } from "./identity.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, "../packages/relay/dist/cli.js");

/**
 * Writes the relay's config file: the bench app and raised limits, plus `extra` (storage, cluster, fsync, port).
 * @param {string} configPath
 * @param {string} dataDir
 * @param {Record<string, unknown>} extra
 */
export function writeRelayConfig(configPath, dataDir, extra) {
  const config = {
    port: 0,
    host: "127.0.0.1",
    dataDir,
    apps: [{ id: BENCH_APP.id, keys: [{ kid: BENCH_APP.kid, alg: "HS256", secret: BENCH_APP.secret }] }],
    // Every bench client comes from 127.0.0.1; a deployment's thousands of users come from thousands of
    // addresses. The per-address limits would refuse the capacity scenario's 5,000 connections (4529).
    limits: {
      connectsPerMinutePerIp: 10_000_000,
      newAnonymousPerHourPerIp: 10_000_000,
      connectionsPerIp: 10_000_000,
    },
    ...extra,
  };
  writeFileSync(configPath, JSON.stringify(config));
}

/**
 * The relay CLI's arguments for `node`, with the CPU profiler on when `profileDir` is given.
 * @param {string} configPath
 * @param {string | undefined} profileDir
 */
export function relayArgs(configPath, profileDir) {
  const nodeArgs = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  return [...nodeArgs, CLI, "--config", configPath];
}

/**
 * How a client reaches its conversation on a relay; `portFor` picks the port (the node) for each connection.
 * @param {(subject: import("./targets.mjs").Subject) => number} portFor
 * @returns {(subject: import("./targets.mjs").Subject) => Promise<import("./connection.mjs").Endpoint>}
 */
export function relayEndpoint(portFor) {
  return async (subject) => {
    const { userId, anonymousSecret, clientSecret, merge, tail } = subject;
    let documentName;
    let token;
    if (anonymousSecret !== undefined) {
      documentName = roomName({
        appId: BENCH_APP.id,
        kind: "anonymous",
        subject: anonymousIdFromSecret(anonymousSecret),
      });
      token = anonymousToken(anonymousSecret);
    } else {
      const user = userId ?? "anonymous";
      documentName = roomName({ appId: BENCH_APP.id, kind: "user", subject: user });
      token = await signUserToken(user);
    }
    const params = new URLSearchParams({ token, client: clientSecret, acks: "1", attest: "1" });
    if (merge !== undefined) params.set("merge", anonymousToken(merge));
    if (tail !== undefined) params.set("tail", String(tail));
    return {
      url: `ws://127.0.0.1:${portFor(subject)}/v1/${documentName}?${params}`,
      framing: "y-websocket",
      documentName,
      token,
    };
  };
}
