/**
 * Some parsers report odd input as process warnings (the yaml package emits a
 * YAMLWarning for an unknown tag, for instance). A million mutated inputs would
 * print a million of them, so the fuzzer counts them instead of letting Node
 * print them, and puts them back as they were when it is done.
 */
export interface WarningCounter {
  count: number;
  /** A few distinct warnings, for the report. */
  examples: Set<string>;
  restore(): void;
}

export function countWarnings(): WarningCounter {
  const previous = process.listeners('warning');
  process.removeAllListeners('warning');
  const counter: WarningCounter = {
    count: 0,
    examples: new Set(),
    restore: () => {
      process.removeListener('warning', onWarning);
      for (const listener of previous) process.on('warning', listener);
    },
  };
  const onWarning = (warning: Error): void => {
    counter.count++;
    if (counter.examples.size < 5) counter.examples.add(`${warning.name}: ${warning.message.split('\n')[0]}`);
  };
  process.on('warning', onWarning);
  return counter;
}
