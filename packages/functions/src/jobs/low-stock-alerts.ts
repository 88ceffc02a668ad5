import { jobHandler } from "@flxbl-lambda/core/jobs";
import { readFunctionEnv } from "@flxbl-lambda/core/lambda";
import { loadOpenAlerts, reconcileProduct, resolveOrphans } from "../domain/stock-alerts.js";
import { lowStockAlerts as spec } from "../manifest.js";
import type { Product, StockAlert } from "../types.js";

/**
 * Daily: exactly one open `StockAlert` per active product at or under its threshold; alerts of
 * restocked, inactive or deleted products are resolved. Rerunning changes nothing.
 */
export const handler = jobHandler<Product, Awaited<ReturnType<typeof loadOpenAlerts>>>({
  spec,
  env: readFunctionEnv(process.env),
  entity: "Product",
  where: () => ({}),
  // The open alerts, read once per invocation (retried through throttling, not failing the run).
  prepare: (context) => loadOpenAlerts(context.flxbl.entity<StockAlert>("StockAlert")),
  process: async (product, { flxbl, prepared: open }) => {
    // Forget the product's alerts only once it is done: a throttled product is taken again and
    // must still see them, or it would open a second alert.
    const outcome = await reconcileProduct(
      flxbl.entity<StockAlert>("StockAlert"),
      product,
      open.get(product.id) ?? [],
      new Date(),
    );
    open.delete(product.id);
    return outcome;
  },
  onSweepComplete: async ({ flxbl, logger, prepared: open }) => {
    const alerts = flxbl.entity<StockAlert>("StockAlert");
    const resolved = await resolveOrphans(alerts, flxbl.entity<Product>("Product"), open.values(), new Date());
    if (resolved > 0) logger.info("resolved alerts of deleted products", { resolved });
  },
});
