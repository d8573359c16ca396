// Sends entries to a server that predates EntryBatch: each as an Entry, and a small file's
// content after it as Data frames and an EntryEnd, as every version of the server accepts.
import type { BatchedEntry } from '../proto/cpsbackup';
import { carriesContent } from '../common/entry-content';
import type { EntrySink } from '../common/wire/entry-batcher';
import type { UploadStream } from './upload-stream';
import { sendContent } from './content-sender';

export class EntryPerMessage implements EntrySink {
  constructor(private readonly stream: UploadStream) {}

  async add(entry: BatchedEntry): Promise<void> {
    const meta = entry.meta;
    if (meta === undefined) throw new Error('an entry without metadata cannot be sent');
    await this.stream.send({ message: { $case: 'entry', value: { meta, sameAsParent: entry.sameAsParent } } });
    // The caller counted these bytes when it read them.
    if (carriesContent(meta.type) && !entry.sameAsParent) await sendContent(this.stream, [entry.content], () => undefined);
  }

  async flush(): Promise<void> {
    // nothing is gathered
  }
}
