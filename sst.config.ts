import type { SSTConfig } from "sst";
import { Storage } from "./stacks/Storage.js";

export default {
  config() {
    return { name: "flxbl-lambda", region: process.env.AWS_REGION ?? "us-east-1" };
  },
  stacks(app) {
    app.setDefaultFunctionProps({ runtime: "nodejs22.x", architecture: "arm_64" });
    if (app.stage !== "prod") app.setDefaultRemovalPolicy("destroy");
    app.stack(Storage);
  },
} satisfies SSTConfig;
