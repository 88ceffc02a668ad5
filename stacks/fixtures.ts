import type { FunctionSpec } from "@flxbl-lambda/core";

/**
 * Two manifest entries the app does not have, for stack tests that grow the manifest
 * (`createStacks([...manifest, repoEventsWebhook, nightlyReportJob])`): a GitHub-signed webhook
 * and a nightly job. Their handler files need not exist to synthesize.
 */
export const repoEventsWebhook: FunctionSpec = {
  name: "repo-events",
  handler: "packages/functions/src/webhooks/repo-events.handler",
  trigger: { kind: "http", method: "POST", path: "/webhooks/repo-events" },
  signature: "github",
  scopes: ["entity:Product:read"],
  timeoutSeconds: 10,
};

/** @see repoEventsWebhook */
export const nightlyReportJob: FunctionSpec = {
  name: "nightly-report",
  handler: "packages/functions/src/jobs/nightly-report.handler",
  trigger: { kind: "schedule", expression: "cron(0 2 * * ? *)" },
  scopes: ["entity:Order:read"],
  timeoutSeconds: 120,
  memoryMb: 512,
};
