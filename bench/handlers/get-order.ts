/**
 * "Ours" for figure 1: the smallest function built the way every function of the app is, with
 * `flxblHandler` (Powertools Logger context, error rules, the scope-guarded client keyed from
 * the function's secret), doing the one call the baselines make: GET an Order by id, which is
 * the payments webhook's read.
 */
import { flxblHandler, readFunctionEnv } from "@flxbl-lambda/core/lambda";
import type { Order } from "@flxbl-lambda/functions";
import type { GetOrderEvent, GetOrderResult } from "../baselines/naive.js";
import { getOrderSpec } from "./spec.js";

export const handler = flxblHandler<GetOrderEvent, GetOrderResult>(
  { spec: getOrderSpec, env: readFunctionEnv(process.env) },
  async (event, context) => {
    const order = await context.flxbl.entity<Order>("Order").get(event.orderId);
    return { id: order.id, status: order.status };
  },
);
