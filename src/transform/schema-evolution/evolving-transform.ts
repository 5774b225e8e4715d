import type { ChangeEvent } from '../../core/change-event.js';
import type { Operator } from '../../core/operator.js';
import type { TransformOperator } from '../transform-operator.js';
import type { SchemaEvolutionOperator } from './schema-evolution-operator.js';

/**
 * The route/transform stage followed by the schema-evolution stage, as one operator: the transform tells the
 * evolution stage which source table each routed event comes from, which the events themselves no longer say
 * (their table is the sink table).
 */
export class EvolvingTransform implements Operator {
  constructor(
    readonly transform: TransformOperator,
    readonly evolution: SchemaEvolutionOperator,
  ) {}

  process(events: readonly ChangeEvent[]): ChangeEvent[] {
    const origins: ChangeEvent[] = [];
    const routed = this.transform.process(events, origins);
    return this.evolution.process(routed, origins);
  }
}

export function evolvingTransform(transform: TransformOperator, evolution: SchemaEvolutionOperator): EvolvingTransform {
  return new EvolvingTransform(transform, evolution);
}
