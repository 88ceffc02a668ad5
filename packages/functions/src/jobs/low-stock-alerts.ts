import { flxblHandler, RunStore, readFunctionEnv, retryTransient, runJob, stateTableName } from "@flxbl-lambda/core";
import { loadOpenAlerts, reconcileProduct, resolveOrphans } from "../domain/stock-alerts.js";
import { lowStockAlerts as spec } from "../manifest.js";
import type { Product, StockAlert } from "../types.js";
import { stopMarginFor } from "./margin.js";

const env = readFunctionEnv(process.env);
const store = new RunStore({ tableName: stateTableName(env), job: spec.name });

/**
 * Daily: exactly one open `StockAlert` per active product at or under its threshold; alerts of
 * restocked, inactive or deleted products are resolved. Rerunning changes nothing.
 */
export const handler = flxblHandler({ spec, env }, async (_event: unknown, context) => {
  const products = context.flxbl.entity<Product>("Product");
  const alerts = context.flxbl.entity<StockAlert>("StockAlert");
  const remaining = context.getRemainingTimeInMillis();
  const deadline = Date.now() + remaining;
  const stopMarginMs = stopMarginFor(remaining);
  // Read before the sweep, outside the runner's 429 adaptation: a burst here must not fail the run.
  const open = await retryTransient(() => loadOpenAlerts(alerts), {
    stopAt: deadline - stopMarginMs,
    logger: context.logger,
  });
  return runJob({
    name: spec.name,
    store,
    entity: products,
    logger: context.logger,
    where: () => ({}),
    process: async (product) => {
      // Forget the product's alerts only once it is done: a throttled product is taken again and
      // must still see them, or it would open a second alert.
      const outcome = await reconcileProduct(alerts, product, open.get(product.id) ?? [], new Date());
      open.delete(product.id);
      return outcome;
    },
    onSweepComplete: async () => {
      const resolved = await resolveOrphans(alerts, products, open.values(), new Date());
      if (resolved > 0) context.logger.info("resolved alerts of deleted products", { resolved });
    },
    deadline,
    stopMarginMs,
  });
});
