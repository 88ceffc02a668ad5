import { appName, manifest } from "@flxbl-lambda/functions";
import type { SSTConfig } from "sst";
import { createStacks } from "./stacks/index.js";

export default {
  config() {
    return { name: appName, region: process.env.AWS_REGION ?? "us-east-1" };
  },
  stacks(app) {
    app.setDefaultFunctionProps({
      runtime: "nodejs22.x",
      architecture: "arm_64",
      logRetention: "one_month",
      nodejs: { format: "esm", minify: true, sourcemap: true },
    });
    if (app.stage !== "prod") app.setDefaultRemovalPolicy("destroy");
    const { Keys, Storage, Webhooks, Jobs } = createStacks(manifest, { flxblUrl: process.env.FLXBL_URL });
    app.stack(Keys).stack(Storage).stack(Webhooks).stack(Jobs);
  },
} satisfies SSTConfig;
