import { request as httpRequest } from 'node:http';

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string | number>;
  /** Sent as is; an array is sent chunk by chunk (chunked encoding unless a length is given). */
  body?: string | Buffer | Buffer[];
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** One HTTP request on its own connection; a server that answers early (413) and resets still yields its answer. */
export function rawRequest(port: number, req: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let answered: RawResponse | null = null;
    const client = httpRequest({ host: '127.0.0.1', port, method: req.method ?? 'GET', path: req.path, headers: req.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => (answered ? resolve(answered) : reject(new Error('response aborted'))));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = null;
        }
        answered = { status: res.statusCode ?? 0, headers: res.headers, text, json };
        resolve(answered);
      });
    });
    client.on('error', (error) => {
      // The server may stop reading a body it refused and close the connection.
      setTimeout(() => (answered ? resolve(answered) : reject(error)), 50);
    });
    const body = req.body;
    if (Array.isArray(body)) {
      for (const chunk of body) client.write(chunk);
      client.end();
    } else {
      client.end(body);
    }
  });
}
