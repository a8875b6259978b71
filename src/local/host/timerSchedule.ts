import { CronExpressionParser } from "cron-parser";
import { parseTimeSpanInMs } from "./hostJson.js";

export interface TimerSchedule {
  readonly expression: string;
  /** The first occurrence strictly after `after`. */
  next(after: Date): Date;
}

/**
 * A timer trigger schedule: NCRONTAB with six fields (seconds first; five are accepted as the host
 * does, minute first) or a TimeSpan interval like "00:05:00". Schedules are evaluated in UTC, the
 * time zone of Functions on Linux and of Windows apps without WEBSITE_TIME_ZONE.
 */
export function parseTimerSchedule(expression: string): TimerSchedule {
  const trimmed = expression.trim();
  const intervalInMs = parseTimeSpanInMs(trimmed);
  if (intervalInMs !== undefined) {
    if (intervalInMs <= 0) throw new Error(`Timer schedule "${expression}" must be a positive interval.`);
    return { expression: trimmed, next: (after) => new Date(after.getTime() + intervalInMs) };
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 6 && fields.length !== 5) {
    throw new Error(
      `Timer schedule "${expression}" must be an NCRONTAB expression with 6 fields ` +
        `({second} {minute} {hour} {day} {month} {day-of-week}) or a TimeSpan like "00:05:00"; it has ${fields.length} fields.`,
    );
  }
  try {
    CronExpressionParser.parse(trimmed, { tz: "UTC" });
  } catch (error) {
    throw new Error(`Timer schedule "${expression}" is not a valid NCRONTAB expression: ${(error as Error).message}`);
  }
  return {
    expression: trimmed,
    next: (after) => CronExpressionParser.parse(trimmed, { tz: "UTC", currentDate: after }).next().toDate(),
  };
}
