import type { ChangeEvent } from './change-event.js';

/**
 * A stage between source and sink (route, projection, …). It receives batches in source order and returns
 * the events to pass on, in order. Operators keep per-table plans, rebuilt on each schema event.
 */
export interface Operator {
  process(events: readonly ChangeEvent[]): readonly ChangeEvent[];
}
