// ClipTrainer on Node: the trainer of src/train/clip-trainer.ts with onnxruntime-node registered as its
// runner (by loading ./ort-run.ts). Import ClipTrainer from here (or the package entry) on Node.
import './ort-run.ts';

export * from '../../train/clip-trainer.ts';
