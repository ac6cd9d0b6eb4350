// A small RFC 4180 CSV reader: quoted fields with embedded commas, quotes ("") and newlines.
import { DecodeError } from '../errors.ts';

/**
 * Parse CSV text into rows of fields.
 * @example parseCsv('a,b\n1,"x, ""y"""\n') // [['a', 'b'], ['1', 'x, "y"']]
 */
export function parseCsv(text: string, file = 'csv'): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // byte-order mark
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (quoted) throw new DecodeError('unterminated quoted field at the end of the file', { file });
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** CSV with a header row as records keyed by column name. */
export function parseCsvRecords(text: string, file = 'csv'): { columns: string[]; records: Record<string, string>[] } {
  const rows = parseCsv(text, file);
  if (rows.length === 0) throw new DecodeError('empty CSV: no header row', { file });
  const columns = rows[0]!.map((c) => c.trim());
  const records = rows.slice(1).map((r, n) => {
    if (r.length !== columns.length) throw new DecodeError(`row ${n + 2} has ${r.length} fields, the header has ${columns.length}`, { file });
    return Object.fromEntries(columns.map((c, j) => [c, r[j]!]));
  });
  return { columns, records };
}

/** Quote a field for CSV output when needed. */
export function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
