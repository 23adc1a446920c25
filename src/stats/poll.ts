// Fresh numbers from several members (worker processes, threads): ask each,
// and settle once all have answered or after a bounded wait, whichever is
// first — a member that is busy or gone must not hold up a stats client.
// Several clients may be waiting at once; each answer counts for all of them.

interface Wait<M> { pending: Set<M>; finish: () => void }

export class StatsPoll<M> {
  private readonly waits = new Set<Wait<M>>();

  /** `member` has answered (or is gone): waits that need nobody else settle. */
  answered(member: M): void {
    for (const w of this.waits) {
      w.pending.delete(member);
      if (w.pending.size === 0) w.finish();
    }
  }

  /** Asks `members` (via `ask`) and resolves with `result()` when all answered or after `waitMs`. */
  collect<R>(members: readonly M[], ask: (member: M) => void, waitMs: number, result: () => R): Promise<R> {
    for (const m of members) ask(m);
    return new Promise((resolve) => {
      const wait: Wait<M> = {
        pending: new Set(members),
        finish: () => {
          if (!this.waits.delete(wait)) return;
          clearTimeout(timer);
          resolve(result());
        },
      };
      const timer = setTimeout(wait.finish, waitMs);
      this.waits.add(wait);
      if (members.length === 0) wait.finish();
    });
  }
}
