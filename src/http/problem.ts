/**
 * problem+json bodies: the one shape every error answer has.
 */
import type { Context } from "koa";
import type { Issue } from "../shared/errors.ts";

/** The problem+json body of the contract. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: Issue[];
}

/** Writes a problem+json answer on the context (status, content type and body). */
export function sendProblem(ctx: Context, problem: ProblemBody): void {
  ctx.status = problem.status;
  ctx.type = "application/problem+json";
  ctx.body = JSON.stringify(problem);
}
