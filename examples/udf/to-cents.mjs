// `TO_CENTS(price)` → the price in cents as a BIGINT, computed exactly from the decimal text
// ('12.50' → 1250): a JavaScript number would round large amounts.

export const returnType = 'BIGINT';

function toCents(amount) {
  if (amount === null) return null;
  const [whole, fraction = ''] = String(amount).split('.');
  const negative = whole.startsWith('-');
  const cents = BigInt(whole.replace('-', '')) * 100n + BigInt((fraction + '00').slice(0, 2));
  return negative ? -cents : cents;
}

export { toCents as eval };
