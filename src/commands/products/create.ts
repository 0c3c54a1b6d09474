/**
 * Creating a product with a sku that is unique across processes: reserve the sku in its
 * own stream (`sku-<sku>`, optimistic concurrency decides the race), then create the
 * product, guarded on the reservation still standing; if that fails, release the
 * reservation again (compensation).
 *
 * A reservation made under the request's own Idempotency-Key with no product behind it is
 * this request's earlier attempt (still running, or cut off by a store outage before it
 * created the product or released the sku). The retry takes it over: it creates the product
 * under the id that attempt reserved, so whichever of the two appends first wins, the other
 * replays its answer, and a retry after a 503 creates the product instead of answering 409
 * for good.
 */
import type { EventMetadata, EventStore, IdempotencyRecord, RecordedEvent } from "../../event_store/types.ts";
import { ConflictError, StaleGuardError, WrongExpectedVersionError } from "../../shared/errors.ts";
import type { ProductCreated, SkuEvent } from "../../shared/events.ts";
import { streams } from "../../shared/events.ts";
import type { Clock } from "../clock.ts";
import type { CommandResult } from "../handle.ts";
import { IdempotencyInFlightError } from "../idempotency.ts";
import { decideProduct, initialProductState } from "./decide.ts";

/** A reservation whose product stream still does not exist after this long is an orphan. */
const ORPHAN_AFTER_MS = 10_000;
const MAX_ATTEMPTS = 5;

export interface CreateProductInput {
  store: EventStore;
  clock: Clock;
  data: ProductCreated["data"];
  metadata: EventMetadata;
  idempotency: IdempotencyRecord | undefined;
  /** The product id was generated for this request (not given in the body): an earlier attempt's reservation under the same Idempotency-Key may bring its own. */
  idGenerated?: boolean;
  orphanAfterMs?: number;
}

/**
 * The sku's reservation for this product: made by this call (released again if the product
 * cannot be created) or earlier; `version` is the sku stream's version with it standing, and
 * `productId` the id it reserves the sku for.
 */
interface Reservation {
  byUs: boolean;
  version: number;
  productId: string;
}

function skuEvents(events: SkuEvent[], metadata: EventMetadata) {
  return events.map((event) => ({ type: event.type, data: event.data as Record<string, unknown>, metadata }));
}

async function tryAppend(store: EventStore, streamId: string, events: SkuEvent[], metadata: EventMetadata, expected: "no_stream" | number): Promise<number | null> {
  try {
    return (await store.append(streamId, skuEvents(events, metadata), { expectedVersion: expected })).version;
  } catch (error) {
    if (error instanceof WrongExpectedVersionError) return null;
    throw error;
  }
}

async function isOrphan(input: CreateProductInput, holder: RecordedEvent): Promise<boolean> {
  const age = input.clock.now().getTime() - Date.parse(holder.metadata.occurredAt);
  if (!(age > (input.orphanAfterMs ?? ORPHAN_AFTER_MS))) return false;
  const product = await input.store.readStream(streams.product(String(holder.data["productId"])));
  return product.version === 0;
}

/** Reserves the sku for the product, or throws 409 when another product holds it. */
async function reserveSku(input: CreateProductInput, firstRead: { version: number; events: RecordedEvent[] }): Promise<Reservation> {
  const { store, data, metadata } = input;
  const streamId = streams.sku(data.sku);
  const reserved: SkuEvent = { type: "SkuReserved", data: { sku: data.sku, productId: data.productId } };
  let read = firstRead;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (attempt > 1) read = await store.readStream(streamId);
    const last = read.events.at(-1);
    let version: number | null;
    if (!last) {
      version = await tryAppend(store, streamId, [reserved], metadata, "no_stream");
    } else if (last.type === "SkuReleased") {
      version = await tryAppend(store, streamId, [reserved], metadata, read.version);
    } else {
      const holderId = String(last.data["productId"]);
      if (holderId === data.productId) return { byUs: false, version: read.version, productId: holderId };
      const holderKey = last.metadata.idempotencyKey;
      // This request's earlier attempt: take its reservation and its product id over.
      if (holderKey !== undefined && holderKey === input.idempotency?.key) {
        if (input.idGenerated) return { byUs: false, version: read.version, productId: holderId };
        // The same key with another explicit id: the route waits for that request's answer (422 when the bodies differ).
        throw new IdempotencyInFlightError();
      }
      if (!(await isOrphan(input, last))) throw new ConflictError(`sku ${data.sku} is taken`);
      const released: SkuEvent = { type: "SkuReleased", data: { sku: data.sku, productId: holderId } };
      version = await tryAppend(store, streamId, [released, reserved], metadata, read.version);
    }
    if (version !== null) return { byUs: true, version, productId: data.productId };
  }
  throw new ConflictError(`sku ${data.sku} is contended; try again`);
}

async function release(input: CreateProductInput, reservation: Reservation): Promise<void> {
  if (!reservation.byUs) return;
  const released: SkuEvent = { type: "SkuReleased", data: { sku: input.data.sku, productId: input.data.productId } };
  // Best effort: if this fails, the reservation becomes an orphan that a later create reclaims.
  await tryAppend(input.store, streams.sku(input.data.sku), [released], input.metadata, reservation.version).catch(() => null);
}

/**
 * Creates a product: 409 when the id exists or the sku is taken; nothing is left reserved on
 * failure. The result's id is the product's (an earlier attempt's under the same key, see above).
 */
export async function createProduct(input: CreateProductInput): Promise<CommandResult & { id: string }> {
  const { store, metadata } = input;
  const skuStream = streams.sku(input.data.sku);
  const requested = streams.product(input.data.productId);
  const reads = await store.readStreams([requested, skuStream]);
  if ((reads.get(requested)?.version ?? 0) > 0) throw new ConflictError("Product already exists");
  const reservation = await reserveSku(input, reads.get(skuStream) ?? { version: 0, events: [] });
  const data = { ...input.data, productId: reservation.productId };
  const events = decideProduct({ type: "CreateProduct", data }, initialProductState);
  try {
    const appended = await store.append(
      streams.product(data.productId),
      events.map((event) => ({ type: event.type, data: event.data as Record<string, unknown>, metadata })),
      {
        expectedVersion: "no_stream",
        // The reservation must still stand: one taken over as an orphan meanwhile belongs to another product.
        guard: [{ streamId: skuStream, version: reservation.version }],
        ...(input.idempotency ? { idempotency: { ...input.idempotency, resourceId: data.productId } } : {}),
      },
    );
    return { version: appended.version, position: appended.position, appended: true, id: data.productId };
  } catch (error) {
    if (error instanceof StaleGuardError) throw new ConflictError(`sku ${data.sku} is taken`);
    await release(input, reservation);
    if (error instanceof WrongExpectedVersionError) throw new ConflictError("Product already exists");
    throw error;
  }
}
