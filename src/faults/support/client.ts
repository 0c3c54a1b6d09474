/**
 * HTTP helpers for fault tests: every call is bounded by a timeout and never throws; a
 * network failure or timeout answers status 0 with the error's name.
 */
import { SERVICE_TOKEN } from "../../testing/service_process.ts";

export interface Answer {
  status: number;
  body: unknown;
  headers: Headers | null;
  /** Set when no HTTP answer came (connection refused, reset, timeout). */
  error: string | null;
  ms: number;
}

async function call(url: string, init: RequestInit, timeoutMs: number): Promise<Answer> {
  const started = performance.now();
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (metrics)
    }
    return { status: response.status, body, headers: response.headers, error: null, ms: performance.now() - started };
  } catch (error) {
    const name = (error as Error).name === "TimeoutError" ? "timeout" : ((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message);
    return { status: 0, body: null, headers: null, error: name, ms: performance.now() - started };
  }
}

/** POSTs a command with the fault token and an optional Idempotency-Key. */
export function sendCommand(base: string, path: string, body: unknown, options: { key?: string; timeoutMs?: number } = {}): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${SERVICE_TOKEN}`, "content-type": "application/json" };
  if (options.key) headers["idempotency-key"] = options.key;
  return call(`${base}${path}`, { method: "POST", headers, body: JSON.stringify(body) }, options.timeoutMs ?? 15_000);
}

/** GETs a route (with the fault token, harmless on public routes). */
export function sendQuery(base: string, path: string, options: { timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<Answer> {
  return call(`${base}${path}`, { headers: { authorization: `Bearer ${SERVICE_TOKEN}`, ...options.headers } }, options.timeoutMs ?? 15_000);
}

/** Polls `check` until it returns true or the bound passes; returns whether it did. */
export async function eventually(check: () => Promise<boolean>, options: { timeoutMs: number; intervalMs?: number }): Promise<boolean> {
  const deadline = performance.now() + options.timeoutMs;
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
  return false;
}

/** Sleeps for a while. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
