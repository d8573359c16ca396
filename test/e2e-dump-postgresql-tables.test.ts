// Proves `kind = postgresql` end to end through the real CLI and server against a real PostgreSQL: see
// support/shop-scenario.ts (secret column absent from the stored dump, two since_fields, partials
// loaded into a second database until it equals the first, source untouched, a failing load named).
import { test } from 'node:test';
import { postgresSkipReason } from './support/postgres';
import { runShopScenario } from './support/shop-scenario';
import { postgresShop, type ShopDatabase } from './support/shop-tables';

const skip = postgresSkipReason();
if (skip !== undefined) console.log(`e2e-dump-postgresql-tables skipped: ${skip}`);

test('postgresql source through the CLI: complete and partial backups, --load-into, a receiver and a failing load', { skip }, async () => {
  let shop: ShopDatabase | undefined;
  try {
    shop = await postgresShop();
    await runShopScenario(shop);
  } finally {
    await shop?.stop();
  }
});
