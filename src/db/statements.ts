/**
 * Statements parsed and planned once per PostgreSQL session instead of at every call.
 *
 * A statement sent as text is parsed, analyzed and planned each time it runs. For the
 * projection tasks of a live service (a few events each) that was most of their cost in
 * PostgreSQL: at 100 placed orders/s, 43% of the projection backends' CPU went to parsing
 * and planning their ~5 statements per task (perf). Two forms avoid it:
 *
 * - `named()`: a protocol-level prepared statement (pg prepares it on a connection the first
 *   time that connection runs it), for statements sent with parameters on their own.
 * - `SessionStatements`: SQL-level `PREPARE` / `EXECUTE`, for statements sent together in one
 *   simple-protocol message (one round trip for several statements, which the extended
 *   protocol of node-postgres cannot do): `EXECUTE name(literal, …)` is parsed in a few
 *   microseconds and runs the session's cached plan.
 *
 * Either way PostgreSQL re-plans by itself when a table the statement uses changes (a new
 * index, a dropped and re-created table).
 */
import type pg from "pg";

const protocolNames = new Map<string, string>();

/** A query config that has pg prepare `text` once per connection (one name per distinct text). */
export function named(text: string, values: readonly unknown[]): pg.QueryConfig {
  let name = protocolNames.get(text);
  if (name === undefined) {
    name = `prepared_${protocolNames.size + 1}`;
    protocolNames.set(text, name);
  }
  return { name, text, values: values as unknown[] };
}

/**
 * SQL-level prepared statements of the sessions of one pool. A statement is prepared on a
 * connection with a `PREPARE` of its own the first time it is needed there, so the
 * bookkeeping is exact (a `PREPARE` outlives a rolled-back transaction, and one inside a
 * failed multi-statement message may or may not have run).
 */
export class SessionStatements {
  readonly #prefix: string;
  readonly #names = new Map<string, string>();
  readonly #prepared = new WeakMap<pg.ClientBase, Set<string>>();

  /** `prefix` names the statements (`<prefix>_1`, …): distinct per user of the same connections. */
  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** The statement's name, the same for the same text. */
  nameOf(sql: string): string {
    let name = this.#names.get(sql);
    if (name === undefined) {
      name = `${this.#prefix}_${this.#names.size + 1}`;
      this.#names.set(sql, name);
    }
    return name;
  }

  /**
   * Prepares on `client` whichever of these statements its session has not prepared yet
   * (parameters $1, $2, … typed by their use in the text, e.g. `$3::int[]`), one round trip
   * each, the first time only.
   */
  async prepare(client: pg.ClientBase, sqls: readonly string[]): Promise<void> {
    let done = this.#prepared.get(client);
    for (const sql of sqls) {
      const name = this.nameOf(sql);
      if (done?.has(name)) continue;
      await client.query(`PREPARE ${name} AS ${sql}`);
      if (!done) {
        done = new Set();
        this.#prepared.set(client, done);
      }
      done.add(name);
    }
  }

  /** `EXECUTE` of a statement prepared with prepare(), its parameters given as SQL literals (escaped by the caller). */
  execute(sql: string, literals: readonly string[]): string {
    return `EXECUTE ${this.nameOf(sql)}(${literals.join(", ")})`;
  }
}
