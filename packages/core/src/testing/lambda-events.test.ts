import { describe, expect, it } from "vitest";
import { httpApiEvent, lambdaContext, scheduledEvent } from "./lambda-events.js";

describe("httpApiEvent", () => {
  it("lower-cases header names and joins a repeated header's values with commas", () => {
    const event = httpApiEvent({
      method: "POST",
      path: "/hook",
      headers: { "X-Forwarded-For": ["10.0.0.1", "10.0.0.2"], "Content-Type": "application/json", Absent: undefined },
    });

    expect(event.headers).toEqual({ "x-forwarded-for": "10.0.0.1,10.0.0.2", "content-type": "application/json" });
  });

  it("moves cookies out of the headers, one entry per cookie", () => {
    const event = httpApiEvent({ method: "GET", path: "/", headers: { Cookie: ["a=1; b=2", "c=3"] } });

    expect(event.cookies).toEqual(["a=1", "b=2", "c=3"]);
    expect(event.headers).not.toHaveProperty("cookie");
  });

  it.each([
    ["application/json"],
    ["application/json; charset=utf-8"],
    ["text/plain"],
    ["application/x-www-form-urlencoded"],
    ["application/vnd.api+json"],
    ["application/xml"],
  ])("passes a %s body as it is", (contentType) => {
    const body = '{"amount":2500,"note":"é"}';

    const event = httpApiEvent({ method: "POST", path: "/", headers: { "content-type": contentType }, body });

    expect(event.body).toBe(body);
    expect(event.isBase64Encoded).toBe(false);
  });

  it.each([["application/octet-stream"], ["image/png"], [undefined]])(
    "base64-encodes a body of content type %s",
    (contentType) => {
      const bytes = Buffer.from([0, 159, 146, 150, 255]);

      const event = httpApiEvent({
        method: "POST",
        path: "/",
        headers: contentType ? { "content-type": contentType } : {},
        body: bytes,
      });

      expect(event.isBase64Encoded).toBe(true);
      expect(event.body).toBe(bytes.toString("base64"));
    },
  );

  it("leaves the body out when the request has none", () => {
    const event = httpApiEvent({ method: "GET", path: "/" });

    expect(event.body).toBeUndefined();
    expect(event.isBase64Encoded).toBe(false);
  });

  it("keeps the raw query string and parses it, joining a repeated parameter's values with commas", () => {
    const event = httpApiEvent({
      method: "GET",
      path: "/orders",
      rawQueryString: "status=pending&tag=a&tag=b&q=x%20y",
    });

    expect(event.rawQueryString).toBe("status=pending&tag=a&tag=b&q=x%20y");
    expect(event.queryStringParameters).toEqual({ status: "pending", tag: "a,b", q: "x y" });
  });

  it("has no queryStringParameters without a query string", () => {
    const event = httpApiEvent({ method: "GET", path: "/orders" });

    expect(event.rawQueryString).toBe("");
    expect(event.queryStringParameters).toBeUndefined();
  });

  it("builds a request context with a request id, the time, the method and the source IP", () => {
    const before = Date.now();

    const event = httpApiEvent({ method: "post", path: "/hook", sourceIp: "203.0.113.9", headers: { host: "x.test" } });

    const context = event.requestContext;
    expect(context.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(context.timeEpoch).toBeGreaterThanOrEqual(before);
    expect(context.time).toMatch(
      /^\d{2}\/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/,
    );
    expect(context.http).toMatchObject({ method: "POST", path: "/hook", sourceIp: "203.0.113.9" });
    expect(context).toMatchObject({ routeKey: "POST /hook", stage: "$default", domainName: "x.test" });
    expect(event.routeKey).toBe("POST /hook");
  });

  it("gives every event its own request id", () => {
    const ids = new Set(
      Array.from({ length: 5 }, () => httpApiEvent({ method: "GET", path: "/" }).requestContext.requestId),
    );

    expect(ids.size).toBe(5);
  });
});

describe("scheduledEvent", () => {
  it("is the EventBridge Scheduled Event of the rule, its time in whole seconds", () => {
    const event = scheduledEvent("expire-stale-orders", new Date("2026-11-27T06:00:00.123Z"));

    expect(event).toMatchObject({
      "detail-type": "Scheduled Event",
      source: "aws.events",
      time: "2026-11-27T06:00:00Z",
      resources: ["arn:aws:events:us-east-1:000000000000:rule/expire-stale-orders"],
      detail: {},
    });
  });
});

describe("lambdaContext", () => {
  it("counts the remaining time down from the function's timeout", async () => {
    const context = lambdaContext({ functionName: "fn", timeoutSeconds: 2 });

    const first = context.getRemainingTimeInMillis();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = context.getRemainingTimeInMillis();

    expect(first).toBeLessThanOrEqual(2000);
    expect(first).toBeGreaterThan(1900);
    expect(second).toBeLessThan(first);
  });
});
