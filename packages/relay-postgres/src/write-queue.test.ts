import { describe, expect, it } from "vitest";
import { MAX_BATCH_APPENDS, MAX_BATCH_BYTES, type QueuedAppend, WriteQueue } from "./write-queue.js";

/** A queue whose statements are recorded instead of sent (unit test: no database). */
function recordingQueue(refuse: (append: QueuedAppend) => boolean = () => false) {
  const statements: string[][] = [];
  const queue = new WriteQueue(async (batch) => {
    statements.push(batch.map((append) => `${append.name}:${append.update[0]}`));
    return batch.map((append) => (refuse(append) ? new Error(`refused ${append.name}`) : undefined));
  });
  return { queue, statements };
}

const update = (value: number, size = 1) => new Uint8Array(size).fill(value);

describe("WriteQueue", () => {
  it("sends the appends of one tick as one statement, in call order", async () => {
    const { queue, statements } = recordingQueue();
    await Promise.all([
      queue.append({ name: "a", fence: 1, update: update(1) }),
      queue.append({ name: "b", fence: 1, update: update(2) }),
    ]);
    expect(statements).toEqual([["a:1", "b:2"]]);
    expect(queue.stats).toEqual({ appends: 2, appendBatches: 1 });
  });

  it("runs a barrier alone, after the appends called before it and before those called after", async () => {
    const { queue, statements } = recordingQueue();
    const order: string[] = [];
    await Promise.all([
      queue.append({ name: "a", fence: 1, update: update(1) }).then(() => order.push("append 1")),
      queue.barrier(async () => void order.push("barrier")),
      queue.append({ name: "a", fence: 1, update: update(2) }).then(() => order.push("append 2")),
    ]);
    expect(statements).toEqual([["a:1"], ["a:2"]]);
    expect(order).toEqual(["append 1", "barrier", "append 2"]);
  });

  it("rejects only the appends the statement refused", async () => {
    const { queue } = recordingQueue((append) => append.name === "fenced");
    const results = await Promise.allSettled([
      queue.append({ name: "fenced", fence: 1, update: update(1) }),
      queue.append({ name: "live", fence: 1, update: update(2) }),
    ]);
    expect(results.map((result) => result.status)).toEqual(["rejected", "fulfilled"]);
  });

  it("splits a burst at the batch limits, keeping the order", async () => {
    const { queue, statements } = recordingQueue();
    const many = Array.from({ length: MAX_BATCH_APPENDS + 1 }, (_, i) =>
      queue.append({ name: "a", fence: 1, update: update(i % 256) }),
    );
    await Promise.all(many);
    expect(statements.map((statement) => statement.length)).toEqual([MAX_BATCH_APPENDS, 1]);
    statements.length = 0;
    const half = MAX_BATCH_BYTES / 2;
    await Promise.all([1, 2, 3].map((i) => queue.append({ name: "b", fence: 1, update: update(i, half) })));
    expect(statements).toEqual([["b:1", "b:2"], ["b:3"]]);
    statements.length = 0;
    await queue.append({ name: "c", fence: 1, update: update(9, MAX_BATCH_BYTES + 1) });
    expect(statements).toEqual([["c:9"]]);
  });

  it("fails every append of a statement that failed", async () => {
    const queue = new WriteQueue(async () => {
      throw new Error("connection lost");
    });
    const results = await Promise.allSettled([
      queue.append({ name: "a", fence: 1, update: update(1) }),
      queue.append({ name: "b", fence: 1, update: update(2) }),
    ]);
    expect(results).toMatchObject([
      { status: "rejected", reason: { message: "connection lost" } },
      { status: "rejected", reason: { message: "connection lost" } },
    ]);
  });
});
