// graphql-http's audit of a running server: prints one line per check that is not ok and a
// summary; exits 1 unless every check is ok. Usage: node audit.mjs http://host:port/graphql
import { auditServer } from "graphql-http";

const url = process.argv[2];
const results = await auditServer({ url });
const counts = { ok: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  if (result.status !== "ok") {
    console.log(`${result.status} ${result.id} ${result.name}: ${result.reason}`);
  }
}
console.log(`${results.length} checks: ${counts.ok} ok, ${counts.warn} warn, ${counts.error} error`);
process.exit(counts.ok === results.length ? 0 : 1);
