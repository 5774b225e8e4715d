import type { ChangeEvent, SchemaChangeEvent } from '../../core/change-event.js';
import type { Operator, OperatorState } from '../../core/operator.js';
import type { StreamEvent } from '../../core/packed-rows.js';
import type { TransformOperator } from '../transform-operator.js';
import type { SchemaEvolutionOperator } from './schema-evolution-operator.js';

/**
 * The route/transform stage followed by the schema-evolution stage, as one operator: the transform tells the
 * evolution stage which source table each routed event comes from, which the events themselves no longer say
 * (their table is the sink table). Its state across restarts is the evolution stage's; the transform rebuilds
 * its plans from each attempt's createTable events.
 */
export class EvolvingTransform implements Operator {
  constructor(
    readonly transform: TransformOperator,
    readonly evolution: SchemaEvolutionOperator,
  ) {}

  process(events: readonly ChangeEvent[]): readonly ChangeEvent[] {
    // Without rules the transform would only copy the events: each event is its own origin.
    if (this.transform.passesThrough) return this.evolution.process(events);
    const origins: ChangeEvent[] = [];
    const routed = this.transform.process(events, origins);
    return this.evolution.process(routed, origins);
  }

  /** Packed snapshot reads pass where no rule or route applies and the sink table needs no mapping. */
  processPacked(events: readonly StreamEvent[]): readonly StreamEvent[] {
    if (this.transform.passesThrough) return this.evolution.processPacked(events);
    const origins: StreamEvent[] = [];
    const routed = this.transform.processPacked(events, origins);
    return this.evolution.processPacked(routed, origins);
  }

  snapshotState(): OperatorState {
    return this.evolution.snapshotState();
  }

  restoreState(state: OperatorState): void {
    this.evolution.restoreState(state);
  }

  schemaChangeFailed(event: SchemaChangeEvent): boolean {
    return this.evolution.schemaChangeFailed(event);
  }
}

export function evolvingTransform(transform: TransformOperator, evolution: SchemaEvolutionOperator): EvolvingTransform {
  return new EvolvingTransform(transform, evolution);
}
