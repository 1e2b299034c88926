import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';

/**
 * Express 5 ships no TypeScript types and the project adds no @types package,
 * so it is loaded through `require` and described here as far as the DAA
 * service uses it. A router is a plain `(req, res, next)` function, so whatever
 * typing the daemon uses, it mounts one with `app.use('/daa', router)`.
 */
export interface HttpRequest extends IncomingMessage {
  params: Record<string, string>;
  query: Record<string, unknown>;
  path: string;
}

export interface HttpResponse extends ServerResponse {
  status(code: number): HttpResponse;
  json(body: unknown): HttpResponse;
  type(contentType: string): HttpResponse;
  send(body: string | Buffer): HttpResponse;
  set(field: string, value: string): HttpResponse;
}

export type NextFunction = (error?: unknown) => void;
export type RequestHandler = (req: HttpRequest, res: HttpResponse, next: NextFunction) => void;
export type ErrorHandler = (error: unknown, req: HttpRequest, res: HttpResponse, next: NextFunction) => void;

export interface HttpRouter extends RequestHandler {
  get(path: string, ...handlers: RequestHandler[]): HttpRouter;
  post(path: string, ...handlers: RequestHandler[]): HttpRouter;
  put(path: string, ...handlers: RequestHandler[]): HttpRouter;
  delete(path: string, ...handlers: RequestHandler[]): HttpRouter;
  use(...handlers: Array<RequestHandler | ErrorHandler | HttpRouter>): HttpRouter;
}

export interface HttpApp extends HttpRouter {
  disable(setting: string): HttpApp;
  /** What `http.createServer` takes: the app handles a request without a `next`. */
  (req: IncomingMessage, res: ServerResponse): void;
}

interface ExpressModule {
  (): HttpApp;
  Router(options?: { caseSensitive?: boolean; strict?: boolean }): HttpRouter;
}

const require = createRequire(import.meta.url);
export const express = require('express') as ExpressModule;
