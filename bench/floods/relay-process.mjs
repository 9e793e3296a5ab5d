// The relay under flood, as its own process: an in-memory relay on port 0 that reports its event-loop delay
// (p50, p99, max) and RSS to its parent over IPC whenever asked, and resets the delay histogram after each report.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createRelay } from "@parley/relay";

const APP = JSON.parse(process.env.FLOOD_APP ?? "{}");
const limits = JSON.parse(process.env.FLOOD_LIMITS ?? "{}");
const dataDir = process.env.FLOOD_DATA_DIR;
const relay = createRelay({ host: "127.0.0.1", port: 0, dataDir, fsync: "off", apps: [APP], limits });
const { port } = await relay.listen();
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
let peakRss = process.memoryUsage().rss;
setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20).unref();

process.on("message", (message) => {
  if (message === "stats") {
    const ms = (ns) => Math.round((ns / 1e6) * 10) / 10;
    process.send?.({
      p50Ms: ms(delay.percentile(50)),
      p99Ms: ms(delay.percentile(99)),
      maxMs: ms(delay.max),
      rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
      peakRssMiB: Math.round(peakRss / 2 ** 20),
    });
    delay.reset();
    peakRss = process.memoryUsage().rss;
  } else if (message === "stop") {
    void relay.close().then(() => process.exit(0));
  }
});
process.send?.({ port });
