import type { ScheduledEvent } from "aws-lambda";

/** A test job that prints the event it was given, so a test can see what the scheduler sent. */
export const handler = async (event: ScheduledEvent) => {
  console.log(`tick ${JSON.stringify({ detailType: event["detail-type"], source: event.source, time: event.time })}`);
  return { ticked: true };
};
