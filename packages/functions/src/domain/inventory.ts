import type { EntityClient } from "@flxbl-lambda/core/lambda";
import type { RecordLock } from "@flxbl-lambda/core/state";
import type { InventoryUpdated } from "../events.js";
import type { Product } from "../types.js";
import type { EventOutcome } from "./payments.js";

/**
 * The lock key of the product an `inventory.updated` event changes (`product#<data.sku>`), read
 * from the verified payload before it is validated; undefined when it names no SKU. The
 * inventory webhook takes this lock with the event's idempotency record (its `lockKey`).
 */
export function stockLockKey(webhook: { payload: Record<string, unknown> }): string | undefined {
  const sku = (webhook.payload?.data as { sku?: unknown } | undefined)?.sku;
  return typeof sku === "string" && sku !== "" ? productLockKey(sku) : undefined;
}

const productLockKey = (sku: string) => `product#${sku}`;

/**
 * Sets a SKU's absolute stock if the update is newer than the one stored (`stockVersion`), so
 * redeliveries and reordering converge on the newest value. Holds the SKU's lock across read and
 * write: without it two updates could both read version 3 and the older write land last.
 */
export async function applyStockUpdate(
  products: EntityClient<Product>,
  lock: RecordLock,
  update: InventoryUpdated,
): Promise<EventOutcome & { productId?: string }> {
  const { sku, quantity, version } = update.data;
  return lock.run(productLockKey(sku), async (hold) => {
    const [product, another] = await products.query({ where: { sku }, limit: 2 }, hold.callOptions);
    if (!product) return { status: "ignored", reason: `no product with sku ${sku}` };
    if (another) return { status: "ignored", reason: `sku ${sku} names more than one product` };
    const stored = product.stockVersion ?? -1;
    if (stored >= version)
      return {
        status: "unchanged",
        reason: stored === version ? "version already applied" : `stored version ${stored} is newer than ${version}`,
        productId: product.id,
      };
    hold.assertHeld();
    await products.update(
      product.id,
      { stock: quantity, stockVersion: version, stockUpdatedAt: update.timestamp },
      hold.callOptions,
    );
    return { status: "applied", productId: product.id, from: String(product.stock), to: String(quantity) };
  });
}
