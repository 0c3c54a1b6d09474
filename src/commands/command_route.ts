/**
 * Turns a command spec into a koa handler: params, body, If-Match and Idempotency-Key
 * parsing (400s), idempotent replay, execution, and the success answer
 * (`{ id, version, position }`, ETag, 201 + Location for creates).
 */
import type { Router } from "@koa/router";
import type { Context, Middleware } from "koa";
import type { z } from "zod";
import type { Pool } from "../db/pool.ts";
import type { EventMetadata, EventStore, IdempotencyRecord } from "../event_store/types.ts";
import { clientOf } from "../http/auth.ts";
import { readJsonBodyInto } from "../http/body.ts";
import { sentMoreThanOnce } from "../http/repeated_header.ts";
import { problemFor } from "../http/error_middleware.ts";
import { requestIdOf } from "../http/request_id.ts";
import { AppError, ConflictError, DuplicateIdempotencyKeyError, ValidationError, type Issue } from "../shared/errors.ts";
import { encodePosition } from "../shared/position.ts";
import { collectIssues, parseOrThrow, unknownQueryIssues } from "../shared/validation.ts";
import type { Clock } from "./clock.ts";
import { idParams } from "./common_schemas.ts";
import { handle, type CommandResult, type Decider, type EventShape } from "./handle.ts";
import { parseIfMatch } from "./if_match.ts";
import {
  IdempotencyInFlightError, awaitRecordedAnswer, clientKey, locationFor, lookupIdempotency, parseIdempotencyKey, recordNonAppend, requestHash,
  type IdempotentRequest, type StoredAnswer,
} from "./idempotency.ts";

/** What command routes need from the composition root. */
export interface CommandEnv {
  store: EventStore;
  pool: Pool;
  clock: Clock;
  newId: () => string;
}

/** Everything a command's execution gets, already validated. */
export interface CommandInput<P, B> {
  params: P;
  body: B;
  /** The addressed aggregate's id (from the URL, or the body / a new id on creates). */
  id: string;
  ifMatch: readonly number[] | null;
  metadata: EventMetadata;
  idempotency: IdempotencyRecord | undefined;
}

export interface CommandSpec<PS extends z.ZodType, BS extends z.ZodType> {
  /** Koa route template, e.g. `/v1/products/:id/price`. */
  template: string;
  /** Creates answer 201 with Location. */
  create: boolean;
  params: PS;
  body: BS;
  resourceId(params: z.output<PS>, body: z.output<BS>, newId: () => string): string;
  execute(input: CommandInput<z.output<PS>, z.output<BS>>): Promise<CommandResult>;
}

/** Status codes of domain answers that are recorded for idempotent replay. */
const RECORDED_ERRORS = new Set([404, 409, 412, 422]);

function sendAnswer(ctx: Context, answer: StoredAnswer): void {
  for (const [name, value] of Object.entries(answer.headers)) ctx.set(name, value);
  ctx.status = answer.status;
  if (answer.status >= 400) {
    ctx.type = "application/problem+json";
    ctx.body = JSON.stringify(answer.body);
  } else {
    ctx.body = answer.body;
  }
}

async function replayOrConflict(env: CommandEnv, ctx: Context, request: IdempotentRequest, wait: boolean): Promise<void> {
  const answer = wait ? await awaitRecordedAnswer(env.pool, request) : await lookupIdempotency(env.pool, request);
  if (answer === null) throw new ConflictError("A concurrent request with this Idempotency-Key did not finish; try again");
  sendAnswer(ctx, answer);
}

/** A header that may be sent once (sentMoreThanOnce: a repeat is a 400); undefined when absent. */
function onceOnly(ctx: Context, name: string, label: string): string | undefined {
  if (sentMoreThanOnce(ctx.req, name)) throw new ValidationError([{ path: `headers.${label}`, message: "must be sent once" }]);
  return ctx.req.headers[name] as string | undefined;
}

/** Builds the koa handler for one command route. */
export function commandHandler<PS extends z.ZodType, BS extends z.ZodType>(env: CommandEnv, spec: CommandSpec<PS, BS>): Middleware {
  const scope = `POST ${spec.template}`;
  return async (ctx) => {
    const rawParams = { ...(ctx["params"] as Record<string, string> | undefined) };
    // Every part is checked before answering 400, so that it lists every issue.
    const issues: Issue[] = [];
    const params = collectIssues(issues, () => parseOrThrow(spec.params, rawParams, "params"));
    issues.push(...unknownQueryIssues(ctx.query));
    const rawBody = await readJsonBodyInto(ctx, issues);
    const body = rawBody === undefined ? undefined : collectIssues(issues, () => parseOrThrow(spec.body, rawBody));
    const ifMatch = collectIssues(issues, () => parseIfMatch(ctx.get("If-Match")));
    const sentKey = collectIssues(issues, () => parseIdempotencyKey(onceOnly(ctx, "idempotency-key", "Idempotency-Key")));
    if (issues.length > 0 || params === undefined || body === undefined || ifMatch === undefined || sentKey === undefined) throw new ValidationError(issues);
    const key = sentKey === null ? null : clientKey(clientOf(ctx), sentKey);
    const request: IdempotentRequest | null = key === null ? null : { key, scope, requestHash: requestHash("POST", spec.template, rawParams, rawBody) };
    if (request) {
      const stored = await lookupIdempotency(env.pool, request);
      if (stored) return sendAnswer(ctx, stored);
    }
    const id = spec.resourceId(params, body, env.newId);
    const status = spec.create ? 201 : 200;
    const metadata: EventMetadata = {
      occurredAt: env.clock.now().toISOString(),
      correlationId: requestIdOf(ctx),
      causationId: null,
      ...(key === null ? {} : { idempotencyKey: key }),
    };
    const idempotency = request ? { ...request, status, resourceId: id } : undefined;
    let result: CommandResult;
    try {
      result = await spec.execute({ params, body, id, ifMatch, metadata, idempotency });
    } catch (error) {
      if (request === null) throw error;
      if (error instanceof DuplicateIdempotencyKeyError) return replayOrConflict(env, ctx, request, false);
      if (error instanceof IdempotencyInFlightError) return replayOrConflict(env, ctx, request, true);
      if (error instanceof AppError && RECORDED_ERRORS.has(error.status)) {
        const { problem } = problemFor(error);
        const recorded = await recordNonAppend(env.pool, request, { status: error.status, body: problem, resourceId: id, version: null, position: null });
        if (!recorded) return replayOrConflict(env, ctx, request, false);
      }
      throw error;
    }
    const resourceId = result.id ?? id;
    const answer = { id: resourceId, version: result.version, position: encodePosition(result.position) };
    if (request && !result.appended) {
      const recorded = await recordNonAppend(env.pool, request, { status: 200, body: answer, resourceId, version: result.version, position: answer.position });
      if (!recorded) return replayOrConflict(env, ctx, request, false);
    }
    ctx.status = result.appended ? status : 200;
    ctx.set("ETag", `"${result.version}"`);
    if (ctx.status === 201) ctx.set("Location", locationFor(scope, resourceId));
    ctx.body = answer;
  };
}

/** What an update route needs to know about its aggregate. */
export interface AggregateRoutes<C, S, E extends EventShape> {
  /** URL prefix, e.g. `/v1/products`. */
  prefix: string;
  streamOf(id: string): string;
  decider: Decider<C, S, E>;
  /** What the aggregate is called in messages ("Product"). */
  label: string;
}

/** Registers `POST <prefix>/:id/<path>`: parse the body, map it to a command, and handle it on the aggregate's stream. */
export function postUpdate<C, S, E extends EventShape, BS extends z.ZodType>(
  router: Router,
  guard: Middleware,
  env: CommandEnv,
  aggregate: AggregateRoutes<C, S, E>,
  route: { path: string; body: BS; toCommand: (body: z.output<BS>) => NoInfer<C> },
): void {
  const spec: CommandSpec<typeof idParams, BS> = {
    template: `${aggregate.prefix}/:id/${route.path}`,
    create: false,
    params: idParams,
    body: route.body,
    resourceId: (params) => params.id,
    execute: ({ id, body, ifMatch, metadata, idempotency }) =>
      handle({ store: env.store, streamId: aggregate.streamOf(id), decider: aggregate.decider, command: route.toCommand(body), mode: "update", ifMatch, metadata, idempotency, label: aggregate.label }),
  };
  router.post(spec.template, guard, commandHandler(env, spec));
}
