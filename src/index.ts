// clipmed's public API. The CLI, server and web app import only this file.

// ---- errors
export * from './errors.ts';
