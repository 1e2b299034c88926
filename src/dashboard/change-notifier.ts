/**
 * Who wants to hear that a part of the page's model changed. Keys name the
 * part: `boards`, `board:<id>`, `console:<id>`, `runs`, `run:<id>`,
 * `board-runs:<id>` (a run on that board came or changed status or verdict),
 * `runs-ended`, `connection`, `identity`, `scenarios`, `notices`.
 */
export type Listener = () => void;

export class ChangeNotifier {
  private readonly listeners = new Map<string, Set<Listener>>();

  on(key: string, listener: Listener): () => void {
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (!set.size) this.listeners.delete(key);
    };
  }

  emit(key: string): void {
    const set = this.listeners.get(key);
    if (!set) return;
    for (const listener of [...set]) listener();
  }
}
