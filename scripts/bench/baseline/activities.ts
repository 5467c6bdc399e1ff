/** The hand-written baseline's one activity: returns its input, as a zero-delay script step does. */
export async function step(input: string): Promise<string> {
  return input;
}
