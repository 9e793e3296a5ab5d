/**
 * Business API requests about one conversation go to the node serving its room, as connections do (pipe.ts):
 * the request is sent again, unchanged but for hop-by-hop headers and the signed peer header, to the owner's
 * advertised address, and its answer is streamed back. The forwarding node reads no body and opens no room.
 */
import { randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { ErrorCode } from "@parley/protocol";
import { NONCE_HEADER, PEER_HEADER } from "./peer-address.js";
import { parseAdvertise } from "./pipe.js";

/** Headers that describe one hop, not the request: Node sets its own for the next hop. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te"]);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

/** How long the owner may take to answer before the client gets 503. */
const ANSWER_TIMEOUT_MS = 30_000;

/**
 * Sends `request` to the node at `advertise` and streams its answer into `response`. `sign(nonce)` makes the
 * peer header for the nonce this forward carries. An owner that cannot be reached, or does not answer in time,
 * gets the client a 503 `ERR_RELAY_UNAVAILABLE` to retry (the room moves once its lease runs out).
 */
export function forwardRequest(
  advertise: string,
  request: IncomingMessage,
  response: ServerResponse,
  sign: (nonce: string) => string,
): Promise<void> {
  const target = parseAdvertise(advertise);
  const nonce = randomBytes(16).toString("base64url");
  return new Promise((resolve) => {
    const unavailable = () => {
      if (!response.headersSent) {
        response.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
        response.end(
          JSON.stringify({
            error: {
              code: ErrorCode.RelayUnavailable,
              message: "the relay node serving this conversation did not answer; retry",
            },
          }),
        );
      } else response.destroy();
      resolve();
    };
    if (target === null) return unavailable();
    const headers = { ...endToEnd(request.headers), [NONCE_HEADER]: nonce, [PEER_HEADER]: sign(nonce) };
    const upstream = httpRequest({ ...target, method: request.method, path: request.url, headers });
    upstream.setTimeout(ANSWER_TIMEOUT_MS, () => upstream.destroy(new Error("no answer")));
    upstream.on("error", unavailable);
    upstream.on("response", (answer) => {
      response.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
      answer.pipe(response);
      answer.on("end", () => resolve());
      answer.on("error", () => {
        response.destroy();
        resolve();
      });
    });
    request.pipe(upstream);
  });
}
