import { readFileSync } from 'node:fs';

/**
 * CPU time of the calling thread, ms: utime + stime of /proc/thread-self/stat
 * (Linux; undefined elsewhere). Unlike event-loop busy time, it does not count
 * the time the OS gave the core to another process, which on a shared machine
 * is most of the noise between runs of bench/daa.ts.
 */
const TICKS_PER_SECOND = 100;

export function threadCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}
