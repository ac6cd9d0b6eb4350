// Browser stand-in for sharp: PNG and JPEG are decoded by the browser (createImageBitmap) in the page.
export default function sharp(): never {
  throw new Error('sharp is not available in the browser');
}
