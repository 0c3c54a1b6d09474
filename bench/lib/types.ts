/** The shapes every scenario produces: measurements, comparisons against same-run baselines, results. */

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** One measured run: a subject or a baseline at one concurrency. */
export interface Measurement {
  label: string;
  role: "subject" | "baseline";
  /** Concurrent connections/lanes; null for one bulk operation. */
  connections: number | null;
  durationS: number;
  operations: number;
  /** operations per second */
  throughput: number;
  /** What one operation is: "req", "insert", "row", "append", "event", ... */
  unit: string;
  /** Latency in milliseconds; null where one operation is the whole run (COPY). */
  latencyMs: LatencySummary | null;
  /** Failed operations (connection errors, exceptions, non-2xx/3xx responses). */
  errors: number;
  /** Status code → count for HTTP runs. */
  statusCodes?: Record<string, number>;
  /** Peak resident set size (VmHWM) of the measured process, bytes; null when unknown (external target). */
  peakRssBytes: number | null;
  /** Which process `peakRssBytes` belongs to. */
  rssOf?: string;
  notes?: string;
}

/** subject.throughput / baseline.throughput, with an optional goal (minimum ratio). */
export interface Comparison {
  subject: string;
  baseline: string;
  ratio: number;
  goal?: number;
  met?: boolean;
}

/** A latency goal on one measurement's percentile (e.g. visible-after p99 ≤ 50 ms). */
export interface LatencyGoal {
  measurement: string;
  percentile: "p50" | "p95" | "p99";
  goalMs: number;
  /** Null when the measurement has no latencies (then the goal is not met). */
  valueMs: number | null;
  met: boolean;
}

/** A value that must stay at or under a limit (errors = 0, RSS growth ≤ 10%, ...). */
export interface LimitGoal {
  /** What is checked, e.g. "errors (reads + writes)". */
  check: string;
  /** Null when it could not be measured (then the goal is not met). */
  value: number | null;
  /** The goal: value ≤ max. */
  max: number;
  /** Unit appended to value and max ("", " %", " ms"). */
  unit: string;
  met: boolean;
  /** What the value was computed from (shown after it). */
  detail?: string;
}

export interface MachineInfo {
  nproc: number;
  memoryBytes: number;
  cpuModel: string;
  node: string;
  postgres: string | null;
  platform: string;
}

export interface ScenarioResult {
  scenario: string;
  description: string;
  startedAt: string;
  /** True for short runs on tiny data (--smoke or duration under 5 s): not results. */
  smoke: boolean;
  machine: MachineInfo;
  params: Record<string, unknown>;
  measurements: Measurement[];
  comparisons: Comparison[];
  /** Latency goals checked on this run's measurements. */
  latencyGoals?: LatencyGoal[];
  /** Other goals checked on this run (counts, growth). */
  limitGoals?: LimitGoal[];
  /** Set when the scenario could not run (with the reason). */
  skipped?: string;
}

/** Options shared by all scenarios (from the command line). */
export interface BenchOptions {
  durationS: number;
  /** True when --duration was given (scenarios with their own default duration use it only then). */
  durationSet: boolean;
  /** Requests per second for open-loop scenarios that take one (--rate); null: the scenario's default. */
  rate: number | null;
  /** Length of the soak in minutes (--soak-minutes); null: the scenario's default. */
  soakMinutes: number | null;
  /** Connection counts to measure at; scenarios pick from these. */
  connections: number[];
  /** Seed size for scenarios that need data. */
  events: number;
  /** Products to seed instead of the number that goes with `events` (one per 200 events); their own events come on top. */
  products: number | null;
  /** External service URL (skips starting one; no RSS then). */
  url: string | null;
  /** Bearer token for the external service. */
  token: string | null;
  databaseUrl: string;
  smoke: boolean;
  /** Response size for the http floor when a scenario does not pick its own. */
  bodyBytes: number;
  /** Rows for copy-floor. */
  rows: number;
  /** Projection for replay. */
  projection: string | null;
  log: (line: string) => void;
}

export interface Scenario {
  name: string;
  description: string;
  run(options: BenchOptions): Promise<Omit<ScenarioResult, "startedAt" | "machine" | "smoke" | "scenario" | "description">>;
}
