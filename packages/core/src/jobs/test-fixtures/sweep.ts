import type { EntityClient } from "../../flxbl/client.js";
import type { FlxblRecord } from "../../flxbl/types.js";
import type { RecordOutcome } from "../runner.js";

/** The order fields the runner tests sweep over. */
export interface SweptOrder {
  number: string;
  status: "pending" | "paid" | "refunded" | "expired" | "cancelled";
  total: number;
  currency: string;
}

/** A per-record step that decides from the record it is given, as the runner requires. */
export async function expireIfPending(
  orders: EntityClient<SweptOrder>,
  record: FlxblRecord<SweptOrder>,
): Promise<RecordOutcome> {
  if (record.status !== "pending") return "unchanged";
  await orders.update(record.id, { status: "expired" });
  return "changed";
}
