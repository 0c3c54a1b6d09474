import { describe, expect, it } from "vitest";
import { clientOf, clientTag, createAuthenticator } from "./auth.ts";

/** Runs requireScope("commands") on a request with this Authorization; the state it leaves, or the error. */
async function authenticate(tokens: Parameters<typeof createAuthenticator>[0], authorization: string): Promise<{ state: Record<string, unknown> } | Error> {
  const ctx = { state: {} as Record<string, unknown>, get: (name: string) => (name === "Authorization" ? authorization : "") };
  try {
    await createAuthenticator(tokens).requireScope("commands")(ctx as never, async () => undefined);
    return ctx;
  } catch (error) {
    return error as Error;
  }
}

describe("client tags (one idempotency key space per client)", () => {
  it("tags a configured token's requests with a stable tag from its hash, never the token", async () => {
    const ctx = await authenticate([{ token: "secret-a", scopes: ["commands"] }, { token: "secret-b", scopes: ["commands"] }], "Bearer secret-a");
    expect(ctx).not.toBeInstanceOf(Error);
    const tag = clientOf(ctx as { state: unknown });
    expect(tag).toBe(clientTag("secret-a"));
    expect(tag).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(tag).not.toBe(clientTag("secret-b"));
    expect(tag).not.toContain("secret");
  });

  it("gives a generated token's requests no tag: its key space outlives the token, which changes at every start", async () => {
    const ctx = await authenticate([{ token: "generated-1", scopes: ["commands", "operator"], generated: true }], "Bearer generated-1");
    expect(clientOf(ctx as { state: unknown })).toBeNull();
  });

  it("sets nothing for a request it refuses", async () => {
    expect(await authenticate([{ token: "secret-a", scopes: ["operator"] }], "Bearer secret-a")).toMatchObject({ status: 403 });
    expect(await authenticate([{ token: "secret-a", scopes: ["commands"] }], "Bearer nope")).toMatchObject({ status: 401 });
  });
});

describe("verified authorization values", () => {
  it("answers a repeated value as the first time, keeps refusing unknown ones, and keeps scopes apart", async () => {
    const auth = createAuthenticator([{ token: "cmd", scopes: ["commands"] }, { token: "op", scopes: ["operator"] }]);
    const run = async (authorization: string, scope: "commands" | "operator") => {
      const ctx = { state: {} as Record<string, unknown>, get: (name: string) => (name === "Authorization" ? authorization : "") };
      try {
        await auth.requireScope(scope)(ctx as never, async () => undefined);
        return clientOf(ctx);
      } catch (error) {
        return (error as Error).constructor.name;
      }
    };
    for (let round = 0; round < 3; round++) {
      expect(await run("Bearer cmd", "commands")).toBe(clientTag("cmd"));
      expect(await run("bearer  cmd", "commands")).toBe(clientTag("cmd"));
      expect(await run("Bearer cmd", "operator")).toBe("ForbiddenError");
      expect(await run("Bearer op", "operator")).toBe(clientTag("op"));
      expect(await run("Bearer cmdx", "commands")).toBe("UnauthorizedBearerError");
      expect(await run("Bearer cm", "commands")).toBe("UnauthorizedBearerError");
      expect(auth.knownToken("Bearer cmd")).toBe("cmd");
      expect(auth.knownToken("Bearer nope")).toBeNull();
    }
    // Many distinct valid spellings: the remembered set stays bounded and answers stay right.
    for (let spaces = 1; spaces < 200; spaces++) expect(await run(`Bearer${" ".repeat(spaces)}cmd`, "commands")).toBe(clientTag("cmd"));
    expect(await run("Bearer cmd", "commands")).toBe(clientTag("cmd"));
  });
});
