/**
 * The API token the page uses. It arrives in the URL fragment (`#token=...`,
 * never sent to a server and dropped from the address bar at once) or from the
 * login box, and lives in sessionStorage: gone when the tab closes.
 */
const STORAGE_KEY = 'sphere-rig.api-token';

export function takeTokenFromFragment(): string | null {
  const parts = window.location.hash.replace(/^#/, '').split('&');
  const tokenPart = parts.find((part) => part.startsWith('token='));
  if (!tokenPart) return null;
  const token = decodeURIComponent(tokenPart.slice('token='.length));
  if (token) storeToken(token);
  const rest = parts.filter((part) => part !== tokenPart).join('&');
  history.replaceState(null, '', `${window.location.pathname}${window.location.search}#${rest || '/rig'}`);
  return token || null;
}

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string): void {
  try {
    sessionStorage.setItem(STORAGE_KEY, token);
  } catch {
    // storage disabled: the token lives as long as the page
  }
}

export function forgetToken(): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored
  }
}
