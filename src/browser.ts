// clipmed's browser entry (the `browser` condition of the package's exports): the parts that need no Node
// module, no sharp and no onnxruntime-node, so that a bundler for the browser resolves every import. It grows
// as the core moves its file and runtime access behind the Node adapter; `src/index.ts` stays the full API.
// Checked by test/package/pack.test.ts: `esbuild --bundle --platform=browser` of this entry, from the tarball.

export * from './errors.ts';
export { parseClipConfig, inferOpenAIConfig, type ClipConfig, type VisionConfig, type TextConfig, type OpenAIOverrides } from './models/clip-config.ts';
export type { Raster, FloatImage } from './image/types.ts';
export { applyWindow, applyVoiLut, parseWindow, toBytes, WINDOW_PRESETS, type Window, type VoiFunction, type WindowPreset, type VoiLut } from './image/window.ts';
export { resize, type ResampleFilter } from './image/resample.ts';
export { preprocess, preprocessRaster, type PreprocessConfig } from './image/preprocess.ts';
export type { DType, Tensor, StateDict } from './checkpoint/types.ts';
export { readSafetensors, readSafetensorsMetadata, writeSafetensors } from './checkpoint/safetensors.ts';
export { halfToFloat, floatToHalf } from './checkpoint/dtype.ts';
export { asMatrix, fromFlat, toRows, softmaxRows, type Matrix, type MatrixLike } from './tasks/matrix.ts';
export { TEMPLATE_SETS, LABEL_SETS, listTemplateSets, getTemplateSet, getLabelSet, fillTemplate, buildPrompts, type TemplateSet, type TemplateSetName, type LabelSetName } from './tasks/templates.ts';
export { buildZeroShotClassifier, classifyZeroShot, predictLabels, type Scoring, type ZeroShotClassifier, type ZeroShotResult } from './tasks/zero-shot.ts';
export { CXR_DESCRIPTORS, xplainerPrompts, getCxrDescriptors, explainZeroShot, type DescriptorEmbeddings, type Explanation } from './tasks/xplainer.ts';
export { conformalScores, conformalQuantile, calibrateConformal, predictionSets, setCoverage, type ConformalMethod, type ConformalCalibration } from './tasks/conformal.ts';
export { minimizeLbfgs, type LbfgsOptions, type LbfgsResult } from './tasks/lbfgs.ts';
export { LinearProbe, fitLinearProbe, fitLinearProbeCV, logGrid, type LinearProbeJSON } from './tasks/linear-probe.ts';
export { TipAdapter, buildTipAdapter, searchTipAdapter, type TipAdapterJSON } from './tasks/tip-adapter.ts';
export { similarityMatrix, topK, topKPerRow, evaluateRetrieval, retrievalMetrics, type RetrievalMetrics } from './tasks/retrieval.ts';
export { retrieveTexts, composeReport, splitSentences, type TextCorpus, type RetrievedText } from './tasks/report-retrieval.ts';
export { patchSimilarity, removeSharedComponent, minMaxNormalize, promptHeatmaps, upsampleBilinear, jet, overlayHeatmap } from './tasks/heatmap.ts';
export { mulberry32, gaussian, randomInt, type Random } from './eval/prng.ts';
export { rocAuc, rocCurve, percentile, aurocWithCI, confusionMatrix, accuracy, balancedAccuracy, macroF1, matthewsCorrcoef, recallAtK, firstRelevantRanks, type AurocCI, type AurocReport } from './eval/metrics.ts';
export { nllAtTemperature, fitTemperature, applyTemperature, reliabilityBins, expectedCalibrationError, type ReliabilityBin } from './eval/calibration.ts';
export { renderEvalReport, rocSvg, reliabilitySvg, escapeHtml, type EvalReportInput, type RocSeries } from './eval/report-html.ts';
export { htmlUnescape, cleanLower } from './text/clean.ts';
export { SentencePieceModel, PieceType, type Piece, type NormalizerSpec } from './text/sentencepiece.ts';
export { SiglipTokenizer, canonicalizeText, type SiglipTokenizerOptions } from './text/siglip-tokenizer.ts';
export { ClipTokenizer, SOT_TOKEN, EOT_TOKEN, CLIP_BPE_URL, setBundledFileReader, type BundledFileReader } from './text/clip-bpe.ts';
export { WordPieceTokenizer, basicTokenize, type WordPieceOptions } from './text/wordpiece.ts';
export { parseNiftiHeader, niftiAffine, NIFTI_DATATYPES, type NiftiHeader, type NiftiDatatype, type AffineSource } from './io/nifti-header.ts';
export { niftiSlices, voxelOrientation, axisCodes, type NiftiSliceOptions, type SliceAxis } from './io/nifti-slices.ts';
export { readNpy, writeNpy, type NpyArray } from './io/npy.ts';
export { parseCsv, parseCsvRecords, csvField } from './io/csv.ts';

// ---- io that takes bytes: NIfTI volumes, DICOM (codecs through setCodecLoader), the inputs' format sniffing and
// the rasters' windows (the Node side reads files and decodes PNG/JPEG/TIFF with sharp)
export { readNifti, looksLikeNifti, DEFAULT_MAX_VOXELS, type NiftiVolume, type NiftiOptions } from './io/nifti.ts';
export { toDisplayRaster, rangeWindow, rasterWindow, looksLikeRaster, DEFAULT_MAX_PIXELS, type RasterOptions } from './io/raster.ts';
export { sniffFormat, loadEntryWith, decodeInput, type InputEntry, type LoadInputsOptions, type LoadedInputs, type LoadedImage, type DicomDecoder, type SniffedFormat, type RasterDecoder, type InputPlatform } from './io/inputs.ts';
export { decodeDicom, DEFAULT_MAX_DICOM_VALUES, type DicomOptions } from './io/dicom/index.ts';
export { setCodecLoader, type CodecLoader } from './io/dicom/pixels.ts';
export { seriesVolumes, seriesVolume, chooseSlices, volumeSlice, SeriesError, type DicomVolume, type SeriesInstance, type SeriesOptions, type SeriesProblem, type SeriesResult, type VolumeSlice } from './io/series.ts';
export type { DecodedImage } from './io/types.ts';
export { evaluateClassification, type ClassificationEvaluation } from './eval/classification.ts';
export { PRETRAINED, listModels, getSpec, type PretrainedSpec, type PretrainedName, type PretrainedFamily } from './models/pretrained.ts';
export { runProtocol, runProtocolBatch, getProtocol, PROTOCOLS, type ProtocolStep, type ProtocolName } from './image/protocol.ts';

// ---- model descriptions, towers, backends and the pipeline API (no file or Node access: bytes in)
export { OPENAI_MEAN, OPENAI_STD } from './models/open-clip-family.ts';
export { hfPreprocess, type HfFolder } from './models/hf-config.ts';
export { memoryFiles, type ModelSpec, type TowerSpec, type ModelFiles, type SpecFile, type SpecFiles, type SourceFormat } from './models/spec.ts';
export { registerTower, getTower, listTowers, type TowerKind, type TowerBuilder, type TowerModality, type OpenClipContext } from './models/towers/registry.ts';
export type { Backend, Session, SessionOptions, TensorIn, TensorOut } from './runtime/session.ts';
export { registerBackend, resolveBackend, listBackends, parseDevice, DEVICES, type Device } from './runtime/backends.ts';
export { webBackend, webGpuMisreads } from './runtime/web-backend.ts';
export { DicomWebClient, dicomJsonString, parseMultipart, parseDicomWebUrl, isDicomWebUrl, resolveDicomWebUrl, type DicomJson, type DicomWebAuth, type DicomWebOptions, type DicomWebTarget, type MultipartPart, type DicomWebQuery } from './io/dicomweb.ts';
export { pipeline, toRaster, PIPELINE_TASKS, type PipelineTask, type PipelineTasks, type ImageInput, type FeatureTensor, type ClassificationOptions, type FeatureOptions, type RetrievalOptions, type ZeroShotImageClassificationPipeline, type ImageFeatureExtractionPipeline, type FeatureExtractionPipeline, type ImageRetrievalPipeline } from './pipeline/api.ts';
export { setPlatform, getPlatform, type Platform } from './pipeline/platform.ts';
export { buildClassifier, scoringFor, scoringForClassifier, registryDefaults, withRegistryDefaults, classifyRasters, resolveTemplates, type PromptOptions } from './pipeline/zero-shot.ts';
export { fitFewShot, loadFewShot, splitShots, indexLabels, type FewShotModel, type FewShotOptions, type LabelledRaster } from './pipeline/few-shot.ts';
export { heatmaps, REFERENCE_PROMPTS, type Heatmap, type HeatmapResult } from './pipeline/heatmap.ts';
export { cxrDescriptorPrompts, embedDescriptorPrompts, type DescriptorPromptSet } from './pipeline/explain.ts';
