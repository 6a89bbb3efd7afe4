// The mail that tells a user their second factors changed (set up, removed,
// new recovery codes, an operator's or an admin's removal), in their
// language: the server's and the CLI's factor services send it alike.
import type { Mailer } from "../mail/mailer.ts";
import type { FactorChange } from "./service.ts";

export function factorChangeNotice(mailer: Mailer, accountLink: string) {
  return (account: { email: string }, change: FactorChange, values?: { name: string }) =>
    mailer.post("second-factor-changed", account.email, {
      email: account.email,
      change: (t) => t(`mail.change.${change}`, values),
      accountLink,
    });
}
