import { seededRandom } from './seeded-random.js';

/**
 * Seed 004's three source tables as the SQL benches make them (issue 12): N source rows, 1 % customers, 2 % sites, the
 * rest orders; then a stream of changes — 40 % new orders, 20 % cancelled orders, 30 % orders moved to another site,
 * 5 % sites moved to another customer, 5 % customers changing segment — from a fixed seed, so that every bench that
 * uses it sees the same rows and the same changes in the same order. Plain numbers and strings: each bench turns them
 * into what it feeds (change events for the SQL stage, statements for PostgreSQL).
 */

export const SEGMENTS = ['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'HOUSEHOLD', 'MACHINERY'] as const;

export interface SalesdbShape {
  readonly customers: number;
  readonly sites: number;
  readonly orders: number;
}

export function salesdbShape(rows: number): SalesdbShape {
  const customers = Math.max(1, Math.floor(rows / 100));
  const sites = customers * 2;
  return { customers, sites, orders: rows - customers - sites };
}

/** A customer's segment as loaded. */
export const loadedSegment = (customer: number): string => SEGMENTS[customer % 5]!;
/** A site's customer as loaded. */
export const loadedOwner = (shape: SalesdbShape, site: number): number => 1 + ((site - 1) % shape.customers);
/** An order's site as loaded. */
export const loadedSite = (shape: SalesdbShape, order: number): number => 1 + ((order - 1) % shape.sites);

/** One change, with the values before and after it. */
export type SalesdbChange =
  | { readonly kind: 'order-insert'; readonly order: number; readonly site: number }
  | { readonly kind: 'order-delete'; readonly order: number; readonly site: number }
  | { readonly kind: 'order-move'; readonly order: number; readonly from: number; readonly to: number }
  | { readonly kind: 'site-move'; readonly site: number; readonly from: number; readonly to: number }
  | { readonly kind: 'customer-segment'; readonly customer: number; readonly from: string; readonly to: string };

/** The changes after the load, at most `count` of them (see {@link next}). */
export class SalesdbChanges {
  private readonly random = seededRandom(42);
  private readonly siteOwner: Int32Array;
  /** Each order's site (0: deleted); new orders get the ids after the loaded ones. */
  private readonly orderSite: Int32Array;
  private readonly segmentOf = new Map<number, string>();
  private nextOrder: number;

  constructor(
    private readonly shape: SalesdbShape,
    count: number,
    /** Only the orders change (new, cancelled, moved in the same proportions): no site or customer does. */
    private readonly ordersOnly = false,
  ) {
    this.siteOwner = new Int32Array(shape.sites + 1);
    for (let s = 1; s <= shape.sites; s++) this.siteOwner[s] = loadedOwner(shape, s);
    this.orderSite = new Int32Array(shape.orders + count + 1);
    for (let o = 1; o <= shape.orders; o++) this.orderSite[o] = loadedSite(shape, o);
    this.nextOrder = shape.orders + 1;
  }

  /** The next change; undefined when the draw picked an order already deleted (it counts as a draw, not a change). */
  next(): SalesdbChange | undefined {
    const { shape, orderSite, siteOwner } = this;
    const roll = this.ordersOnly ? this.random() * 0.9 : this.random();
    if (roll < 0.4) {
      const order = this.nextOrder++;
      const site = 1 + Math.floor(this.random() * shape.sites);
      orderSite[order] = site;
      return { kind: 'order-insert', order, site };
    }
    if (roll < 0.6) {
      const order = 1 + Math.floor(this.random() * (this.nextOrder - 1));
      const site = orderSite[order]!;
      if (site === 0) return undefined;
      orderSite[order] = 0;
      return { kind: 'order-delete', order, site };
    }
    if (roll < 0.9) {
      const order = 1 + Math.floor(this.random() * (this.nextOrder - 1));
      const from = orderSite[order]!;
      if (from === 0) return undefined;
      const to = 1 + Math.floor(this.random() * shape.sites);
      orderSite[order] = to;
      return { kind: 'order-move', order, from, to };
    }
    if (roll < 0.95) {
      const site = 1 + Math.floor(this.random() * shape.sites);
      const to = 1 + Math.floor(this.random() * shape.customers);
      const from = siteOwner[site]!;
      siteOwner[site] = to;
      return { kind: 'site-move', site, from, to };
    }
    const customer = 1 + Math.floor(this.random() * shape.customers);
    const from = this.segmentOf.get(customer) ?? loadedSegment(customer);
    const to = SEGMENTS[Math.floor(this.random() * 5)]!;
    this.segmentOf.set(customer, to);
    return { kind: 'customer-segment', customer, from, to };
  }
}
