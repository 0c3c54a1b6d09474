/** The operator route `POST /v1/projections/{name}/replay` (scope `operator`): starts a replay in the background. */
import { z } from "zod";
import { readJsonBodyInto } from "../../http/body.ts";
import type { RouteModule } from "../../http/route_module.ts";
import { ValidationError, type Issue } from "../../shared/errors.ts";
import { collectIssues, parseOrThrow, unknownQueryIssues } from "../../shared/validation.ts";

/** The route takes no fields: an empty body (or `{}`). */
const replayBody = z.strictObject({});
const replayParams = z.object({ name: z.string() });

const accepted = z.object({ name: z.string(), version: z.number().int(), status: z.literal("rebuilding") });
export type ReplayAccepted = z.infer<typeof accepted>;

/** Builds the route module; `start` throws NotFoundError (404) or ReplayRunningError (409). */
export function projectionReplayRoutes(start: (name: string) => Promise<ReplayAccepted>): RouteModule {
  return {
    register(router, context) {
      router.post("/v1/projections/:name/replay", context.requireScope("operator"), async (ctx) => {
        // Like a command: JSON only (415), strict (400 listing every issue), before anything starts.
        const issues: Issue[] = [...unknownQueryIssues(ctx.query)];
        const body = await readJsonBodyInto(ctx, issues);
        if (body !== undefined) collectIssues(issues, () => parseOrThrow(replayBody, body));
        if (issues.length > 0) throw new ValidationError(issues);
        ctx.status = 202;
        ctx.body = await start(String(ctx.params["name"]));
      });
    },
    docs: [
      {
        method: "post",
        path: "/v1/projections/{name}/replay",
        summary: "Replay a projection",
        description:
          "Rebuilds the projection from the start of the log into its next physical version with the definition in code, " +
          "while the serving version keeps serving and following live events; switches over atomically once caught up and " +
          "drops the old version after a grace period. Resumes an interrupted replay. Progress: GET /v1/projections (`rebuild`).",
        tags: ["operations"],
        scope: "operator",
        params: replayParams,
        body: replayBody,
        responses: {
          202: { description: "Replay started in the background", schema: accepted },
          400: { description: "A body with fields, not JSON, or a query parameter (every issue listed)" },
          415: { description: "A body that is not application/json" },
          404: { description: "Unknown projection" },
          409: { description: "A replay of this projection is already running" },
          413: { description: "A body larger than 64 KiB (the route takes none); the connection is closed" },
          503: { description: "PostgreSQL is unavailable; retry after Retry-After seconds", headers: { "Retry-After": "seconds" } },
        },
      },
    ],
  };
}
