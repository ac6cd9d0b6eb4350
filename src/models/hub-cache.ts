// Looking into the hub cache reads the disk: it lives on the Node side (src/node/hub-cache.ts).
export { cachedSnapshot } from '../node/hub-cache.ts';
