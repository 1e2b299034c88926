import { RigError } from '../util/failure.js';

/**
 * Malformed bytes or JSON in an image, file system, manifest or capability image.
 * `where` says exactly where: a byte offset into the buffer being parsed, or a
 * JSON path; `deviceErrorCode` is the code a real device answers for the fault,
 * when one exists.
 */
export class FormatError extends RigError {
  readonly offset: number | undefined;
  readonly jsonPath: string | undefined;
  readonly deviceErrorCode: number | undefined;

  constructor(
    code: string,
    message: string,
    where: { offset?: number; jsonPath?: string; deviceErrorCode?: number; file?: string } = {},
  ) {
    const location =
      where.offset !== undefined
        ? ` (at byte offset ${where.offset}${where.offset >= 0 ? ` / 0x${where.offset.toString(16)}` : ''})`
        : where.jsonPath !== undefined
          ? ` (at ${where.jsonPath})`
          : '';
    super('test-failed', code, `${where.file ? `${where.file}: ` : ''}${message}${location}`, { ...where });
    this.offset = where.offset;
    this.jsonPath = where.jsonPath;
    this.deviceErrorCode = where.deviceErrorCode;
  }
}
