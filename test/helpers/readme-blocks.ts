/**
 * The README's command blocks, as the README test runs them. Fenced `sh` blocks run in order; other languages
 * (`python`, `yaml`, `text`, `properties`, ...) never run. A marker on the line right before a fence (blank lines
 * between are allowed) changes what happens to that block:
 * - `<!-- readme-test: skip (reason) -->`: not run; the reason is required (needs podman, a cluster, a GPU, ...);
 * - `<!-- readme-test: after stopping npm start -->`: the `npm start` server is stopped first (Ctrl-C, SIGINT).
 */
export interface ReadmeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** The commands, de-indented as the fence was. */
  text: string;
  skip?: string;
  stopNpmStartFirst: boolean;
}

const MARKER = /^\s*<!--\s*readme-test:\s*(.*?)\s*-->\s*$/;
const FENCE = /^(\s*)```(\S*)\s*$/;

export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const out: ReadmeBlock[] = [];
  let marker: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i]);
    if (m) {
      marker = m[1];
      continue;
    }
    const fence = FENCE.exec(lines[i]);
    if (!fence) {
      if (lines[i].trim() !== '') marker = undefined;
      continue;
    }
    const [, indent, lang] = fence;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !new RegExp(`^${indent}\`\`\`\\s*$`).test(lines[j]); j++) body.push(lines[j].slice(indent.length));
    if (j === lines.length) throw new Error(`README line ${i + 1}: the fence is never closed`);
    if (lang === 'sh') {
      const block: ReadmeBlock = { line: i + 1, text: body.join('\n'), stopNpmStartFirst: false };
      if (marker !== undefined) {
        const skip = /^skip\s*\((.+)\)$/.exec(marker);
        if (skip) block.skip = skip[1];
        else if (marker === 'after stopping npm start') block.stopNpmStartFirst = true;
        else throw new Error(`README line ${i}: unknown readme-test marker "${marker}" (skip (reason), after stopping npm start)`);
      }
      out.push(block);
    }
    marker = undefined;
    i = j;
  }
  return out;
}

/**
 * A block as the test runs it: the three ports replaced, curl told to fail on an HTTP error (`--fail-with-body`,
 * so a 404 fails the block) and to stay quiet about progress, `npm install`/`npm ci` replaced by nothing (the
 * copy links the checkout's node_modules), and the block split around a line that is `npm start` (run in the
 * background until /ping answers).
 */
export function prepare(text: string, ports: Record<'8080' | '8081' | '8082', number>): { before: string; npmStart: boolean; after: string } {
  const substituted = text
    .replace(/\b(8080|8081|8082)\b/g, (p) => String(ports[p as keyof typeof ports]))
    .replace(/(^|[\s;&|(])curl /gm, '$1curl -sS --fail-with-body ')
    .replace(/^npm (install|ci)\b[^\n]*$/gm, ': # npm install: the copy links the checkout\'s node_modules');
  const lines = substituted.split('\n');
  const at = lines.findIndex((l) => /^npm start(\s+#.*)?$/.test(l.trim()));
  if (at < 0) return { before: substituted, npmStart: false, after: '' };
  return { before: lines.slice(0, at).join('\n'), npmStart: true, after: lines.slice(at + 1).join('\n') };
}
