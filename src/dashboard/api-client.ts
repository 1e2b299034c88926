/**
 * Calls to the daemon's HTTP API with the page's token. Errors carry the
 * daemon's `{"error": {code, message}}` so the page can say what went wrong.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The daemon's `error.details`, when it gave any (e.g. `param` of a refused run parameter). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const REQUEST_TIMEOUT_MS = 15_000;

export class ApiClient {
  constructor(
    private readonly token: () => string | null,
    /** Called on 401: the token is missing, revoked or wrong. */
    private readonly onUnauthorized: () => void,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  /** A protected file (JUnit, JSON report) fetched with the token; the name comes from Content-Disposition. */
  async download(path: string, fallbackName: string): Promise<{ blob: Blob; filename: string }> {
    const response = await this.send('GET', path);
    const disposition = response.headers.get('content-disposition') ?? '';
    const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    return { blob: await response.blob(), filename: named ? decodeURIComponent(named[1]!) : fallbackName };
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const token = this.token();
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        cache: 'no-store',
      });
    } catch (error) {
      throw new ApiError(0, 'unreachable', `the daemon did not answer (${(error as Error).message})`);
    }
    if (response.ok) return response;
    let code = `http-${response.status}`;
    let message = response.statusText || `HTTP ${response.status}`;
    let details: Record<string, unknown> = {};
    try {
      const answer = (await response.json()) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } };
      code = answer.error?.code ?? code;
      message = answer.error?.message ?? message;
      details = answer.error?.details ?? details;
    } catch {
      // not JSON: keep the status text
    }
    if (response.status === 401) this.onUnauthorized();
    throw new ApiError(response.status, code, message, details);
  }
}
