// Report corpora are read from files and cached on disk: this lives on the Node side (src/node/corpus.ts).
export { embedCorpus, readCorpus, type CorpusOptions } from '../node/corpus.ts';
