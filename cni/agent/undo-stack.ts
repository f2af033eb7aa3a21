// ADD undoes on failure: each successful step pushes its inverse, a failure unwinds them in
// reverse, and undo errors are attached to the original error rather than replacing it.
export class UndoStack {
  private readonly steps: { name: string; undo: () => Promise<void> | void }[] = [];

  push(name: string, undo: () => Promise<void> | void): void {
    this.steps.push({ name, undo });
  }

  async unwind(): Promise<string[]> {
    const failures: string[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step.undo();
      } catch (err) {
        failures.push(`${step.name}: ${(err as Error).message}`);
      }
    }
    return failures;
  }
}
