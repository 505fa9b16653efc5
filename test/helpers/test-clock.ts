// A clock for TTLs that tests move by hand (the pull-through proxy's `now`).
export class TestClock {
  private offset = 0;
  readonly now = (): number => Date.now() + this.offset;
  advance(ms: number): void {
    this.offset += ms;
  }
}
