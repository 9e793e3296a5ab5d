import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { PEER_HEADER, signPeerAddress, verifiedPeerAddress } from "./peer-address.js";
import { parseAdvertise } from "./pipe.js";

const SECRET = "cluster-secret-0123456789-abcdefghijkl";

function upgrade(key: string, peer?: string): IncomingMessage {
  return { headers: { "sec-websocket-key": key, ...(peer === undefined ? {} : { [PEER_HEADER]: peer }) } } as never;
}

describe("the client address a cluster node passes along", () => {
  it("is believed when signed with the cluster secret for this handshake", () => {
    const request = upgrade("key-1");
    expect(verifiedPeerAddress(SECRET, upgrade("key-1", signPeerAddress(SECRET, "203.0.113.7", request)))).toBe(
      "203.0.113.7",
    );
  });

  it("is ignored when absent, forged, signed with another secret, altered or replayed on another handshake", () => {
    const signed = signPeerAddress(SECRET, "203.0.113.7", upgrade("key-1"));
    expect(verifiedPeerAddress(SECRET, upgrade("key-1"))).toBeNull();
    expect(verifiedPeerAddress(SECRET, upgrade("key-1", "203.0.113.7 not-a-signature"))).toBeNull();
    expect(
      verifiedPeerAddress(SECRET, upgrade("key-1", signPeerAddress(`${SECRET}x`, "203.0.113.7", upgrade("key-1")))),
    ).toBeNull();
    expect(verifiedPeerAddress(SECRET, upgrade("key-1", signed.replace("203.0.113.7", "198.51.100.1")))).toBeNull();
    expect(verifiedPeerAddress(SECRET, upgrade("key-2", signed))).toBeNull();
    expect(verifiedPeerAddress(SECRET, upgrade("key-1", `${signed} extra`))).toBeNull();
  });
});

describe("advertised addresses", () => {
  it("reads host:port and [ipv6]:port, and nothing else", () => {
    expect(parseAdvertise("10.0.0.5:8080")).toEqual({ host: "10.0.0.5", port: 8080 });
    expect(parseAdvertise("relay-2.internal:80")).toEqual({ host: "relay-2.internal", port: 80 });
    expect(parseAdvertise("[::1]:9000")).toEqual({ host: "::1", port: 9000 });
    for (const bad of ["10.0.0.5", "h:0", "h:65536", "ws://h:1", "h :1"]) expect(parseAdvertise(bad)).toBeNull();
  });
});
