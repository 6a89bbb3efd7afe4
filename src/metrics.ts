// Prometheus metrics, one registry per app instance (tests build many apps).
import { Counter, collectDefaultMetrics, Registry } from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(options: { defaultMetrics: boolean }) {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "gatehouse_" });
  return {
    registry,
    resolves: new Counter({
      name: "gatehouse_resolve_total",
      help: "Answers of /_resolve by outcome",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    logins: new Counter({
      name: "gatehouse_login_total",
      help: "Password logins by result",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    emails: new Counter({
      name: "gatehouse_email_total",
      help: "Messages by kind and outcome: sent (SMTP), outbox (no SMTP configured), failed",
      labelNames: ["kind", "outcome"] as const,
      registers: [registry],
    }),
    bearerTokens: new Counter({
      name: "gatehouse_bearer_jwt_total",
      help: "Bearer JWTs by how they were answered: cached, verified, invalid, unavailable",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    secondFactors: new Counter({
      name: "gatehouse_second_factor_total",
      help: "Second-factor proofs by kind (totp, recovery, ...) and result: success, failure, rate_limited",
      labelNames: ["kind", "result"] as const,
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: "gatehouse_store_errors_total",
      help: "Failures talking to a store",
      labelNames: ["store"] as const,
      registers: [registry],
    }),
  };
}
