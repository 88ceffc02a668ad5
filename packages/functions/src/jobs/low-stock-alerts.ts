import { flxblHandler, RunStore, readFunctionEnv, runJob, stateTableName } from "@flxbl-lambda/core";
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
  const open = await loadOpenAlerts(alerts);
  const remaining = context.getRemainingTimeInMillis();
  return runJob({
    name: spec.name,
    store,
    entity: products,
    logger: context.logger,
    where: () => ({}),
    process: async (product) => {
      const mine = open.get(product.id) ?? [];
      open.delete(product.id);
      return reconcileProduct(alerts, product, mine, new Date());
    },
    onSweepComplete: async () => {
      const resolved = await resolveOrphans(alerts, products, open.values(), new Date());
      if (resolved > 0) context.logger.info("resolved alerts of deleted products", { resolved });
    },
    deadline: Date.now() + remaining,
    stopMarginMs: stopMarginFor(remaining),
  });
});
