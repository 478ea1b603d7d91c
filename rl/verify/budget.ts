/**
 * A per-comparison deadline. The compute engine and the evaluators are synchronous, so a comparison cannot be
 * pre-empted; instead every loop that can repeat (sample points, element matching, list items) checks the clock,
 * and input sizes are capped so a single step stays small (see latex.ts).
 */

import { CoopError } from "../../shared/mod.ts";

/** The deadline of one verification, as a `performance.now()` time. */
export interface Budget {
  deadline: number;
}

/** Thrown when a verification runs past its deadline; `verify` turns it into an "unparseable" verdict. */
export class VerifyTimeout extends CoopError {
  override name = "VerifyTimeout";
  constructor(readonly ms: number) {
    super(`verification took longer than ${ms} ms`);
  }
}

let active: Budget | undefined;

/** Runs `fn` with `budget` as the deadline that {@link checkActiveBudget} checks (verification is synchronous). */
export function withBudget<T>(budget: Budget, fn: () => T): T {
  const previous = active;
  active = budget;
  try {
    return fn();
  } finally {
    active = previous;
  }
}

/** Checks the deadline of the verification in progress, if any (used before each engine parse). */
export function checkActiveBudget(): void {
  if (active !== undefined) checkBudget(active);
}

/** Moves the current verification's deadline `ms` later (for one-time costs that are not the comparison's). */
export function extendActiveBudget(ms: number): void {
  if (active !== undefined) active.deadline += ms;
}

/** A budget that ends `ms` milliseconds from now. */
export function budgetOf(ms: number): Budget & { ms: number } {
  return { deadline: performance.now() + ms, ms };
}

/** Throws {@link VerifyTimeout} once the deadline has passed. */
export function checkBudget(budget: Budget): void {
  if (performance.now() > budget.deadline) {
    throw new VerifyTimeout((budget as { ms?: number }).ms ?? 0);
  }
}
