import { type MetricName, parseSchedule } from "@flxbl-lambda/core";
import { Duration } from "aws-cdk-lib";
import { Metric } from "aws-cdk-lib/aws-cloudwatch";

/** Where a stage's functions write their metrics: namespace = the SST app's name, dimension `stage`. */
export interface MetricsPlace {
  namespace: string;
  stage: string;
}

/** The default period of every chart and alarm: EMF metrics have one-minute resolution, alarms look at five. */
export const fiveMinutes = Duration.minutes(5);

/**
 * One of the catalogue's metrics for one function, as Powertools writes it: dimensions `service`
 * (the manifest name) and `stage`. Statistic `Sum` unless told.
 */
export function appMetric(
  place: MetricsPlace,
  service: string,
  name: MetricName,
  options: { statistic?: string; label?: string; period?: Duration } = {},
): Metric {
  return new Metric({
    namespace: place.namespace,
    metricName: name,
    dimensionsMap: { service, stage: place.stage },
    statistic: options.statistic ?? "Sum",
    period: options.period ?? fiveMinutes,
    label: options.label ?? name,
  });
}

/**
 * The longest gap between two runs of a schedule, in whole minutes, between one minute and one
 * day (an alarm period): `rate(15 minutes)` 900 s, `cron(0 6 * * ? *)` 86,400 s, a weekday cron's
 * weekend gap capped at a day, a schedule that ends a day. Measured over the next 60 runs from a fixed date, so every synth
 * agrees.
 */
export function scheduleGapSeconds(expression: string): number {
  const schedule = parseSchedule(expression, new Date("2026-01-05T00:00:00Z"));
  let at = new Date("2026-01-05T00:00:00Z");
  let longest = 0;
  let previous: Date | undefined;
  for (let i = 0; i < 60; i++) {
    try {
      at = schedule.next(at);
    } catch {
      // A schedule that ends (a cron year range): what remains of it gets the longest period.
      return 86_400;
    }
    if (previous) longest = Math.max(longest, at.getTime() - previous.getTime());
    previous = at;
  }
  const seconds = Math.ceil(longest / 60_000) * 60;
  return Math.min(Math.max(seconds, 60), 86_400);
}
