import type { ColumnNode, ExpressionNode } from '../transform/expression/expression-node.js';

/** Walking a query's expressions (the planner's and its rewrites'). */

export function conjuncts(node: ExpressionNode): ExpressionNode[] {
  if (node.kind === 'binary' && node.op === 'AND') return [...conjuncts(node.left), ...conjuncts(node.right)];
  return [node];
}

export function andOf(terms: readonly ExpressionNode[]): ExpressionNode {
  return terms.reduce((left, right) => ({ kind: 'binary', op: 'AND', left, right, start: left.start, end: right.end }));
}

export function childrenOf(node: ExpressionNode): ExpressionNode[] {
  switch (node.kind) {
    case 'column':
    case 'star':
    case 'literal':
      return [];
    case 'call':
      return [...node.args];
    case 'unary':
    case 'isNull':
    case 'isTruth':
    case 'cast':
      return [node.operand];
    case 'binary':
      return [node.left, node.right];
    case 'between':
      return [node.operand, node.low, node.high];
    case 'in':
      return [node.operand, ...node.list];
    case 'inQuery':
      return [node.operand];
    case 'interval':
    case 'exists':
    case 'scalarQuery':
      return [];
    case 'case':
      return [
        ...(node.operand === undefined ? [] : [node.operand]),
        ...node.whens.flatMap((w) => [w.when, w.then]),
        ...(node.else === undefined ? [] : [node.else]),
      ];
  }
}

export function mapChildren(node: ExpressionNode, f: (child: ExpressionNode) => ExpressionNode): ExpressionNode {
  switch (node.kind) {
    case 'column':
    case 'star':
    case 'literal':
      return node;
    case 'call':
      return { ...node, args: node.args.map(f) };
    case 'unary':
    case 'isNull':
    case 'isTruth':
    case 'cast':
      return { ...node, operand: f(node.operand) };
    case 'binary':
      return { ...node, left: f(node.left), right: f(node.right) };
    case 'between':
      return { ...node, operand: f(node.operand), low: f(node.low), high: f(node.high) };
    case 'in':
      return { ...node, operand: f(node.operand), list: node.list.map(f) };
    case 'inQuery':
      return { ...node, operand: f(node.operand) };
    case 'interval':
    case 'exists':
    case 'scalarQuery':
      return node;
    case 'case':
      return {
        ...node,
        ...(node.operand === undefined ? {} : { operand: f(node.operand) }),
        whens: node.whens.map((w) => ({ when: f(w.when), then: f(w.then) })),
        ...(node.else === undefined ? {} : { else: f(node.else) }),
      };
  }
}

export function columnsOf(node: ExpressionNode): ColumnNode[] {
  return columnsAndCalls(node).filter((n): n is ColumnNode => n.kind === 'column');
}

export function columnsAndCalls(node: ExpressionNode): ExpressionNode[] {
  const out: ExpressionNode[] = [];
  const visit = (n: ExpressionNode) => {
    if (n.kind === 'column' || n.kind === 'call') out.push(n);
    for (const child of childrenOf(n)) visit(child);
  };
  visit(node);
  return out;
}
