const PATTERN = /^(\d{1,14})(?:\.(\d{1,4}))?$/;
const SCALE = 4;
const UNIT = 10n ** BigInt(SCALE);

/**
 * Exact decimal amounts (balances, prices) as strings, the way PostgreSQL's numeric returns them. Arithmetic that
 * changes stored balances happens in SQL; this only parses, compares and formats, in integer ten-thousandths.
 */
export const Money = {
  /** Whether `value` is a non-negative decimal with at most 4 fraction digits (`'0.05'`, `'12'`). */
  isValid(value: string): boolean {
    return PATTERN.test(value);
  },

  /** Ten-thousandths as a bigint; accepts a leading '-' (a numeric column can hold one). @example Money.parse('0.05') // 500n */
  parse(value: string): bigint {
    const negative = value.startsWith('-');
    const match = PATTERN.exec(negative ? value.slice(1) : value);
    if (!match?.[1]) throw new RangeError(`not a decimal amount: ${JSON.stringify(value)}`);
    const units = BigInt(match[1]) * UNIT + BigInt((match[2] ?? '').padEnd(SCALE, '0'));
    return negative ? -units : units;
  },

  /** `a < b`, exactly. */
  lessThan(a: string, b: string): boolean {
    return Money.parse(a) < Money.parse(b);
  },

  /** Canonical text with at least 2 fraction digits. @example Money.format('0.9500') // '0.95' */
  format(value: string): string {
    const units = Money.parse(value);
    const negative = units < 0n;
    const abs = negative ? -units : units;
    const fraction = (abs % UNIT).toString().padStart(SCALE, '0').replace(/0+$/, '');
    return `${negative ? '-' : ''}${abs / UNIT}.${fraction.padEnd(2, '0')}`;
  },
};
