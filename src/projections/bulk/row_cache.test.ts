import { describe, expect, it } from "vitest";
import { START } from "../../shared/position.ts";
import { orders } from "../orders/projection.ts";
import { partitionCount } from "../runner/partition.ts";
import { Scenario } from "../testing/scenario.ts";
import { RowCache, type CachedRow } from "./row_cache.ts";

/** A cache over the orders projection from an empty version, and a scenario to fold events of. */
function setUp(maxRows?: number): { cache: RowCache; world: Scenario; fold: (from: number) => void; flush: () => void } {
  const cache = new RowCache(orders, { partitions: partitionCount(orders), checkpoints: Array.from({ length: partitionCount(orders) }, () => START), emptyTables: true, ...(maxRows === undefined ? {} : { maxRows }) });
  const world = new Scenario();
  const fold = (from: number): void => {
    const events = world.log.events.slice(from).filter((event) => orders.handles.has(event.type));
    const refs = cache.refs(events);
    expect(cache.missing(refs).size).toBe(0); // an empty table, rows kept: nothing to load
    cache.fold(events, refs);
  };
  /** A flush that wrote every row folded since the last one as it stands. */
  const flush = (): void => {
    const taken = cache.takeDirty().write;
    cache.flushed(taken, taken.map((entry) => entry.current));
  };
  return { cache, world, fold, flush };
}

describe("RowCache", () => {
  it("counts the rows folded since the last flush, and which of them the table does not hold yet", () => {
    const { cache, world, fold } = setUp();
    const product = world.createProduct("2026-01-01T00:00:00.000Z");
    const a = world.placeOrder("2026-01-01T00:01:00.000Z", crypto.randomUUID(), [[product, 1]]);
    const b = world.placeOrder("2026-01-01T00:02:00.000Z", crypto.randomUUID(), [[product, 2]]);
    world.pay("2026-01-01T00:03:00.000Z", a);
    fold(0);
    expect([cache.dirtyCount, cache.dirtyNewCount]).toStrictEqual([2, 2]);

    // A flush writes them: from then on the table holds them, and they count as changed rows, not new ones.
    const taken = cache.takeDirty().write;
    expect([cache.dirtyCount, cache.dirtyNewCount]).toStrictEqual([0, 0]);
    cache.flushed(taken, taken.map((entry) => entry.current));
    let from = world.log.events.length;
    world.pay("2026-01-01T00:04:00.000Z", b);
    world.ship("2026-01-01T00:05:00.000Z", a);
    world.placeOrder("2026-01-01T00:06:00.000Z", crypto.randomUUID(), [[product, 1]]);
    fold(from);
    expect([cache.dirtyCount, cache.dirtyNewCount]).toStrictEqual([3, 1]);

    // A row folded again after it was taken, before the flush committed, counts again.
    const second = cache.takeDirty().write;
    from = world.log.events.length;
    world.ship("2026-01-01T00:07:00.000Z", b);
    fold(from);
    expect([cache.dirtyCount, cache.dirtyNewCount]).toStrictEqual([1, 0]);
    cache.flushed(second, second.map((entry) => entry.current));
    expect([cache.dirtyCount, cache.dirtyNewCount]).toStrictEqual([1, 0]);
  });

  it("keeps rows while they fit its budget, then lets go of the least recently touched first (they are read back when touched again)", () => {
    const { cache, world, fold, flush } = setUp(3);
    const product = world.createProduct("2026-01-01T00:00:00.000Z");
    const [a, b] = [1, 2].map((minute) => world.placeOrder(`2026-01-01T00:0${minute}:00.000Z`, crypto.randomUUID(), [[product, 1]]));
    world.pay("2026-01-01T00:03:00.000Z", a!);
    fold(0);
    flush();
    // Two periods later, untouched since, they still fit (3 rows): nothing is read back.
    let from = world.log.events.length;
    const c = world.placeOrder("2026-01-01T00:04:00.000Z", crypto.randomUUID(), [[product, 1]]);
    fold(from);
    flush();
    flush();
    from = world.log.events.length;
    world.pay("2026-01-01T00:05:00.000Z", b!);
    fold(from);
    flush();

    // Over the budget (4 rows): the row untouched longest goes first (a; of the others, the coldest).
    from = world.log.events.length;
    const d = world.placeOrder("2026-01-01T00:06:00.000Z", crypto.randomUUID(), [[product, 1]]);
    fold(from);
    flush();
    const events = (start: number) => world.log.events.slice(start).filter((event) => orders.handles.has(event.type));
    from = world.log.events.length;
    world.ship("2026-01-01T00:07:00.000Z", a!);
    world.pay("2026-01-01T00:08:00.000Z", c);
    world.pay("2026-01-01T00:09:00.000Z", d);
    const refs = cache.refs(events(from));
    expect(Object.fromEntries(cache.missing(refs))).toStrictEqual({ orders: [a] });
  });

  it("lets go of settled rows first (shipped or cancelled orders: no event changes them again)", () => {
    const { cache, world, fold, flush } = setUp(2);
    const product = world.createProduct("2026-01-01T00:00:00.000Z");
    // a: placed long ago, still waiting for payment; b and c: placed later, b shipped.
    const a = world.placeOrder("2026-01-01T00:01:00.000Z", crypto.randomUUID(), [[product, 1]]);
    fold(0);
    flush();
    let from = world.log.events.length;
    const b = world.placeOrder("2026-01-01T00:02:00.000Z", crypto.randomUUID(), [[product, 1]]);
    world.pay("2026-01-01T00:03:00.000Z", b);
    world.ship("2026-01-01T00:04:00.000Z", b);
    const c = world.placeOrder("2026-01-01T00:05:00.000Z", crypto.randomUUID(), [[product, 1]]);
    fold(from);
    // Three rows, budget two: the shipped one goes, though a was untouched longer.
    flush();
    from = world.log.events.length;
    world.pay("2026-01-01T00:06:00.000Z", a);
    world.pay("2026-01-01T00:07:00.000Z", c);
    const events = world.log.events.slice(from).filter((event) => orders.handles.has(event.type));
    expect(cache.missing(cache.refs(events)).size).toBe(0);
    // And b, touched again (a redelivery, say), is read back.
    expect(Object.fromEntries(cache.missing(cache.refs(world.log.events.filter((event) => event.type === "OrderShipped"))))).toStrictEqual({ orders: [b] });
  });
});

describe("RowCache holds", () => {
  it("keeps the rows a flush holds back dirty, unwritten, and gives the earliest mark among them", () => {
    const { cache, world } = setUp();
    const product = world.createProduct("2026-01-01T00:00:00.000Z");
    const fold = (from: number, consumed: number): void => {
      const events = world.log.events.slice(from).filter((event) => orders.handles.has(event.type));
      const refs = cache.refs(events);
      cache.missing(refs);
      cache.fold(events, refs, { position: world.log.events[from - 1]!.position, consumed });
    };
    const a = world.placeOrder("2026-01-01T00:01:00.000Z", crypto.randomUUID(), [[product, 1]]);
    fold(1, 1);
    let from = world.log.events.length;
    const b = world.placeOrder("2026-01-01T00:02:00.000Z", crypto.randomUUID(), [[product, 1]]);
    world.pay("2026-01-01T00:03:00.000Z", b);
    world.ship("2026-01-01T00:04:00.000Z", b);
    fold(from, 2);
    // Hold what is not shipped: a waits (marked before it, at the first mark); b is written.
    const hold = (entry: CachedRow): boolean => entry.current?.["status"] !== "shipped";
    const first = cache.takeDirty(hold);
    expect(first.write.map((entry) => entry.ref.key)).toEqual([b]);
    expect([first.held, first.heldNew, first.since?.consumed]).toEqual([1, 1, 1]);
    expect([cache.dirtyCount, cache.dirtyNewCount]).toStrictEqual([1, 1]);
    cache.flushed(first.write, first.write.map((entry) => entry.current));
    // a takes its payment while held (folded on, still marked where it was first folded); then ships.
    from = world.log.events.length;
    world.pay("2026-01-01T00:05:00.000Z", a);
    fold(from, 5);
    expect(cache.takeDirty(hold).since?.consumed).toBe(1);
    from = world.log.events.length;
    world.ship("2026-01-01T00:06:00.000Z", a);
    fold(from, 6);
    const last = cache.takeDirty(hold);
    expect(last.write.map((entry) => [entry.ref.key, entry.current?.["status"], entry.current?.["version"]])).toEqual([[a, "shipped", 3]]);
    expect([last.held, last.since]).toEqual([0, null]);
    // A row folded without a mark cannot be held (its flush would not know where to keep the watermark).
    const c = world.placeOrder("2026-01-01T00:07:00.000Z", crypto.randomUUID(), [[product, 1]]);
    const events = world.log.events.filter((event) => event.type === "OrderPlaced" && event.data["orderId"] === c);
    cache.missing(cache.refs(events));
    cache.fold(events, cache.refs(events));
    expect(() => cache.takeDirty(hold)).toThrow(/without a mark/);
  });
});
