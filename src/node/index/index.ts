// The archive on Node: LanceDB storage in a folder, filling it from files (locally or through BullMQ workers)
// and searching it; the table, its types and the similarity helpers come from src/index/.
export { openIndex, ClipIndex, IndexTable, queryVector, sqlString, hit, type TableSpec, type IndexRow, type SearchHit, type SearchOptions } from './store.ts';
export { addToTable, listSources, modelSpec, contentHash, storedUid, type InputItem, type SourceOptions, type AddOptions, type AddReport } from './ingest.ts';
export { nearDuplicateGroups, hybridOrder } from '../../index/similarity.ts';
export { QUEUE_NAME, redisConnection, enqueueShards, waitForShards, queueStatus, startWorker, openQueue, type ShardJob, type ShardOutcome, type WorkerOptions, type EnqueueResult } from './queue.ts';
