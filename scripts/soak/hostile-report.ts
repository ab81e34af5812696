/** The hostile part of the soak's summary: each hostile kind's outcome, the SIGTERM phase, RSS at start and at the end. */
import type { HostileTally } from './hostile.ts';
import type { SigtermResult } from './sigterm.ts';

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

export function hostileReport(t: HostileTally, sig: SigtermResult | undefined, rssStart: number, rssEnd: number | undefined): { ok: boolean; text: string } {
  const out = ['', 'hostile clients'];
  const checks: Array<[boolean, string]> = [];
  for (const [kind, k] of t) {
    const left = k.abandoned > 0 ? `, ${k.abandoned} left by the client on purpose` : '';
    checks.push([k.wrong === 0, `${kind}: ${k.sent} sent, ${k.expected} answered as expected${left}, ${k.wrong} wrong or lost${k.example ? ` (e.g. ${k.example})` : ''}`]);
  }
  if (sig) {
    checks.push([
      sig.lost === 0,
      `SIGTERM under ${sig.sent + sig.refused > 0 ? 16 : 0} keep-alive clients: ${sig.sent} sent, ${sig.ok + sig.unavailable} answered (200 ${sig.ok}, 503 ${sig.unavailable}), ` +
        `${sig.lost} lost${sig.example ? ` (e.g. ${sig.example})` : ''}; ${sig.refused} connects refused after the listener closed`,
    ]);
  } else {
    checks.push([false, 'SIGTERM under load not run: the server was gone']);
  }
  out.push(`  server RSS at start ${mb(rssStart)}, at the end of the load ${rssEnd === undefined ? 'n/a' : mb(rssEnd)}`);
  for (const [ok, text] of checks) out.push(`  ${ok ? 'PASS' : 'FAIL'}  ${text}`);
  const ok = checks.every(([pass]) => pass);
  out.push(`hostile result: ${ok ? 'PASS' : 'FAIL'}`);
  return { ok, text: out.join('\n') };
}
