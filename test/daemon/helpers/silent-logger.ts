import winston from 'winston';

/** Tests provoke errors on purpose; keep their logs out of the test output. */
export const silentLogger = winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });
