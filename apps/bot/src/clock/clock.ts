/**
 * The bot's notion of "now" (what /stats calls today). Injected, so a test can move it across midnight; replace the
 * provider through `AppModule.forRoot({ clock })`.
 * @example class FixedClock extends Clock { override now() { return Date.UTC(2026, 11, 5, 23, 59) } }
 */
export class Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number {
    return Date.now();
  }
}
