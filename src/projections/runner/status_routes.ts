/** The operator route `GET /v1/projections` (scope `operator`). */
import { z } from "zod";
import type { RouteModule } from "../../http/route_module.ts";
import { FLUSH_EVENTS, FLUSH_NEW_ROWS, FLUSH_ROWS } from "../bulk/build.ts";
import { ValidationError } from "../../shared/errors.ts";
import { unknownQueryIssues } from "../../shared/validation.ts";
import { CAUGHT_UP_LAG, HELD_BACK_MS, type ProjectionStatusItem } from "./status.ts";

const statusItem = z.object({
  name: z.string(),
  version: z.number().int(),
  status: z.enum(["running", "catching_up", "rebuilding", "stopped", "failed"]),
  position: z.string(),
  headPosition: z.string(),
  lagEvents: z.number().int(),
  parkedEvents: z.number().int(),
  rebuild: z.object({ version: z.number().int(), position: z.string(), progress: z.number().min(0).max(1) }).nullable(),
});

/** A number as the description writes it (1,500). */
const count = (value: number): string => value.toLocaleString("en-US");

/** Builds the route module that answers the projections' status. */
export function projectionStatusRoutes(status: () => Promise<{ items: ProjectionStatusItem[] }>): RouteModule {
  return {
    register(router, context) {
      router.get("/v1/projections", context.requireScope("operator"), async (ctx) => {
        // It takes no parameters: a misspelt one is a 400, as on every other route.
        if (ctx.querystring !== "") throw new ValidationError(unknownQueryIssues(ctx.query));
        ctx.body = await status();
      });
    },
    docs: [
      {
        method: "get",
        path: "/v1/projections",
        summary: "Projection status",
        description:
          "Serving version, low watermark, head position, lag and parked events of every projection. `status`: `running` follows the " +
          "log (a lag of a few events is the milliseconds between an append and its projection); `catching_up` is more than " +
          `${count(CAUGHT_UP_LAG)} events behind, or has deferred secondary indexes still to build, or has events it cannot read yet behind a ` +
          `transaction open on the server for over ${count(HELD_BACK_MS)} ms; \`stopped\` is led by no running process (or built by a ` +
          "definition no longer in the code: a replay is needed); `failed` stopped on an error. `status` is `rebuilding` while a " +
          "replay of it runs (in any process); a `rebuild` object with another status is a replay that stopped before switching over " +
          "(its process ended): it does not run until a replay of that projection is started again, which resumes it. `lagEvents` " +
          "is exact up to 10,000 events; a longer lag is estimated from the log's sequence numbers (it can only over-count, by " +
          "appends that were rolled back). A projection far behind (a new one over a long history, a replay) builds in bulk: its " +
          `\`position\` and \`rebuild.progress\` then move once per flush (every ${count(FLUSH_NEW_ROWS)} new rows, ${count(FLUSH_ROWS)} rows in all or ${count(FLUSH_EVENTS)} events) ` +
          "rather than per batch. It takes no query parameters (any is a 400).",
        tags: ["operations"],
        scope: "operator",
        responses: {
          200: { description: "Status of every projection", schema: z.object({ items: z.array(statusItem) }) },
          400: { description: "A query parameter was sent (the route takes none); every one is listed" },
          503: { description: "PostgreSQL is unavailable; retry after Retry-After seconds", headers: { "Retry-After": "seconds" } },
        },
      },
    ],
  };
}
