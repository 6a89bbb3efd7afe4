// What every route may read from a request: the peer address, the client's
// address (through trusted proxies), and the request id.
import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import type { ClientMeta } from "../accounts/service.ts";
import { clientAddress } from "../security/client-address.ts";
import type { Cidr } from "../security/trusted-proxies.ts";

export type AppEnv = {
  Bindings: { incoming?: IncomingMessage };
  Variables: { requestId: string };
};

export function peerAddress<E extends AppEnv>(c: Context<E>): string | undefined {
  return c.env?.incoming?.socket?.remoteAddress;
}

export function clientMeta<E extends AppEnv>(c: Context<E>, trusted: Cidr[]): ClientMeta {
  return {
    ip: clientAddress(peerAddress(c), c.req.header("x-forwarded-for"), trusted),
    userAgent: c.req.header("user-agent") ?? null,
  };
}

export { cookieValues } from "../sessions/cookie-header.ts";
