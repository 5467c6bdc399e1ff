/** The last `size` values set, by key: the oldest goes first. What a UI server keeps of runs it read. */
export class Kept<T> {
  private readonly values = new Map<string, T>();
  constructor(private readonly size: number) {}
  get(key: string): T | undefined {
    return this.values.get(key);
  }
  set(key: string, value: T): void {
    this.values.set(key, value);
    if (this.values.size > this.size) this.values.delete(this.values.keys().next().value!);
  }
}
