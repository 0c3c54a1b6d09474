/**
 * Redis stopped (its data lost) and started again: reads keep answering 200 from
 * PostgreSQL meanwhile, commands keep working, and the views come back by themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, sendCommand, sendQuery, sleep } from "./support/client.ts";
import { dumpRedis } from "./support/redis_dump.ts";
import type { RedisServer } from "./support/redis_server.ts";
import { startServiceProcess, type ServiceProcess } from "../testing/service_process.ts";
import { faultStackSkipReason, startFaultStack, type FaultStack } from "./support/stack.ts";

const skip = faultStackSkipReason();

describe.skipIf(skip !== null)(`Redis outage with data loss${skip ? ` (${skip})` : ""}`, () => {
  let redis: RedisServer;
  let service: ServiceProcess;
  let stack: FaultStack | undefined;
  beforeAll(async () => {
    stack = await startFaultStack();
    ({ redis, service } = stack);
  });
  // A test may replace the service (a restart): that one is stopped too.
  afterAll(async () => {
    await service?.kill();
    await stack?.stop();
  });

  it("serves reads from PostgreSQL while Redis is down and restores the views after it returns", { timeout: 120_000 }, async () => {
    const ids: string[] = [];
    let position = "";
    for (let i = 0; i < 12; i++) {
      const created = await sendCommand(service.url, "/v1/products", { sku: `R-${i}`, name: `Redis ${i}`, category: "faults-redis", priceCents: 100 + i, description: "x".repeat(i * 200) });
      expect(created.status).toBe(201);
      const body = created.body as { id: string; position: string };
      ids.push(body.id);
      position = body.position;
    }
    const order = await sendCommand(service.url, "/v1/orders", { customerId: crypto.randomUUID(), lines: [{ productId: ids[0], quantity: 2 }] });
    expect(order.status).toBe(201);
    const orderBody = order.body as { id: string; position: string };
    const paid = await sendCommand(service.url, `/v1/orders/${orderBody.id}/pay`, { paymentId: crypto.randomUUID(), amountCents: 200, method: "card" });
    expect(paid.status).toBe(200);
    position = (paid.body as { position: string }).position;
    expect((await sendQuery(service.url, `/v1/products/${ids[0]}`, { headers: { "x-consistent-with": position } })).status).toBe(200);
    // The order's read model too (another projection): the reads below must find it in PostgreSQL.
    expect((await sendQuery(service.url, `/v1/orders/${orderBody.id}`, { headers: { "x-consistent-with": position } })).status).toBe(200);

    const plain = redis.client();
    const sentinel = /^projections:sentinel:/;
    let before = new Map<string, string>();
    try {
      expect(await eventually(async () => (before = await dumpRedis(plain, { exclude: sentinel })).size > 12 * 2, { timeoutMs: 20_000 })).toBe(true);
    } finally {
      plain.disconnect();
    }

    await redis.stop();
    const reads = [];
    const until = performance.now() + 3000;
    for (let round = 0; performance.now() < until && round < 100; round++) {
      const id = ids[round % ids.length]!;
      reads.push(await sendQuery(service.url, `/v1/products/${id}`, { timeoutMs: 5000 }));
      reads.push(await sendQuery(service.url, `/v1/orders/${orderBody.id}`, { timeoutMs: 5000 }));
      reads.push(await sendQuery(service.url, "/v1/categories/faults-redis/best-sellers", { timeoutMs: 5000 }));
      reads.push(await sendQuery(service.url, "/v1/products?category=faults-redis&limit=5", { timeoutMs: 5000 }));
    }
    expect(reads.filter((answer) => answer.status !== 200).map((answer) => `${answer.status} ${answer.error ?? JSON.stringify(answer.body)}`)).toEqual([]);
    // Commands do not need Redis; reading one's own write comes from PostgreSQL.
    const changed = await sendCommand(service.url, `/v1/products/${ids[1]}/price`, { priceCents: 4242 });
    expect(changed.status).toBe(200);
    const own = await sendQuery(service.url, `/v1/products/${ids[1]}`, { headers: { "x-consistent-with": (changed.body as { position: string }).position } });
    expect(own.status).toBe(200);
    expect((own.body as { priceCents: number }).priceCents).toBe(4242);
    await sleep(500);

    await redis.start();
    const after = redis.client();
    try {
      let now = new Map<string, string>();
      const restored = await eventually(async () => {
        now = await dumpRedis(after, { exclude: sentinel });
        return [...before.keys()].every((key) => now.has(key));
      }, { timeoutMs: 30_000, intervalMs: 250 });
      expect(restored, `missing keys: ${[...before.keys()].filter((key) => !now.has(key)).slice(0, 5).join(", ")}`).toBe(true);
      // Views of untouched products are byte-for-byte what they were.
      const untouched = [...before.keys()].filter((key) => key.includes(ids[5]!));
      expect(untouched.length).toBeGreaterThan(0);
      for (const key of untouched) expect(now.get(key)).toBe(before.get(key));
      // The product changed meanwhile shows its new price from Redis too.
      const changedView = [...now.entries()].find(([key]) => key.endsWith(`:id:${ids[1]}`));
      expect(changedView?.[1] ? Buffer.from(changedView[1].slice("string:".length), "base64").toString() : "").toContain("4242");
    } finally {
      after.disconnect();
    }
    const last = await sendQuery(service.url, `/v1/products/${ids[1]}`);
    expect(last.status).toBe(200);
    expect((last.body as { priceCents: number }).priceCents).toBe(4242);
  });

  /**
   * Creates six products, has Redis save a snapshot, then gives product i a stock of
   * `stock + i`: a change only in the products' own views (no list member or score moves with
   * it, so the audit of list memberships cannot notice). Their ids and the last position.
   */
  async function snapshotThenChangeStock(prefix: string, category: string, stock: number): Promise<{ ids: string[]; position: string }> {
    const created = await createProducts(6, prefix, category);
    const ids = created.ids;
    let position = created.position;
    expect((await sendQuery(service.url, `/v1/products/${ids[5]}`, { headers: { "x-consistent-with": position } })).status).toBe(200);
    const plain = redis.client();
    try {
      await plain.save();
    } finally {
      plain.disconnect();
    }
    for (const [i, id] of ids.entries()) {
      const changed = await sendCommand(service.url, `/v1/products/${id}/stock`, { delta: stock + i });
      expect(changed.status).toBe(200);
      position = (changed.body as { position: string }).position;
    }
    expect((await sendQuery(service.url, `/v1/products/${ids[5]}`, { headers: { "x-consistent-with": position } })).status).toBe(200);
    return { ids, position };
  }

  /** Creates `count` products (skus `<prefix>-<i>`, prices 100 + i) in a category; their ids and the last position. */
  async function createProducts(count: number, prefix: string, category: string): Promise<{ ids: string[]; position: string }> {
    const ids: string[] = [];
    let position = "";
    for (let i = 0; i < count; i++) {
      const created = await sendCommand(service.url, "/v1/products", { sku: `${prefix}-${i}`, name: `${prefix} ${i}`, category, priceCents: 100 + i });
      expect(created.status).toBe(201);
      ids.push((created.body as { id: string }).id);
      position = (created.body as { position: string }).position;
    }
    return { ids, position };
  }

  it("after Redis comes back, reads with X-Consistent-With see every change at once (idle projection threads reconnect meanwhile)", { timeout: 60_000 }, async () => {
    const { ids, position } = await createProducts(8, "IDLE", "faults-idle");
    expect((await sendQuery(service.url, `/v1/products/${ids[0]}`, { headers: { "x-consistent-with": position } })).status).toBe(200);
    await redis.stop();
    await sleep(500);
    await redis.start();
    // The service is idle meanwhile: its projection threads get no task until the commands below.
    const plain = redis.client();
    try {
      expect(await eventually(async () => (await plain.keys("*faults-idle*")).length > 0, { timeoutMs: 20_000 })).toBe(true);
    } finally {
      plain.disconnect();
    }
    await sleep(3000);
    const stale: string[] = [];
    for (const [i, id] of ids.entries()) {
      const changed = await sendCommand(service.url, `/v1/products/${id}/price`, { priceCents: 7000 + i });
      expect(changed.status).toBe(200);
      const read = await sendQuery(service.url, `/v1/products/${id}`, { headers: { "x-consistent-with": (changed.body as { position: string }).position } });
      const body = read.body as { priceCents: number; version: number };
      if (read.status !== 200 || body.priceCents !== 7000 + i) stale.push(`${id}: ${read.status} ${JSON.stringify(body)}`);
    }
    expect(stale).toEqual([]);
  });

  it("rewrites the views when Redis comes back from an older snapshot (its views and sentinel look complete)", { timeout: 60_000 }, async () => {
    const { ids, position } = await snapshotThenChangeStock("SNAP", "faults-snapshot", 10);
    await redis.stop();
    await redis.start();
    // Once the service uses Redis again (reads skip it for a second after errors), every change
    // acknowledged before the crash is read back: the old snapshot's views were replaced.
    await sleep(3000);
    const stale: string[] = [];
    for (const [i, id] of ids.entries()) {
      const read = await sendQuery(service.url, `/v1/products/${id}`, { headers: { "x-consistent-with": position } });
      const plainRead = await sendQuery(service.url, `/v1/products/${id}`);
      for (const answer of [read, plainRead]) if ((answer.body as { stock?: number }).stock !== 10 + i) stale.push(`${id}: ${JSON.stringify(answer.body)}`);
    }
    expect(stale).toEqual([]);
    // And the product lists (a collection) agree.
    const list = await sendQuery(service.url, "/v1/products?category=faults-snapshot&sort=price_asc&limit=10");
    expect((list.body as { items: Array<{ stock: number }> }).items.map((item) => item.stock)).toEqual(ids.map((_, i) => 10 + i));
  });

  it("rewrites the views when Redis restarted from an older snapshot while the service was down: no read sees the snapshot's", { timeout: 90_000 }, async () => {
    const { ids } = await snapshotThenChangeStock("DOWN", "faults-down", 20);
    await service.kill("SIGTERM");
    await redis.stop();
    await redis.start();
    // A new process knows the views' Redis only from what was stored with them: from its very
    // first answers, none may come from the snapshot's views (stock 0).
    service = await startServiceProcess({ databaseUrl: stack!.databaseUrl, redisUrl: redis.url });
    const stale: string[] = [];
    const until = performance.now() + 4000;
    let reads = 0;
    while (performance.now() < until) {
      for (const [i, id] of ids.entries()) {
        const read = await sendQuery(service.url, `/v1/products/${id}`);
        reads++;
        if (read.status !== 200 || (read.body as { stock?: number }).stock !== 20 + i) stale.push(`${id}: ${read.status} ${JSON.stringify(read.body)}`);
      }
      const list = await sendQuery(service.url, "/v1/products?category=faults-down&sort=price_asc&limit=10");
      const stocks = (list.body as { items?: Array<{ stock: number }> }).items?.map((item) => item.stock);
      if (JSON.stringify(stocks) !== JSON.stringify(ids.map((_, i) => 20 + i))) stale.push(`list: ${JSON.stringify(stocks)}`);
    }
    expect(stale.slice(0, 5)).toEqual([]);
    expect(reads).toBeGreaterThan(12);
    // The restart was told by its run_id (stored with the views), and the views rewritten.
    expect(await eventually(async () => service.logs.join("").includes("restored Redis views from rows"), { timeoutMs: 20_000 })).toBe(true);
    expect(service.logs.join("")).toContain('"reason":"Redis restarted"');
  });

  it("answers reads from PostgreSQL, each within a bounded wait, while Redis is paused (SIGSTOP), and from Redis again after", { timeout: 60_000 }, async () => {
    const created = await sendCommand(service.url, "/v1/products", { sku: "PAUSE-1", name: "Paused", category: "faults-pause", priceCents: 500 });
    expect(created.status).toBe(201);
    const { id, position } = created.body as { id: string; position: string };
    expect((await sendQuery(service.url, `/v1/products/${id}`, { headers: { "x-consistent-with": position } })).status).toBe(200);
    redis.pause();
    try {
      const reads = [];
      const until = performance.now() + 3000;
      while (performance.now() < until) {
        for (const path of [`/v1/products/${id}`, "/v1/products?category=faults-pause", "/v1/categories/faults-pause/best-sellers", `/v1/customers/${crypto.randomUUID()}/orders`]) {
          const began = performance.now();
          const answer = await sendQuery(service.url, path, { timeoutMs: 5000 });
          reads.push({ path, status: answer.status, ms: performance.now() - began });
        }
      }
      expect(reads.filter((read) => read.status !== 200).map((read) => `${read.path} ${read.status}`)).toEqual([]);
      // A read waits at most one command timeout (1 s) for Redis; after one, Redis is skipped for a second.
      expect(Math.max(...reads.map((read) => read.ms))).toBeLessThan(2500);
      const slow = reads.filter((read) => read.ms > 200).length;
      expect(slow).toBeLessThanOrEqual(6);
      expect(reads.length).toBeGreaterThan(20);
    } finally {
      redis.resume();
    }
    // Commands kept working; after the pause the data is still there and reads use it.
    const changed = await sendCommand(service.url, `/v1/products/${id}/price`, { priceCents: 600 });
    expect(changed.status).toBe(200);
    const own = await sendQuery(service.url, `/v1/products/${id}`, { headers: { "x-consistent-with": (changed.body as { position: string }).position } });
    expect((own.body as { priceCents: number }).priceCents).toBe(600);
  });
});
