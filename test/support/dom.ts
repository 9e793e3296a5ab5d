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
// React's act() checks this flag to know it runs in a test.
scope.IS_REACT_ACT_ENVIRONMENT = true;
