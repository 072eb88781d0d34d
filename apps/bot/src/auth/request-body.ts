import { BadRequestException } from '@nestjs/common';
import { Money } from '../users/money.js';

/** Reads small JSON request bodies of the admin endpoints, answering 400 with the field's name on bad input. */
export const RequestBody = {
  object(body: unknown): Record<string, unknown> {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new BadRequestException('the body must be a JSON object');
    return body as Record<string, unknown>;
  },

  /** A positive exact decimal of at most `max`. */
  amount(body: Record<string, unknown>, field: string, max: string): string {
    const value = body[field];
    const text = typeof value === 'number' ? String(value) : value;
    if (typeof text !== 'string' || !Money.isValid(text) || Money.parse(text) === 0n || Money.lessThan(max, text)) {
      throw new BadRequestException(
        `${field} must be a positive decimal of at most ${max} with at most 4 fraction digits, e.g. "5.00"`,
      );
    }
    return text;
  },

  positiveInt(body: Record<string, unknown>, field: string): number {
    const value = body[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
      throw new BadRequestException(`${field} must be a positive integer`);
    return value;
  },

  optionalText(body: Record<string, unknown>, field: string, max = 500): string | undefined {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value.length > max || value.includes('\u0000'))
      throw new BadRequestException(`${field} must be a string of at most ${max} characters, without NUL`);
    return value;
  },
};
