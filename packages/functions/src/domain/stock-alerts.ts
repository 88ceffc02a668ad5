import type { RecordOutcome } from "@flxbl-lambda/core/jobs";
import type { EntityClient, FlxblRecord } from "@flxbl-lambda/core/lambda";
import type { Product, StockAlert } from "../types.js";

/** Whether a product needs an open alert: active and at or under its threshold. */
export const isLow = (p: Product) => p.active && p.stock <= p.lowStockThreshold;

/** The open alerts, by product id, read once per invocation. */
export async function loadOpenAlerts(
  alerts: EntityClient<StockAlert>,
): Promise<Map<string, FlxblRecord<StockAlert>[]>> {
  const byProduct = new Map<string, FlxblRecord<StockAlert>[]>();
  for await (const alert of alerts.queryAll({ where: { status: "open" }, orderBy: "id" })) {
    const list = byProduct.get(alert.productId) ?? [];
    list.push(alert);
    byProduct.set(alert.productId, list);
  }
  return byProduct;
}

const resolve = (alerts: EntityClient<StockAlert>, alert: FlxblRecord<StockAlert>, now: Date) =>
  alerts.update(alert.id, { status: "resolved", resolvedAt: now.toISOString() });

/**
 * Brings one product's alerts in line: exactly one open alert while it is low (created, or its
 * figures refreshed), none once it is restocked or inactive. Duplicates are resolved.
 */
export async function reconcileProduct(
  alerts: EntityClient<StockAlert>,
  product: FlxblRecord<Product>,
  open: FlxblRecord<StockAlert>[],
  now: Date,
): Promise<RecordOutcome> {
  if (!isLow(product)) {
    for (const alert of open) await resolve(alerts, alert, now);
    return open.length > 0 ? "changed" : "unchanged";
  }
  const [keep, ...duplicates] = open;
  for (const alert of duplicates) await resolve(alerts, alert, now);
  if (!keep) {
    await alerts.create({
      productId: product.id,
      sku: product.sku,
      stock: product.stock,
      threshold: product.lowStockThreshold,
      status: "open",
    });
    return "changed";
  }
  if (keep.stock !== product.stock || keep.threshold !== product.lowStockThreshold || keep.sku !== product.sku) {
    await alerts.update(keep.id, { stock: product.stock, threshold: product.lowStockThreshold, sku: product.sku });
    return "changed";
  }
  return duplicates.length > 0 ? "changed" : "unchanged";
}

/** Resolves open alerts whose product no longer exists (the sweep never visits them). */
export async function resolveOrphans(
  alerts: EntityClient<StockAlert>,
  products: EntityClient<Product>,
  leftover: Iterable<FlxblRecord<StockAlert>[]>,
  now: Date,
): Promise<number> {
  let resolved = 0;
  for (const list of leftover) {
    for (const alert of list) {
      if (await products.find(alert.productId)) continue;
      await resolve(alerts, alert, now);
      resolved++;
    }
  }
  return resolved;
}
