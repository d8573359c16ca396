// Proves `kind = mariadb` end to end through the real CLI and server against a real MariaDB: see
// support/shop-scenario.ts (secret column absent from the stored dump, two since_fields, partials
// loaded into a second database until it equals the first, source untouched, a failing load named).
import { test } from 'node:test';
import { mariadbSkipReason } from './support/mariadb';
import { runShopScenario } from './support/shop-scenario';
import { mariadbShop, type ShopDatabase } from './support/shop-tables';

const skip = mariadbSkipReason();
if (skip !== undefined) console.log(`e2e-dump-mariadb-tables skipped: ${skip}`);

test('mariadb source through the CLI: complete and partial backups, --load-into, a receiver and a failing load', { skip }, async () => {
  let shop: ShopDatabase | undefined;
  try {
    shop = await mariadbShop();
    await runShopScenario(shop);
  } finally {
    await shop?.stop();
  }
});
