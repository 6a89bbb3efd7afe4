// Prometheus metrics, one registry per app instance (tests build many apps).
import { Counter, collectDefaultMetrics, Registry } from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(options: { defaultMetrics: boolean }) {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "gatehouse_" });
  // /_resolve counts in plain numbers, added to the counter when it is read:
  // prom-client's inc() hashes and checks its labels and allocates on every
  // call, ~4% of a warm /_resolve.
  const resolveTallies = new Map<string, { count: number; reported: number }>();
  return {
    registry,
    resolves: new Counter({
      name: "gatehouse_resolve_total",
      help: "Answers of /_resolve by outcome",
      labelNames: ["outcome"] as const,
      registers: [registry],
      collect() {
        for (const [outcome, tally] of resolveTallies) {
          if (tally.count === tally.reported) continue;
          this.inc({ outcome }, tally.count - tally.reported);
          tally.reported = tally.count;
        }
      },
    }),
    /** The count of one /_resolve outcome, increased without allocating; read with `resolves`. */
    resolveOutcome(outcome: string): { inc(): void } {
      let tally = resolveTallies.get(outcome);
      if (!tally) {
        tally = { count: 0, reported: 0 };
        resolveTallies.set(outcome, tally);
      }
      const counted = tally;
      return {
        inc() {
          counted.count++;
        },
      };
    },
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
