// The graph cache is files on disk: it lives on the Node side (src/node/graph-cache.ts).
export { cacheRoot, checkpointHash, checkFiles, exists, graphDir, recordFiles, sha256File, writeAtomic, type FileRecord } from '../node/graph-cache.ts';
