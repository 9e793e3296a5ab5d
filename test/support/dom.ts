/**
 * A DOM for React tests that also talk to a real relay: jsdom's window objects are added to Node's global
 * scope, but Node keeps its own built-ins (typed arrays, URL, TextEncoder, WebSocket, timers). Vitest's
 * jsdom environment replaces those too, and then jose, ws and Yjs, loaded outside the test's realm, see
 * buffers from another realm. Import this module first.
 */
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><head></head><body></body></html>", {
  url: "http://localhost/",
  pretendToBeVisual: true,
});
const window = dom.window as unknown as Record<string, unknown>;
const scope = globalThis as unknown as Record<string, unknown>;
// Events must be jsdom's: jsdom's targets refuse Node's Event objects.
const ALWAYS = ["Event", "EventTarget", "CustomEvent", "KeyboardEvent", "MouseEvent", "FocusEvent", "InputEvent"];

for (const key of Object.getOwnPropertyNames(window)) {
  if (key in scope && !ALWAYS.includes(key)) continue;
  const value = window[key];
  scope[key] = typeof value === "function" && /^[a-z]/.test(key) ? value.bind(dom.window) : value;
}
scope.window = dom.window;
for (const key of ["addEventListener", "removeEventListener", "dispatchEvent"]) {
  scope[key] = (window[key] as (...args: unknown[]) => unknown).bind(dom.window);
}
// Off, as in a browser: these tests' updates come from a real relay over real sockets, at any moment, not from
// the test's own actions, so React's expectation that every update is flushed inside act() does not apply (the
// tests wait for what they assert). Testing Library's render() and act() switch it on for their own calls.
scope.IS_REACT_ACT_ENVIRONMENT = false;
