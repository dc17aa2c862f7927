// The REST API and the token. The token comes from the sign-in form or the URL fragment
// (#token=...), is kept in localStorage, and goes in the Authorization header; WebSockets carry it
// as ?token= (browsers cannot set headers on them).
const KEY = 'paddock-token';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
  // The field a validation message names ("cpus: expected ..."), if any.
  get field() {
    const m = /^([a-z_]+):/.exec(this.message);
    return this.status === 400 && m ? m[1] : null;
  }
}

export const token = {
  get: () => localStorage.getItem(KEY) || '',
  set: (t) => localStorage.setItem(KEY, t),
  clear: () => localStorage.removeItem(KEY),
};

// Called with a message when the server refuses the token (401); the app goes back to sign-in.
let onUnauthorized = () => {};
export function whenUnauthorized(f) { onUnauthorized = f; }

export async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + token.get() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'unreachable', 'paddockd is not reachable: ' + e.message);
  }
  const text = await r.text();
  const json = text && (r.headers.get('Content-Type') || '').startsWith('application/json') ? JSON.parse(text) : null;
  if (r.status === 401) {
    onUnauthorized('The token was not accepted. Sign in with the current one from state_dir/api-token.');
    throw new ApiError(401, 'unauthorized', json?.error?.message || 'unauthorized');
  }
  if (!r.ok) throw new ApiError(r.status, json?.error?.code || 'http_' + r.status, json?.error?.message || r.statusText);
  return json ?? text;
}

export const get = (path) => api('GET', path);

export function wsUrl(path, params = {}) {
  const q = new URLSearchParams({ ...params, token: token.get() });
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}?${q}`;
}
