// The script of a process that keeps writing to a SQLite database while a dump or backup runs.
// Each transaction adds batchRows rows and as much to counter.total, so a torn snapshot shows.

export function sqliteWriterScript(batchRows: number, label: string, pauseMs: number): string {
  return `
const Database = require(process.argv[2]);
const db = new Database(process.argv[3]);
db.pragma('busy_timeout = 60000');
const insert = db.prepare('INSERT INTO entries (payload) VALUES (?)');
const bump = db.prepare('UPDATE counter SET total = total + ?');
const batch = db.transaction(() => {
  for (let i = 0; i < ${batchRows}; i++) insert.run(${JSON.stringify(label)} + ' ' + Math.random());
  bump.run(${batchRows});
});
const pause = new Int32Array(new SharedArrayBuffer(4));
batch();
process.stdout.write('ready\\n');
for (;;) { batch(); Atomics.wait(pause, 0, 0, ${pauseMs}); }
`;
}
