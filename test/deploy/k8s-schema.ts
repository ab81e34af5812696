/**
 * Offline checks of Kubernetes objects: kubernetes-models@4 validates types, required fields and quantities
 * (its ajv validators), and a known-field check finds what those validators let through, such as a misspelt
 * `readinesProbe:`. The known fields come from kubernetes-models' own type definitions (its `.d.ts` files list
 * every field of every type), walked along the object; maps (labels, annotations, limits) take any key.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import YAML from 'yaml';

const require = createRequire(import.meta.url);
const MODELS = path.dirname(require.resolve('kubernetes-models/package.json'));
const NODE_MODULES = path.dirname(MODELS);

/** A field's type as the walk needs it: another type's file, a list of one, or a leaf (anything else). */
type FieldType = { file: string; list: boolean } | null;
const types = new Map<string, Map<string, FieldType> | null>();

/** The fields of the one interface a `.d.ts` file declares, or null when it declares none (an alias). */
function fieldsOf(file: string): Map<string, FieldType> | null {
  const cached = types.get(file);
  if (cached !== undefined) return cached;
  const text = fs.readFileSync(file, 'utf8');
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) {
    const spec = m[2];
    imports.set(m[1], spec.startsWith('.') ? path.resolve(path.dirname(file), `${spec}.d.ts`) : path.join(NODE_MODULES, `${spec}.d.ts`));
  }
  const body = /^export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/m.exec(text);
  if (!body) {
    types.set(file, null);
    return null;
  }
  const fields = new Map<string, FieldType>();
  for (const m of body[1].matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) {
    const ref = /^(Array<)?(IIoK8s\w+)>?;$/.exec(m[2]);
    const target = ref ? imports.get(ref[2]) : undefined;
    fields.set(m[1], target ? { file: target, list: ref![1] !== undefined } : null);
  }
  types.set(file, fields);
  return fields;
}

/** Fields of `value` that its type does not have, as JSON-pointer-like paths. */
export function unknownFields(value: unknown, file: string, at = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const fields = fieldsOf(file);
  if (!fields) return [];
  const out: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (!fields.has(key)) {
      out.push(`${at}/${key}`);
      continue;
    }
    const t = fields.get(key);
    if (!t || !fs.existsSync(t.file)) continue;
    if (t.list && Array.isArray(v)) v.forEach((item, i) => out.push(...unknownFields(item, t.file, `${at}/${key}/${i}`)));
    else if (!t.list) out.push(...unknownFields(v, t.file, `${at}/${key}`));
  }
  return out;
}

/** The type definition file of a core or `apps/v1`-style kind in kubernetes-models. */
export function typeFile(apiVersion: string, kind: string): string {
  return path.join(MODELS, apiVersion, `${kind}.d.ts`);
}

/** Every problem with one object: schema errors, then unknown fields. Empty when it is valid. */
export function k8sProblems(obj: { apiVersion?: string; kind?: string }): string[] {
  const { apiVersion, kind } = obj;
  if (!apiVersion || !kind) return ['the object has no apiVersion or kind'];
  let mod: Record<string, new (o: unknown) => { validate(): void }>;
  try {
    mod = require(`kubernetes-models/${apiVersion}`);
  } catch {
    return [`${apiVersion} is not a Kubernetes API version kubernetes-models knows`];
  }
  const Kind = mod[kind];
  if (!Kind) return [`${kind} is not a kind of ${apiVersion}`];
  const out: string[] = [];
  try {
    new Kind(obj).validate();
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; message?: string }[] }).errors;
    out.push(...(errors ?? [{ instancePath: '', message: (e as Error).message }]).map((x) => `${x.instancePath || '/'}: ${x.message}`));
  }
  out.push(...unknownFields(obj, typeFile(apiVersion, kind)).map((p) => `${p}: unknown field`));
  return out;
}

/** Problems of a value checked as one core/v1 type (e.g. `Container`). */
export function coreProblems(kind: string, value: unknown): string[] {
  const mod = require('kubernetes-models/v1') as Record<string, new (o: unknown) => { validate(): void }>;
  const out: string[] = [];
  try {
    new mod[kind](value).validate();
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; message?: string }[] }).errors;
    out.push(...(errors ?? [{ instancePath: '', message: (e as Error).message }]).map((x) => `${x.instancePath || '/'}: ${x.message}`));
  }
  out.push(...unknownFields(value, typeFile('v1', kind)).map((p) => `${p}: unknown field`));
  return out;
}

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const DEPLOY = path.join(ROOT, 'deploy');

/** True when kubectl (with its built-in kustomize) is on PATH. */
export function hasKubectl(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `kubectl kustomize DIR`, parsed into its objects. */
export function kustomize(dir: string): Array<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  return YAML.parseAllDocuments(text).map((d) => d.toJS()).filter((o) => o !== null);
}

/** Every YAML document of a file. */
export function yamlDocs(file: string): Array<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS()).filter((o) => o !== null);
}

/** The field names of a kubernetes-models type (e.g. `fieldNames('v1', 'PodSpec')`). */
export function fieldNames(apiVersion: string, kind: string): string[] {
  return [...(fieldsOf(typeFile(apiVersion, kind))?.keys() ?? [])];
}
