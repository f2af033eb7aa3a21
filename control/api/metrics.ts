// The REST API's request metrics, shared by the Hono routes and the plain node:http fast path.
import { Counter, Histogram, type Registry } from "prom-client";

export interface ApiMetrics {
  readonly requests?: Counter<"method" | "route" | "status">;
  readonly latency?: Histogram<"method" | "route">;
}

export function createApiMetrics(registry?: Registry): ApiMetrics {
  if (!registry) return {};
  return {
    requests: new Counter({ name: "weft_api_requests_total", help: "REST requests by route and status", labelNames: ["method", "route", "status"], registers: [registry] }),
    latency: new Histogram({
      name: "weft_api_request_seconds",
      help: "REST request latency by route",
      labelNames: ["method", "route"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
  };
}
