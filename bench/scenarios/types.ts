import type { Options } from "../lib/options.ts";
import type { Scope } from "../lib/procs.ts";
import type { Services } from "../lib/stack.ts";
import type { Figure } from "../lib/stats.ts";

export interface ScenarioContext {
  opts: Options;
  services: Services;
  /** The scenario's children: all stopped when it ends, fails or times out. */
  scope: Scope;
  log(text: string): void;
}

/** One line of the results table: a figure of the system, its baseline, and issue 9's target for it. */
export interface Row {
  label: string;
  value: Figure;
  baseline?: { label: string; value: Figure };
  /**
   * `met` null: not judged here (a smaller run than the target's, or a figure the issue only asks to
   * see: then `reported`).
   */
  target?: {
    text: string;
    met: boolean | null;
    note?: string;
    reported?: boolean;
    /** When not met: the reason, from figures measured in the same runs, and what would meet it. */
    why?: string;
  };
}

export interface ScenarioOutcome {
  params: Record<string, number | string>;
  rows: Row[];
  notes: string[];
  /** What each run measured, as the load generators reported it. */
  details: unknown[];
}

export interface Scenario {
  name: string;
  title: string;
  run(ctx: ScenarioContext): Promise<ScenarioOutcome>;
}
