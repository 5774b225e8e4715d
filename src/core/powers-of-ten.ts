/**
 * 10^0 … 10^15, each exact as a double and written out (`10 ** k` is not promised to be exact). With a safe
 * integer m, m / 10^k is then the correctly rounded quotient — the double nearest the decimal m·10^-k — which the
 * text decoders (reading decimals) and the COPY writer (writing doubles) rely on.
 */
export const EXACT_POWERS_OF_TEN: readonly number[] = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];
