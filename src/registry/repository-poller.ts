/**
 * Triton's `--model-control-mode=poll`: every `--repository-poll-secs` the repository is scanned; a new model folder
 * is loaded, a removed one unloaded, and one whose files changed (config.pbtxt, version folders, model files) is
 * reloaded. A changed model whose new config does not even parse keeps its loaded versions (Triton keeps the old
 * model when a reload fails); one that parses but fails to start is left unloaded, with the reason logged.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { openSource } from '../sources/source.ts';
import type { Registry } from './registry.ts';
import { everyRepositoryModel } from './startup.ts';

/** Names, sizes and mtimes of everything in the model's folder (two levels: versions and their files). */
async function fingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  const walk = async (d: string, depth: number): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(d, e.name);
      const st = await fs.stat(full).catch(() => undefined);
      if (!st) continue;
      parts.push(`${path.relative(dir, full)}:${st.size}:${st.mtimeMs}`);
      if (e.isDirectory() && depth < 2) await walk(full, depth + 1);
    }
  };
  const st = await fs.stat(dir).catch(() => undefined);
  if (st?.isFile()) return `${st.size}:${st.mtimeMs}`;
  await walk(dir, 0);
  return parts.join('|');
}

export class RepositoryPoller {
  private readonly seen = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly registry: Registry,
    private readonly repo: string,
    private readonly everyMs: number,
    private readonly log: Logger,
  ) {}

  /** Records what is loaded now, then scans on a timer. */
  async start(): Promise<void> {
    for (const m of await everyRepositoryModel(this.repo)) this.seen.set(m.url, await fingerprint(path.join(this.repo, m.url)));
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.scanning = this.scan()
        .catch((err: Error) => this.log.error({ error: err.message }, 'model repository poll failed'))
        .finally(() => this.schedule());
    }, this.everyMs);
    this.timer.unref();
  }

  private loadedUrls(): Set<string> {
    return new Set(this.registry.all().map((mv) => mv.url));
  }

  private async unload(url: string): Promise<void> {
    for (const mv of this.registry.all().filter((v) => v.url === url)) {
      const dflt = this.registry.defaultVersionOf(mv.name);
      const others = this.registry.versionsOf(mv.name).filter((v) => v.version !== dflt);
      for (const v of [...others, ...this.registry.versionsOf(mv.name).filter((x) => x.version === dflt)]) {
        await this.registry.unregister(v.name, v.version).catch(() => {});
      }
    }
  }

  /** One pass over the repository (exposed for tests). */
  async scan(): Promise<void> {
    const now = new Map<string, string>();
    for (const m of await everyRepositoryModel(this.repo)) now.set(m.url, await fingerprint(path.join(this.repo, m.url)));
    const loaded = this.loadedUrls();
    for (const url of [...this.seen.keys()]) {
      if (now.has(url)) continue;
      this.seen.delete(url);
      await this.unload(url);
      this.log.info({ model: url }, 'model removed from the repository: unloaded');
    }
    for (const [url, print] of now) {
      // Unchanged (loaded, or failed the last time it was tried): nothing to do until its files change.
      if (this.seen.get(url) === print) continue;
      const changed = this.seen.has(url);
      this.seen.set(url, print);
      if (loaded.has(url)) {
        try {
          await this.check(url);
        } catch (err) {
          this.log.error({ model: url, error: (err as Error).message }, 'changed model does not load: the loaded versions stay');
          continue;
        }
        await this.unload(url);
      }
      try {
        const versions = await this.registry.registerAll({ url });
        this.log.info({ model: url, versions: versions.map((v) => v.version) }, changed ? 'model reloaded from the repository' : 'model loaded from the repository');
      } catch (err) {
        this.log.error({ model: url, error: (err as Error).message }, 'model in the repository failed to load');
      }
    }
  }

  /** Reads the changed model's config and version folders without loading anything (repository folders are served in place). */
  private async check(url: string): Promise<void> {
    const source = await openSource(path.join(this.repo, url), url);
    if (source.kind === 'mar') return;
    await source.prepare({ strictConfig: this.registry.strictModelConfig, scratch: () => Promise.reject(new Error('not unpacking while checking')) });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.scanning;
  }
}
