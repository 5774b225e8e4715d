// A user-defined function for Tributary transforms: Flink CDC's `pipeline.user-defined-function`, with a
// JavaScript module in place of a Java class. The module exports `eval` (and, optionally, `returnType`,
// `open` and `close`). Arguments arrive in Tributary's canonical form: DECIMAL as exact text ('12.50'),
// BIGINT as a bigint, NULL as null.

/** The SQL type of the result; STRING when left out. */
export const returnType = 'STRING';

/** `FORMAT_PRICE(price, 'EUR')` → 'EUR 12.50'; NULL price → NULL. */
function formatPrice(amount, currency) {
  if (amount === null) return null;
  return `${currency ?? 'EUR'} ${amount}`;
}

// `eval` cannot be a function's name in an ES module (strict mode), but it can be an export's name.
export { formatPrice as eval };
