/**
 * How a restored dump was made: 'partial' (changes since the backup before) or 'whole' as recorded
 * when it was dumped, or 'as-configured' for a partial backup made before that was recorded (the
 * loading node's storage.conf decides, as it did then).
 */
export type DumpKind = 'partial' | 'whole' | 'as-configured';
