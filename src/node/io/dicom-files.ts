// The Node side of DICOM reading: a file path to decodeDicom's bytes (the decoder itself takes bytes only).
import { readFile } from 'node:fs/promises';
import type { DecodedImage } from '../../io/types.ts';
import { decodeDicom, type DicomOptions } from '../../io/dicom/index.ts';
import './dicom-codecs.ts';

/** Read and decode a DICOM file. */
export async function readDicomFile(path: string, o: Omit<DicomOptions, 'source'> = {}): Promise<DecodedImage> {
  return decodeDicom(await readFile(path), { ...o, source: path });
}
