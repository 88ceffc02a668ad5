/**
 * EventBridge schedule expressions, evaluated in UTC as EventBridge does: `rate(5 minutes)` and
 * `cron(minutes hours day-of-month month day-of-week year)`, with EventBridge's wildcards
 * (`, - * ? /` everywhere they apply, `L` and `W` in day-of-month, `L` and `#` in day-of-week).
 * `defineManifest` checks schedules with it and `npm start`'s scheduler fires them with it, so
 * what the manifest accepts runs locally too.
 *
 * Written here because the common cron libraries speak Unix cron (five fields, Sunday = 0, no
 * `?`, no year); EventBridge's dialect differs in each of those.
 *
 * @example
 * ```ts
 * const schedule: Schedule = parseSchedule("cron(0 18 ? * 6L *)"); // the last Friday of each month, 18:00 UTC
 * schedule.next(new Date("2026-11-01T00:00:00Z")); // 2026-11-27T18:00:00.000Z
 * ```
 */
export interface Schedule {
  /** The first fire time strictly after `after`. */
  next(after: Date): Date;
}

const monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/** A field's allowed values, or a test on a whole day (the day fields' `L`, `W` and `#`). */
type DayTest = (year: number, month: number, day: number) => boolean;

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
/** Day of the week, EventBridge's way: Sunday = 1 ... Saturday = 7. */
const weekday = (year: number, month: number, day: number) => new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;

/** Parses one plain cron field (`,`, `-`, `*`, `/`) into the set of values it allows. */
function values(text: string, min: number, max: number, names: string[] = [], nameBase = min): Set<number> {
  const out = new Set<number>();
  const value = (token: string) => {
    const byName = names.indexOf(token.toUpperCase());
    const n = byName >= 0 ? byName + nameBase : /^\d+$/.test(token) ? Number(token) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`"${token}" is outside ${min}-${max}`);
    return n;
  };
  for (const part of text.split(",")) {
    const [range, stepText, extra] = part.split("/");
    if (extra !== undefined) throw new Error(`"${part}" has two steps`);
    const step = stepText === undefined ? 1 : /^\d+$/.test(stepText) ? Number(stepText) : Number.NaN;
    if (!Number.isInteger(step) || step < 1) throw new Error(`"${part}" has a bad step`);
    let from: number;
    let to: number;
    if (range === "*") [from, to] = [min, max];
    else if (range?.includes("-")) {
      const [a, b] = range.split("-");
      [from, to] = [value(a ?? ""), value(b ?? "")];
      if (from > to) throw new Error(`"${part}": the range runs backwards`);
    } else {
      from = value(range ?? "");
      to = stepText === undefined ? from : max;
    }
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return out;
}

/** The day-of-month field: plain values, `L` (the last day), `nW` (the weekday nearest day n) and `LW`. */
function dayOfMonth(text: string): DayTest {
  const tests: DayTest[] = [];
  const plain: string[] = [];
  for (const part of text.split(",")) {
    const upper = part.toUpperCase();
    if (upper === "L") tests.push((y, m, d) => d === daysIn(y, m));
    else if (upper === "LW") tests.push((y, m, d) => d === nearestWeekday(y, m, daysIn(y, m)));
    else if (/^\d+W$/.test(upper)) {
      const target = Number(upper.slice(0, -1));
      if (target < 1 || target > 31) throw new Error(`"${part}" is outside 1-31`);
      tests.push((y, m, d) => target <= daysIn(y, m) && d === nearestWeekday(y, m, target));
    } else if (/[LW#]/i.test(part)) throw new Error(`"${part}": day-of-month takes L, LW or nW (n = 1-31) on its own`);
    else plain.push(part);
  }
  if (plain.length > 0) {
    const allowed = values(plain.join(","), 1, 31);
    tests.push((_y, _m, d) => allowed.has(d));
  }
  return (y, m, d) => tests.some((t) => t(y, m, d));
}

/** The weekday (Monday-Friday) nearest to `target` in the same month, as `W` means it. */
function nearestWeekday(year: number, month: number, target: number): number {
  const w = weekday(year, month, target);
  if (w === 7) return target === 1 ? 3 : target - 1; // Saturday: Friday, or Monday the 3rd
  if (w === 1) return target === daysIn(year, month) ? target - 2 : target + 1; // Sunday: Monday, or Friday
  return target;
}

/** The day-of-week field: plain values (1-7 or SUN-SAT), `L` (Saturday), `nL` (the last day n of the month), `n#k` (the k-th day n). */
function dayOfWeek(text: string): DayTest {
  if (text.includes("#")) {
    const hash = /^([1-7]|[A-Za-z]{3})#([1-5])$/.exec(text);
    if (!hash)
      throw new Error(
        `"${text}": # takes one day and its week of the month, like 3#2 (the second Tuesday), alone in its field`,
      );
    const day = [...values(hash[1] as string, 1, 7, dayNames, 1)][0] as number;
    const nth = Number(hash[2]);
    return (y, m, d) => weekday(y, m, d) === day && Math.ceil(d / 7) === nth;
  }
  const tests: DayTest[] = [];
  const plain: string[] = [];
  for (const part of text.split(",")) {
    const last = /^([1-7]|[A-Za-z]{3})L$/i.exec(part);
    if (part.toUpperCase() === "L") plain.push("7");
    else if (last) {
      const day = [...values(last[1] as string, 1, 7, dayNames, 1)][0] as number;
      tests.push((y, m, d) => weekday(y, m, d) === day && d + 7 > daysIn(y, m));
    } else plain.push(part);
  }
  if (plain.length > 0) {
    const allowed = values(plain.join(","), 1, 7, dayNames, 1);
    tests.push((y, m, d) => allowed.has(weekday(y, m, d)));
  }
  return (y, m, d) => tests.some((t) => t(y, m, d));
}

const rateUnits: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * Parses an EventBridge schedule expression; throws an error naming what is wrong with it.
 * `anchor` is when a `rate()` schedule starts counting (EventBridge counts from the rule's creation).
 *
 * @example
 * ```ts
 * parseSchedule("cron(0 6 * * ? *)").next(new Date("2026-01-01T07:00:00Z")); // 2026-01-02T06:00:00.000Z
 * parseSchedule("cron(0 9 ? * 2#1 *)"); // the first Monday of each month, 09:00 UTC
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
    return {
      next: (after) =>
        new Date(anchor.getTime() + (Math.floor((after.getTime() - anchor.getTime()) / every) + 1) * every),
    };
  }
  const cron = /^cron\((.+)\)$/.exec(expression);
  if (!cron) throw new Error(`"${expression}" is not an EventBridge rate() or cron() expression`);
  const parts = (cron[1] as string).trim().split(/\s+/);
  if (parts.length !== 6)
    throw new Error(`"${expression}": cron() needs 6 fields (minutes hours day-of-month month day-of-week year)`);
  const [mi, h, dom, mon, dow, yr] = parts as [string, string, string, string, string, string];
  if ((dom === "?") === (dow === "?"))
    throw new Error(`"${expression}": exactly one of day-of-month and day-of-week must be ?`);
  let matchesDay: DayTest;
  let minutes: number[];
  let hours: number[];
  let months: Set<number>;
  let years: Set<number>;
  try {
    minutes = [...values(mi, 0, 59)].sort((a, b) => a - b);
    hours = [...values(h, 0, 23)].sort((a, b) => a - b);
    months = values(mon, 1, 12, monthNames, 1);
    years = values(yr, 1970, 2199);
    matchesDay = dom === "?" ? dayOfWeek(dow) : dayOfMonth(dom);
  } catch (err) {
    throw new Error(`"${expression}": ${(err as Error).message}`);
  }
  return {
    next(after) {
      const start = new Date(after.getTime() + 60_000 - (after.getTime() % 60_000));
      const day = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()));
      for (let i = 0; i < 366 * 10; i++, day.setUTCDate(day.getUTCDate() + 1)) {
        const [y, m, d] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate()];
        if (!years.has(y) || !months.has(m) || !matchesDay(y, m, d)) continue;
        for (const hour of hours) {
          for (const minute of minutes) {
            const at = new Date(day.getTime() + hour * 3_600_000 + minute * 60_000);
            if (at >= start) return at;
          }
        }
      }
      throw new Error(`"${expression}" never fires in the next ten years`);
    },
  };
}
