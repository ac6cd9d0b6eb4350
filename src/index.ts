// clipmed's public API. The CLI, server and web app import only this file.

// ---- errors
export * from './errors.ts';

// ---- graph
export { GraphBuilder, OPSET, GRAPH_VERSION, type Value, type ExternalParts } from './graph/builder.ts';
export { writeGraphFiles } from './node/graph-files.ts';
export { quantizeModel, quantizeInt8, quantizeQ4, QUANT_MODES, type QuantMode, type QuantizeOptions, type QuantizeReport } from './graph/quantize.ts';
export { quantizedGraphs, inlineExternalData, parseDType, DTYPES, type DType as WeightDType, type QuantizedGraphs } from './node/quantized.ts';

// ---- models
export { parseClipConfig, inferOpenAIConfig, type ClipConfig, type VisionConfig, type TextConfig, type OpenAIOverrides } from './models/clip-config.ts';
export { buildVisionGraph, buildTextGraph } from './models/clip-towers.ts';
export { Weights } from './models/weights.ts';
export { type ResolvedSource } from './models/source.ts';
export { resolveLocalSource } from './node/source.ts';
export { compileModel, buildGraphs, type ModelMeta, type CompiledModel } from './node/compile.ts';
export { OPENAI_MEAN, OPENAI_STD } from './models/open-clip-family.ts';
export { openClipFamily, hfClipFamily, siglipFamily, timmHfFamily, specOf, builtModel } from './models/families.ts';
export { parseHfClipConfig, buildHfClipVisionGraph, buildHfClipTextGraph, type HfClipConfig } from './models/hf-clip-family.ts';
export { parseSiglipConfig, buildSiglipVisionGraph, buildSiglipTextGraph, type SiglipConfig } from './models/siglip-family.ts';
export { hfPreprocess, type HfFolder } from './models/hf-config.ts';
export { readHfFolder } from './node/hf-folder.ts';
export { loadTokenizer, tokenizerFilesOf, tokenizerFromFiles, PaddedClipTokenizer } from './models/tokenizers.ts';
export { compileFromBytes, formatOf, type BytesModel } from './models/from-bytes.ts';
export { ClipModelCore, attachModelInput, preprocessForModel, type CoreMeta, type CoreOptions, type ImageInputSpec } from './models/clip-model-core.ts';
export { FAMILIES, familyFor } from './models/families.ts';
export { memoryFiles, type ModelSpec, type TowerSpec, type ModelFiles, type SpecFile, type SpecFiles, type SourceFormat } from './models/spec.ts';
export { readModelSpec, buildFromSpec, readOpenClipSpec, readOpenAISpec, readHfSpec, openClipFiles, hfFiles, type ReadSpecInput } from './models/readers/index.ts';
export { registerTower, getTower, listTowers, type TowerKind, type TowerBuilder, type TowerModality, type OpenClipContext } from './models/towers/registry.ts';
export type { Family, BuiltModel, TextSpec, ScoreSpec, TextTokenizer } from './models/family.ts';
export { ClipModel, normalizeRows, type LoadOptions, type EmbedOptions, type ImageEmbeddings, type TextEmbeddings } from './node/clip-model.ts';
export { embedPixelsWithPrior, embedWithPrior, takesPrior } from './node/prior.ts';
export { buildPriorVisionGraph, hasPriorPath } from './models/prior.ts';
export { randomClipStateDict, vitB } from './models/random-weights.ts';

// ---- runtime
export type { Backend, Session, SessionOptions, TensorIn, TensorOut } from './runtime/session.ts';
export { nodeBackend } from './node/ort-backend.ts';
export { cacheRoot, checkpointHash } from './node/graph-cache.ts';
export { registerBackend, resolveBackend, listBackends, parseDevice, DEVICES, type Device } from './runtime/backends.ts';
export { webBackend } from './runtime/web-backend.ts';
export { nodeWebGpuBackend, nodeProviderBundled } from './node/ort-backend.ts';

// ---- image
export type { Raster, FloatImage } from './image/types.ts';
export { applyWindow, applyVoiLut, parseWindow, toBytes, WINDOW_PRESETS, type Window, type VoiFunction, type WindowPreset, type VoiLut } from './image/window.ts';
export { resize, type ResampleFilter } from './image/resample.ts';
export { preprocess, preprocessRaster, type PreprocessConfig } from './image/preprocess.ts';
export { decodeImageFile, decodeImageBytes } from './node/image-decode.ts';

// ---- checkpoint
export type { DType, Tensor, StateDict } from './checkpoint/types.ts';
export { readSafetensors, readSafetensorsMetadata, writeSafetensors } from './checkpoint/safetensors.ts';
export { readTorchZip, readTorchObject, findStateDict, isTensor } from './checkpoint/torch.ts';
export { readCheckpointBytes, sniffCheckpoint } from './checkpoint/load.ts';
export { readCheckpoint, hashFile } from './node/checkpoint-files.ts';
export { halfToFloat, floatToHalf } from './checkpoint/dtype.ts';

// ---- tasks
export { asMatrix, fromFlat, toRows, softmaxRows, type Matrix, type MatrixLike } from './tasks/matrix.ts';
export { TEMPLATE_SETS, LABEL_SETS, listTemplateSets, getTemplateSet, getLabelSet, fillTemplate, buildPrompts, type TemplateSet, type TemplateSetName, type LabelSetName } from './tasks/templates.ts';
export { buildZeroShotClassifier, classifyZeroShot, predictLabels, type Scoring, type ZeroShotClassifier, type ZeroShotResult } from './tasks/zero-shot.ts';
export { globalLocalScores, globalLocalSimilarity, localSimilarity, standardizeColumns, type GlobalLocalClassifier, type GlobalLocalScoring } from './tasks/local-alignment.ts';
export { CXR_DESCRIPTORS, xplainerPrompts, getCxrDescriptors, explainZeroShot, type DescriptorEmbeddings, type Explanation } from './tasks/xplainer.ts';
export { conformalScores, conformalQuantile, calibrateConformal, predictionSets, setCoverage, type ConformalMethod, type ConformalCalibration } from './tasks/conformal.ts';
export { minimizeLbfgs, type LbfgsOptions, type LbfgsResult } from './tasks/lbfgs.ts';
export { LinearProbe, fitLinearProbe, fitLinearProbeCV, logGrid, type LinearProbeJSON } from './tasks/linear-probe.ts';
export { TipAdapter, buildTipAdapter, searchTipAdapter, type TipAdapterJSON } from './tasks/tip-adapter.ts';
export { similarityMatrix, topK, topKPerRow, evaluateRetrieval, retrievalMetrics, type RetrievalMetrics } from './tasks/retrieval.ts';
export { retrieveTexts, composeReport, splitSentences, type TextCorpus, type RetrievedText } from './tasks/report-retrieval.ts';
export { patchSimilarity, removeSharedComponent, minMaxNormalize, promptHeatmaps, upsampleBilinear, jet, overlayHeatmap } from './tasks/heatmap.ts';

// ---- eval
export { mulberry32, gaussian, randomInt, type Random } from './eval/prng.ts';
export { rocAuc, rocCurve, percentile, aurocWithCI, confusionMatrix, accuracy, balancedAccuracy, macroF1, matthewsCorrcoef, recallAtK, firstRelevantRanks, type AurocCI, type AurocReport } from './eval/metrics.ts';
export { nllAtTemperature, fitTemperature, applyTemperature, reliabilityBins, expectedCalibrationError, type ReliabilityBin } from './eval/calibration.ts';
export { renderEvalReport, rocSvg, reliabilitySvg, escapeHtml, type EvalReportInput, type RocSeries } from './eval/report-html.ts';

// ---- text
export { ClipTokenizer, SOT_TOKEN, EOT_TOKEN, CLIP_BPE_URL, setBundledFileReader, type BundledFileReader } from './text/clip-bpe.ts';
export { htmlUnescape, cleanLower } from './text/clean.ts';
export { SentencePieceModel, PieceType, type Piece, type NormalizerSpec } from './text/sentencepiece.ts';
export { SiglipTokenizer, canonicalizeText, type SiglipTokenizerOptions } from './text/siglip-tokenizer.ts';

// ---- io: NIfTI, rasters, DICOMweb
export { readNifti, looksLikeNifti, DEFAULT_MAX_VOXELS, type NiftiVolume, type NiftiOptions } from './io/nifti.ts';
export { parseNiftiHeader, niftiAffine, NIFTI_DATATYPES, type NiftiHeader, type NiftiDatatype, type AffineSource } from './io/nifti-header.ts';
export { niftiSlices, voxelOrientation, axisCodes, type NiftiSliceOptions, type SliceAxis } from './io/nifti-slices.ts';
export { toDisplayRaster, rangeWindow, rasterWindow, looksLikeRaster, DEFAULT_MAX_PIXELS, type RasterOptions } from './io/raster.ts';
export { readRaster } from './node/io/raster.ts';
export { DicomWebClient, dicomJsonString, parseMultipart, parseDicomWebUrl, isDicomWebUrl, resolveDicomWebUrl, type DicomJson, type DicomWebAuth, type DicomWebOptions, type DicomWebTarget, type MultipartPart, type DicomWebQuery } from './io/dicomweb.ts';
export { sniffFormat, loadEntryWith, decodeInput, type InputEntry, type LoadInputsOptions, type LoadedInputs, type LoadedImage, type DicomDecoder, type SniffedFormat, type RasterDecoder, type InputPlatform } from './io/inputs.ts';
export { loadInputs, planInputs, loadEntry, nodeInputPlatform } from './node/io/inputs.ts';
export { DecodePool, decodeInOrder, defaultDecodeThreads, parseDecodeThreads, poolThreads, type DecodeTaskOptions, type DecodeTaskResult, type DecodedImageItem } from './node/decode-pool.ts';

// ---- io: NumPy arrays, CSV, manifests
export { readNpy, writeNpy, type NpyArray } from './io/npy.ts';
export { parseCsv, parseCsvRecords, csvField } from './io/csv.ts';
export { parseManifest, type Manifest, type ManifestRow, type ManifestOptions, type ManifestPaths } from './io/manifest.ts';
export { readManifest, fileManifestPaths } from './node/manifest-files.ts';

// ---- hub
export { resolveHubSource, resolveHubSnapshot, OPEN_CLIP_FILES, TRANSFORMERS_FILES, MODEL_LAYOUTS, type HubFileSpec, type HubSnapshot, type ResolveHubOptions } from './node/hub/resolve.ts';
export { parseHubSpec, isHubSpec, hubSettings, hubCacheDir, type HubSpec, type HubSettings, type HubProgress } from './node/hub/settings.ts';
export { hubProgressBars, formatBytes, type HubProgressBars } from './node/hub/progress.ts';

// ---- pipeline: a model and a task together
export { pipeline, toRaster, PIPELINE_TASKS, type PipelineTask, type PipelineTasks, type ImageInput, type FeatureTensor, type ClassificationOptions, type FeatureOptions, type RetrievalOptions, type ZeroShotImageClassificationPipeline, type ImageFeatureExtractionPipeline, type FeatureExtractionPipeline, type ImageRetrievalPipeline } from './pipeline/api.ts';
export { setPlatform, getPlatform, type Platform } from './pipeline/platform.ts';
export { nodePlatform } from './node/platform.ts';
export { buildClassifier, scoringFor, scoringForClassifier, registryDefaults, withRegistryDefaults, classifyRasters, resolveTemplates, type PromptOptions } from './pipeline/zero-shot.ts';
export { fitFewShot, loadFewShot, splitShots, indexLabels, type FewShotModel, type FewShotOptions, type LabelledRaster } from './pipeline/few-shot.ts';
export { readCorpus, embedCorpus, type CorpusOptions } from './node/corpus.ts';
export { heatmaps, REFERENCE_PROMPTS, type Heatmap, type HeatmapResult } from './pipeline/heatmap.ts';
export { cxrDescriptorPrompts, embedDescriptorPrompts, type DescriptorPromptSet } from './pipeline/explain.ts';
export { evaluateClassification, type ClassificationEvaluation } from './eval/classification.ts';
export { WordPieceTokenizer, basicTokenize, type WordPieceOptions } from './text/wordpiece.ts';
export { loadWordPieceTokenizer, readBundledFile } from './node/tokenizer-files.ts';
export { parseTimmHfConfig, type TimmHfConfig } from './models/timm-hf-family.ts';
export { PRETRAINED, listModels, getSpec, type PretrainedSpec, type PretrainedName, type PretrainedFamily } from './models/pretrained.ts';
export { cachedSnapshot } from './node/hub-cache.ts';
export { cachedRelease, fetchRelease, releaseUrl, unzipMember, RELEASE_ENDPOINT_ENV } from './node/release.ts';
export { runProtocol, runProtocolBatch, getProtocol, PROTOCOLS, type ProtocolStep, type ProtocolName } from './image/protocol.ts';
export { resolveModelSource, type ModelSource, type ResolveOptions } from './node/resolve.ts';

// ---- index: a searchable archive (LanceDB), filled locally or by BullMQ workers
export { openIndex, ClipIndex, IndexTable, queryVector, sqlString, addToTable, listSources, modelSpec, contentHash, storedUid, nearDuplicateGroups, hybridOrder, QUEUE_NAME, redisConnection, enqueueShards, waitForShards, queueStatus, startWorker, openQueue, type TableSpec, type IndexRow, type SearchHit, type SearchOptions, type InputItem, type SourceOptions, type AddOptions, type AddReport, type ShardJob, type ShardOutcome, type WorkerOptions } from './node/index/index.ts';

// ---- train: gradients of the same graphs, open_clip's losses and AdamW, checkpoints out
export { trainRun, type TrainRunOptions, type TrainSummary, type StepMetrics, type ValMetrics, type TrainHooks } from './node/train/run.ts';
export { ClipTrainer, type TrainerOptions, type Batch, type StepResult } from './node/train/clip-trainer.ts';
export { buildTrainGraph, type LossKind, type TrainGraph, type TrainGraphOptions } from './train/train-graph.ts';
export { adamwStep, clipGradNorm, learningRate, decays, LOGIT_SCALE_MAX, type AdamWOptions, type Schedule } from './train/optim.ts';
export { openClipInit } from './train/init.ts';
export { differentiate, appendLowered, RULES as GRADIENT_RULES } from './graph/autodiff.ts';

// ---- io: DICOM
export { decodeDicom, DEFAULT_MAX_DICOM_VALUES, type DicomOptions } from './io/dicom/index.ts';
export { readDicomFile } from './node/io/dicom-files.ts';
export { nodeCodecLoader } from './node/io/dicom-codecs.ts';
export { setCodecLoader, type CodecLoader } from './io/dicom/pixels.ts';
export { seriesVolumes, seriesVolume, chooseSlices, volumeSlice, SeriesError, type DicomVolume, type SeriesInstance, type SeriesOptions, type SeriesProblem, type SeriesResult, type VolumeSlice } from './io/series.ts';
export { readSeriesDir, readSeriesVolume } from './node/io/series-files.ts';
export { openSlide, openSlideTiff, isSlidePath, DEFAULT_MAX_LEVEL_PIXELS, type Slide, type SlideLevel } from './io/wsi/slide.ts';
export { openSlideFile, isSlideFile } from './node/io/slide-files.ts';
export { openDicomSlide, isDicomWsi, WSI_SOP_CLASS } from './io/wsi/dicom-slide.ts';
export { detectTissue, otsuThreshold, tileGrid, readGridTile, type Tile, type TileGrid, type TileSpec, type TissueMask } from './io/wsi/tiles.ts';
export { slideHeatmap, ramp } from './io/wsi/heatmap.ts';
export { poolTopK, type SlideScores } from './tasks/mi-zero.ts';
export type { DecodedImage } from './io/types.ts';
