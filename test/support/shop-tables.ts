// A small shop (customers ← orders ← items) on a real PostgreSQL or MariaDB, for the end-to-end
// tests of the database sources: the same scenario runs on both through one interface.
import { POSTGRES_BIN, startPostgres, type PostgresServer } from './postgres';
import { startMariadb, type MariadbServer } from './mariadb';

export interface ShopDatabase {
  readonly kind: 'postgresql' | 'mariadb';
  /** storage.conf lines reaching this server (socket, user, tools). */
  readonly connectionLines: readonly string[];
  sql(database: string, sql: string): Promise<string>;
  /** Creates database shop: 2000 customers (with a secret password_hash), 5000 orders, 10000 items. */
  createShop(): Promise<void>;
  /** Round n of changes: customers updated, 300 orders with 2 items each added (ids after the largest), items changed and deleted. */
  change(round: number): Promise<void>;
  /** Adds the next order, for customer 1 with a total of `total`, and renames customer 1. */
  addOrder(total: number): Promise<void>;
  /** Row count and digest of `columns` in key order. */
  checksum(database: string, table: string, columns: readonly string[], key: string): Promise<string>;
  /** A CHECK the source does not have: orders over 1000 are refused in `database`. */
  addCheck(database: string): Promise<void>;
  dropCheck(database: string): Promise<void>;
  stop(): Promise<void>;
}

export const SHOP_TABLES: readonly { table: string; columns: readonly string[]; key: string }[] = [
  { table: 'customers', columns: ['id', 'name', 'email', 'updated_at'], key: 'id' },
  { table: 'orders', columns: ['id', 'customer_id', 'total', 'note'], key: 'id' },
  { table: 'items', columns: ['order_id', 'line', 'product', 'quantity'], key: 'order_id, line' },
];

export async function postgresShop(): Promise<ShopDatabase> {
  const server: PostgresServer = await startPostgres();
  return {
    kind: 'postgresql',
    connectionLines: [`socket = ${server.socketDirectory}`, `port = ${server.port}`, 'user = postgres', `bin_dir = ${POSTGRES_BIN}`],
    sql: (database, sql) => server.psql(database, sql),
    createShop: async () => {
      await server.psql('postgres', 'CREATE DATABASE shop');
      await server.psql('shop', `
        CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, password_hash text NOT NULL, updated_at timestamptz NOT NULL);
        CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, total numeric(12,2) NOT NULL, note text);
        CREATE TABLE items (order_id bigint NOT NULL REFERENCES orders, line int NOT NULL, product text NOT NULL, quantity int NOT NULL,
          PRIMARY KEY (order_id, line));
        INSERT INTO customers SELECT n, 'customer ' || n, 'c' || n || '@example.com', 'secret-hash-' || md5(n::text),
          '2024-01-01'::timestamptz + n * interval '1 minute' FROM generate_series(1, 2000) AS n;
        INSERT INTO orders (id, customer_id, total, note) SELECT n, 1 + n % 2000, n % 800 + 0.25, 'order ' || n FROM generate_series(1, 5000) AS n;
        SELECT setval('orders_id_seq', 5000);
        INSERT INTO items SELECT o, l, 'product ' || o || '-' || l, l FROM generate_series(1, 5000) AS o, generate_series(1, 2) AS l;`);
    },
    change: async (round) => {
      await server.psql('shop', `
        UPDATE customers SET name = name || ' (round ${round})', updated_at = clock_timestamp() WHERE id % ${20 + round * 5} = 0;
        INSERT INTO orders (id, customer_id, total, note) SELECT m + n, 1 + (m + n) % 2000, (m + n) % 700, 'new order ' || (m + n)
          FROM (SELECT max(id) AS m FROM orders) AS x, generate_series(1, 300) AS n;
        INSERT INTO items SELECT o.id, l, 'new product ' || o.id || '-' || l, l FROM orders AS o, generate_series(1, 2) AS l
          WHERE o.note LIKE 'new order %' AND NOT EXISTS (SELECT 1 FROM items AS i WHERE i.order_id = o.id);
        UPDATE items SET quantity = quantity + ${round * 10} WHERE order_id % 100 = ${round} AND line = 1;
        DELETE FROM items WHERE order_id BETWEEN ${round * 10} AND ${round * 10 + 9};`);
    },
    addOrder: async (total) => {
      await server.psql('shop', `UPDATE customers SET name = 'renamed', updated_at = clock_timestamp() WHERE id = 1;
        INSERT INTO orders (id, customer_id, total, note) SELECT max(id) + 1, 1, ${total}, 'big order' FROM orders;`);
    },
    checksum: (database, table, columns, key) => server.psql(database,
      `SELECT count(*) || ' ' || coalesce(md5(string_agg(row(${columns.join(', ')})::text, '|' ORDER BY ${key})), '-') FROM ${table}`),
    addCheck: async (database) => {
      await server.psql(database, 'ALTER TABLE orders ADD CONSTRAINT small_orders CHECK (total < 1000)');
    },
    dropCheck: async (database) => {
      await server.psql(database, 'ALTER TABLE orders DROP CONSTRAINT small_orders');
    },
    stop: () => server.stop(),
  };
}

export async function mariadbShop(): Promise<ShopDatabase> {
  const server: MariadbServer = await startMariadb();
  return {
    kind: 'mariadb',
    connectionLines: [`socket = ${server.socket}`, 'user = root'],
    sql: (database, sql) => server.query(database, sql),
    createShop: async () => {
      await server.query('mysql', `
        CREATE DATABASE shop CHARACTER SET utf8mb4;
        USE shop;
        CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(100) NOT NULL, password_hash VARCHAR(100) NOT NULL,
          updated_at DATETIME(6) NOT NULL);
        CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(12,2) NOT NULL, note TEXT,
          FOREIGN KEY (customer_id) REFERENCES customers (id));
        CREATE TABLE items (order_id BIGINT NOT NULL, line INT NOT NULL, product VARCHAR(100) NOT NULL, quantity INT NOT NULL,
          PRIMARY KEY (order_id, line), FOREIGN KEY (order_id) REFERENCES orders (id));
        INSERT INTO customers SELECT seq, CONCAT('customer ', seq), CONCAT('c', seq, '@example.com'), CONCAT('secret-hash-', MD5(seq)),
          '2024-01-01' + INTERVAL seq MINUTE FROM seq_1_to_2000;
        INSERT INTO orders SELECT seq, 1 + seq % 2000, seq % 800 + 0.25, CONCAT('order ', seq) FROM seq_1_to_5000;
        INSERT INTO items SELECT o.seq, l.seq, CONCAT('product ', o.seq, '-', l.seq), l.seq FROM seq_1_to_5000 AS o, seq_1_to_2 AS l;`);
    },
    change: async (round) => {
      await server.query('shop', `
        UPDATE customers SET name = CONCAT(name, ' (round ${round})'), updated_at = NOW(6) WHERE id % ${20 + round * 5} = 0;
        INSERT INTO orders SELECT m + seq, 1 + (m + seq) % 2000, (m + seq) % 700, CONCAT('new order ', m + seq)
          FROM (SELECT MAX(id) AS m FROM orders) AS x, seq_1_to_300;
        INSERT INTO items SELECT o.id, l.seq, CONCAT('new product ', o.id, '-', l.seq), l.seq FROM orders AS o, seq_1_to_2 AS l
          WHERE o.note LIKE 'new order %' AND NOT EXISTS (SELECT 1 FROM items AS i WHERE i.order_id = o.id);
        UPDATE items SET quantity = quantity + ${round * 10} WHERE order_id % 100 = ${round} AND line = 1;
        DELETE FROM items WHERE order_id BETWEEN ${round * 10} AND ${round * 10 + 9};`);
    },
    addOrder: async (total) => {
      await server.query('shop', `UPDATE customers SET name = 'renamed', updated_at = NOW(6) WHERE id = 1;
        INSERT INTO orders SELECT MAX(id) + 1, 1, ${total}, 'big order' FROM orders;`);
    },
    checksum: (database, table, columns, key) => server.query(database, 'SET SESSION group_concat_max_len = 1073741824; '
      + `SELECT CONCAT(COUNT(*), ' ', IFNULL(MD5(GROUP_CONCAT(CONCAT_WS(',', ${columns.map((column) => `IFNULL(HEX(${column}), 'null')`).join(', ')}) `
      + `ORDER BY ${key} SEPARATOR ';')), '-')) FROM ${table}`),
    addCheck: async (database) => {
      await server.query(database, 'ALTER TABLE orders ADD CONSTRAINT small_orders CHECK (total < 1000)');
    },
    dropCheck: async (database) => {
      await server.query(database, 'ALTER TABLE orders DROP CONSTRAINT small_orders');
    },
    stop: () => server.stop(),
  };
}
