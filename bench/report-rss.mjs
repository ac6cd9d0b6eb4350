// Preloaded into a timed child (`node --import ./bench/report-rss.mjs ...`): at exit, the process's peak resident
// memory goes to stderr as one line the bench can find: "@@maxrss <KiB>".
import { writeSync } from 'node:fs';
process.on('exit', () => writeSync(2, `\n@@maxrss ${process.resourceUsage().maxRSS}\n`));
