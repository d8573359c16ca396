// Opens the store a server.conf names, with the chunker and compression it asks for.
// Maintenance commands (gc, check) pass no encoder threads: they never compress new chunks in bulk.
import type { ServerConfig } from '../common/config/server-config';
import { ChunkStore } from '../chunkstore/store';
import type { Logger } from '../common/logger';

export function openConfiguredStore(config: ServerConfig, options: { encoderThreads?: number; logger?: Logger } = {}): Promise<ChunkStore> {
  return ChunkStore.open(config.directory, {
    chunker: { name: config.chunker, minSize: config.chunkMinSize, avgSize: config.chunkAvgSize, maxSize: config.chunkMaxSize },
    isChunkerChosen: config.isChunkerSet,
    compressionLevel: config.compressionLevel,
    configFile: config.file,
    encoderThreads: options.encoderThreads,
    logger: options.logger,
  });
}
