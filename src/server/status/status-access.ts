// Who may read the status port: with status_token, only requests bearing it; without one
// (loopback only), only requests naming a loopback host, so a web page cannot DNS-rebind to it.
// Details (paths, messages) go to token bearers, or to everyone local with status_details = 1.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type AccessDecision =
  | { readonly isAllowed: true; readonly showsDetails: boolean }
  | { readonly isAllowed: false; readonly status: 401 | 403; readonly message: string };

export interface StatusAccessConfig {
  readonly statusToken: string | undefined;
  readonly statusDetails: boolean;
}

const LOOPBACK_HOST = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(:\d+)?$/i;

export function checkAccess(request: IncomingMessage, config: StatusAccessConfig, needsToken: boolean): AccessDecision {
  const token = config.statusToken;
  if (token === undefined) {
    if (!LOOPBACK_HOST.test(request.headers.host ?? '')) {
      return { isAllowed: false, status: 403, message: 'the status port answers only requests for a loopback host name' };
    }
    return { isAllowed: true, showsDetails: config.statusDetails };
  }
  if (!needsToken) return { isAllowed: true, showsDetails: false };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (match === null || !isSameSecret(match[1], token)) {
    return { isAllowed: false, status: 401, message: 'a valid "Authorization: Bearer <status_token>" header is required' };
  }
  return { isAllowed: true, showsDetails: true };
}

/** Hashing first gives equal lengths, so the comparison time says nothing about the token. */
function isSameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
