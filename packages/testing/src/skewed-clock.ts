/**
 * Preloaded (`node --import`) into an app process whose host clock must read wrong: every `Date` it
 * makes, and `Date.now()`, are `CLOCK_SKEW_MS` off (negative: late). How a test shows that the
 * system judges time on one clock (the database's), not on each host's.
 */
const skewMs = Number(process.env.CLOCK_SKEW_MS ?? "0");
const HostDate = Date;
const hostNow = Date.now.bind(Date);

class SkewedDate extends HostDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(hostNow() + skewMs);
    else super(...(args as [string | number | Date]));
  }

  static override now(): number {
    return hostNow() + skewMs;
  }
}

globalThis.Date = SkewedDate as DateConstructor;
