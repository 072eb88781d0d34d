/** One calendar day in a time zone. */
export interface DayWindow {
  /** `YYYY-MM-DD` in the zone. */
  day: string;
  timeZone: string;
  /** The day's first millisecond (local midnight), epoch ms. */
  start: number;
  /** The next local midnight, epoch ms. */
  end: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();

function format(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formats.set(timeZone, f);
  }
  return f;
}

/** Whether `timeZone` is an IANA zone this runtime knows (e.g. 'Europe/Prague'). */
export function isTimeZone(timeZone: string): boolean {
  if (timeZone.length > 64) return false;
  try {
    format(timeZone);
    return true;
  } catch (err) {
    if (err instanceof RangeError) return false;
    throw err;
  }
}

/** The wall-clock fields of `at` in the zone. */
function local(at: number, timeZone: string): { y: number; m: number; d: number; h: number; min: number; s: number } {
  const parts: Record<string, number> = {};
  for (const p of format(timeZone).formatToParts(at)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return {
    y: parts['year']!,
    m: parts['month']!,
    d: parts['day']!,
    h: parts['hour']!,
    min: parts['minute']!,
    s: parts['second']!,
  };
}

/** The zone's offset from UTC at `at`, ms (east positive). */
function offset(at: number, timeZone: string): number {
  const l = local(at, timeZone);
  return Date.UTC(l.y, l.m - 1, l.d, l.h, l.min, l.s) - Math.floor(at / 1000) * 1000;
}

/** The instant of local midnight starting the local date y-m-d (the offset may change that day: DST). */
function midnight(y: number, m: number, d: number, timeZone: string): number {
  const guess = Date.UTC(y, m - 1, d);
  const first = guess - offset(guess, timeZone);
  return guess - offset(first, timeZone);
}

/**
 * The day `at` falls in, in `timeZone` (UTC when null), with its bounds.
 * @example dayWindow(Date.UTC(2026, 11, 5, 23, 30), 'Europe/Prague').day // '2026-12-06'
 */
export function dayWindow(at: number, timeZone: string | null): DayWindow {
  const zone = timeZone ?? 'UTC';
  const l = local(at, zone);
  const start = midnight(l.y, l.m, l.d, zone);
  const next = new Date(Date.UTC(l.y, l.m - 1, l.d + 1));
  const end = midnight(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), zone);
  const day = `${l.y}-${String(l.m).padStart(2, '0')}-${String(l.d).padStart(2, '0')}`;
  return { day, timeZone: zone, start, end };
}
