import winston from 'winston';

/**
 * One logger for the whole process: JSON lines when not on a terminal (daemon,
 * CI), readable colourised lines on a terminal. Level from SPHERE_RIG_LOG_LEVEL.
 */
const level = process.env.SPHERE_RIG_LOG_LEVEL ?? 'info';
const readable = process.stderr.isTTY && process.env.SPHERE_RIG_LOG_FORMAT !== 'json';

export const logger = winston.createLogger({
  level,
  format: readable
    ? winston.format.combine(
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        winston.format.colorize(),
        winston.format.printf(({ timestamp, level: lvl, message, component, ...rest }) => {
          const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
          return `${String(timestamp)} ${lvl} ${component ? `[${String(component)}] ` : ''}${String(message)}${extra}`;
        }),
      )
    : winston.format.combine(winston.format.timestamp(), winston.format.json()),
  // Logs go to stderr so stdout stays clean for --json output.
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })],
});

export function componentLogger(component: string): winston.Logger {
  return logger.child({ component });
}
