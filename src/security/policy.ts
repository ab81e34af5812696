/**
 * Who may call what, decided once at start from the config: whether tokens are on, and whether the start must be
 * refused because the management API (which registers archives, that is, runs code) would be open to a network.
 */
import { ServeError } from '../errors.ts';
import { isLoopback, type Address } from '../config/keys.ts';

/** The parts of `ServerConfig` the decision reads. */
export interface ExposureConfig {
  readonly inferenceAddress: Address;
  readonly managementAddress: Address;
  readonly disableTokenAuthorization?: boolean;
  readonly allowUnauthenticatedManagement: boolean;
}

export interface SecurityPlan {
  /** Token authorization on the inference and management APIs. */
  readonly tokens: boolean;
  /** Why tokens are on or off, for the start-up log. */
  readonly reason: string;
  /** Set when the start is allowed but a listener is open to the network without tokens. */
  readonly warning?: string;
}

const show = (a: Address) => `${a.scheme}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

/**
 * `disable_token_authorization=false` → tokens on; `true` → off; unset → on exactly when the inference or the
 * management listener is bound to a non-loopback address. Throws (the start is refused) when the management API
 * is on a non-loopback address without tokens, unless `allow_unauthenticated_management=true`.
 */
export function securityPlan(c: ExposureConfig): SecurityPlan {
  const exposed = [c.inferenceAddress, c.managementAddress].filter((a) => !isLoopback(a.host));
  const tokens = c.disableTokenAuthorization === undefined ? exposed.length > 0 : !c.disableTokenAuthorization;
  const reason =
    c.disableTokenAuthorization === undefined
      ? exposed.length > 0
        ? `${exposed.map(show).join(' and ')} ${exposed.length > 1 ? 'are' : 'is'} not a loopback address`
        : 'every listener is on a loopback address'
      : `disable_token_authorization=${c.disableTokenAuthorization}`;
  const mgmt = c.managementAddress;
  if (tokens || isLoopback(mgmt.host)) {
    const inferenceOpen = !tokens && !isLoopback(c.inferenceAddress.host);
    return {
      tokens,
      reason,
      ...(inferenceOpen && { warning: `the inference API on ${show(c.inferenceAddress)} answers anyone who can reach it: tokens are off (${reason})` }),
    };
  }
  if (c.allowUnauthenticatedManagement) {
    return {
      tokens,
      reason,
      warning: `the management API on ${show(mgmt)} answers anyone who can reach it (allow_unauthenticated_management=true): it can register models, that is, run code`,
    };
  }
  throw new ServeError(
    'BadRequest',
    `refusing to start: management_address ${show(mgmt)} is not a loopback address and token authorization is off ` +
      `(disable_token_authorization=true), so anyone who can reach it could register models, that is, run code. ` +
      `Fix: bind it to 127.0.0.1 (management_address=http://127.0.0.1:${mgmt.port}), or turn tokens on ` +
      `(remove disable_token_authorization or set it to false), or, if a firewall or an authenticating proxy guards ` +
      `that address, set allow_unauthenticated_management=true as well.`,
  );
}
