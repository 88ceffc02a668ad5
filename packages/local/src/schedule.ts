/**
 * EventBridge schedule expressions, evaluated in UTC as EventBridge does: `rate(5 minutes)` and
 * `cron(minutes hours day-of-month month day-of-week year)`.
 *
 * Written here because the common cron libraries speak Unix cron (five fields, Sunday = 0, no
 * `?`, no year); EventBridge's dialect differs in each of those.
 */
export interface Schedule {
  /** The first fire time strictly after `after`. */
  next(after: Date): Date;
}

const monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/** Parses one cron field into the set of values it allows, or `undefined` for `?`. */
function field(text: string, min: number, max: number, names: string[] = [], nameBase = min): Set<number> | undefined {
  if (text === "?") return undefined;
  const values = new Set<number>();
  const value = (token: string) => {
    const byName = names.indexOf(token.toUpperCase());
    const n = byName >= 0 ? byName + nameBase : Number(token);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`"${token}" is outside ${min}-${max}`);
    return n;
  };
  for (const part of text.split(",")) {
    if (/^(L|LW|L-\d+|\d+[LW]|.*#.*)$/i.test(part))
      throw new Error(`"${part}": L, W and # are not supported by the local scheduler`);
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`"${part}" has a bad step`);
    let from: number;
    let to: number;
    if (range === "*") [from, to] = [min, max];
    else if (range?.includes("-")) {
      const [a, b] = range.split("-");
      [from, to] = [value(a ?? ""), value(b ?? "")];
    } else {
      from = value(range ?? "");
      to = stepText === undefined ? from : max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

const rateUnits: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * Parses an EventBridge schedule expression.
 *
 * @example
 * ```ts
 * parseSchedule("cron(0 6 * * ? *)").next(new Date("2026-01-01T07:00:00Z")); // 2026-01-02T06:00:00.000Z
 * ```
 */
export function parseSchedule(expression: string, anchor = new Date()): Schedule {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const amount = Number(rate[1]);
    const unit = (rate[2] as string).replace(/s$/, "");
    if (amount < 1 || (amount === 1) !== (unit === (rate[2] as string))) {
      throw new Error(`"${expression}": EventBridge wants "rate(1 minute)" or "rate(N minutes)" with N > 1`);
    }
    const every = amount * (rateUnits[unit] as number);
    // EventBridge counts a rate from when the rule was created; here, from when the scheduler started.
    return {
      next: (after) =>
        new Date(anchor.getTime() + (Math.floor((after.getTime() - anchor.getTime()) / every) + 1) * every),
    };
  }
  const cron = /^cron\((.+)\)$/.exec(expression);
  if (!cron) throw new Error(`"${expression}" is not an EventBridge rate() or cron() expression`);
  const parts = (cron[1] as string).trim().split(/\s+/);
  if (parts.length !== 6)
    throw new Error(`"${expression}": cron() needs 6 fields (minutes hours day month weekday year)`);
  const [mi, h, dom, mon, dow, yr] = parts as [string, string, string, string, string, string];
  if ((dom === "?") === (dow === "?"))
    throw new Error(`"${expression}": exactly one of day-of-month and day-of-week must be ?`);
  const minutes = field(mi, 0, 59) as Set<number>;
  const hours = field(h, 0, 23) as Set<number>;
  const days = field(dom, 1, 31);
  const months = field(mon, 1, 12, monthNames, 1) as Set<number>;
  const weekdays = field(dow, 1, 7, dayNames, 1);
  const years = field(yr, 1970, 2199) as Set<number>;
  const sortedHours = [...hours].sort((a, b) => a - b);
  const sortedMinutes = [...minutes].sort((a, b) => a - b);
  return {
    next(after) {
      const start = new Date(after.getTime() + 60_000 - (after.getTime() % 60_000));
      const day = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()));
      for (let i = 0; i < 366 * 10; i++, day.setUTCDate(day.getUTCDate() + 1)) {
        if (!years.has(day.getUTCFullYear()) || !months.has(day.getUTCMonth() + 1)) continue;
        if (days && !days.has(day.getUTCDate())) continue;
        if (weekdays && !weekdays.has(day.getUTCDay() + 1)) continue;
        for (const hour of sortedHours) {
          for (const minute of sortedMinutes) {
            const at = new Date(day.getTime() + hour * 3_600_000 + minute * 60_000);
            if (at >= start) return at;
          }
        }
      }
      throw new Error(`"${expression}" never fires in the next ten years`);
    },
  };
}
