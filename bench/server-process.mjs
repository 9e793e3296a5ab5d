// A server under test, as its own child process: started, watched through /proc (CPU, memory), stopped.
//
// CPU is the sum of every thread's run time from /proc/<pid>/task/*/schedstat (nanoseconds, so short windows
// are measurable; the libuv pool and GC threads count too). Memory is VmRSS from /proc/<pid>/status.
// A target of several processes (a cluster's nodes) is one handle whose CPU and memory are their sums.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** Every child still running, so an interrupted run leaves nothing behind. */
const running = new Set();
function killAll() {
  for (const child of running) child.kill("SIGKILL");
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/**
 * @typedef {object} ServerHandle
 * @property {number} pid
 * @property {number} port
 * @property {() => number} cpuNanos CPU time the process has used so far, all threads.
 * @property {() => number} rssBytes Resident memory now.
 * @property {() => Promise<void>} stop SIGTERM, then SIGKILL after 5 s; resolves when it has exited.
 * @property {() => string} stderrTail The last lines it wrote to stderr (for error messages).
 * @property {ServerHandle[]} [parts] A target of several processes: each one (`port` and `pid` are the first's).
 */

/**
 * Starts `node <args>` and resolves once it printed a JSON line with `"msg":"listening"` and its port.
 * @param {{ name: string, args: string[], env?: Record<string, string>, timeoutMs?: number }} options
 * @returns {Promise<ServerHandle>}
 */
export function startServer({ name, args, env = {}, timeoutMs = 20_000 }) {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  exited.then(() => running.delete(child));
  /** @type {string[]} */
  const stderr = [];
  createInterface({ input: child.stderr }).on("line", (line) => {
    stderr.push(line);
    if (stderr.length > 20) stderr.shift();
  });
  const pid = /** @type {number} */ (child.pid);

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} did not report "listening" within ${timeoutMs} ms: ${stderr.join("\n")}`));
    }, timeoutMs);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening: ${stderr.join("\n")}`));
    });
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      if (!line.includes('"listening"')) return;
      let port;
      try {
        port = JSON.parse(line).port;
      } catch {
        return;
      }
      if (typeof port !== "number") return;
      clearTimeout(timer);
      // Keep draining stdout so a chatty server never blocks on a full pipe.
      lines.removeAllListeners("line");
      child.stdout.resume();
      resolve({
        pid,
        port,
        cpuNanos: () => cpuNanos(pid),
        rssBytes: () => rssBytes(pid),
        stderrTail: () => stderr.join("\n"),
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill("SIGTERM");
          const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
          await exited;
          clearTimeout(killer);
        },
      });
    });
  });
}

/**
 * Several server processes as one: CPU and resident memory summed, stopped together. `parts` keeps each one, for
 * figures per process (a cluster node's own CPU).
 * @param {ServerHandle[]} handles
 * @returns {ServerHandle}
 */
export function combineServers(handles) {
  const first = handles[0];
  if (first === undefined) throw new Error("combineServers: no process");
  return {
    pid: first.pid,
    port: first.port,
    parts: handles,
    cpuNanos: () => handles.reduce((sum, handle) => sum + handle.cpuNanos(), 0),
    rssBytes: () => handles.reduce((sum, handle) => sum + handle.rssBytes(), 0),
    stderrTail: () => handles.map((handle, i) => `[process ${i}] ${handle.stderrTail()}`).join("\n"),
    stop: async () => {
      await Promise.all(handles.map((handle) => handle.stop()));
    },
  };
}

/**
 * CPU time process `pid` has used so far, all threads (0 once it is gone).
 * @param {number} pid
 */
export function cpuNanos(pid) {
  let total = 0;
  let tasks;
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const task of tasks) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return total;
}

/** @param {number} pid */
function rssBytes(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * Bytes of every file under `path` (0 if it does not exist).
 * @param {string} path
 * @returns {number}
 */
export function diskBytes(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const entry of readdirSync(path)) total += diskBytes(join(path, entry));
  return total;
}

/**
 * Waits until the server has used no CPU for `quietMs` (its debounced stores and compactions are done),
 * at most `timeoutMs`. Returns whether it went quiet.
 * @param {ServerHandle} server
 * @param {{ quietMs?: number, timeoutMs?: number, thresholdNanos?: number }} [options]
 */
export async function waitForQuiet(server, { quietMs = 2_500, timeoutMs = 20_000, thresholdNanos = 5e6 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = server.cpuNanos();
  let quietSince = Date.now();
  const interval = Math.min(250, Math.max(50, quietMs / 4));
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, interval));
    const now = server.cpuNanos();
    if (now - last > thresholdNanos) quietSince = Date.now();
    last = now;
    if (Date.now() - quietSince >= quietMs) return true;
  }
  return false;
}
