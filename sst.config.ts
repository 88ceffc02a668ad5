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
      // Everything bundled, the AWS SDK included (SST's ESM default; no `esbuild.external`): tree-shaken,
      // the version in package-lock.json, and a faster cold start than the runtime's own copy
      // (README, Performance: "Bundling: AWS SDK bundled or external"). bench/lib/build.ts builds the same.
      nodejs: { format: "esm", minify: true, sourcemap: true },
    });
    if (app.stage !== "prod") app.setDefaultRemovalPolicy("destroy");
    // An empty variable (a `.env` line `NAME=`) means the default.
    const admins = (process.env.ADMIN_PRINCIPAL_ARNS ?? "").split(",").filter((arn) => arn.trim() !== "");
    const reserved = process.env.WEBHOOK_RESERVED_CONCURRENCY?.trim() || undefined;
    const stacks = createStacks(manifest, {
      flxblUrl: process.env.FLXBL_URL || undefined,
      adminPrincipalArns: admins.length > 0 ? admins : undefined,
      alarmEmail: process.env.ALARM_EMAIL?.trim() || undefined,
      alarmTopicArn: process.env.ALARM_TOPIC_ARN?.trim() || undefined,
      // "off" reserves none (an account whose concurrency limit cannot spare the reservations).
      webhookReservedConcurrency: reserved === undefined ? undefined : reserved === "off" ? false : Number(reserved),
    });
    for (const stack of stacks.inOrder) app.stack(stack);
  },
} satisfies SSTConfig;
