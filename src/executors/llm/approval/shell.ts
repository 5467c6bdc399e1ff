/**
 * How a `run_shell` command looks to a rule. The command is never parsed as
 * a shell would parse it: a rule only needs to know whether the text might
 * run more than one program, and that question is answered conservatively.
 * Any shell control or substitution character anywhere, even inside quotes,
 * counts (`;`, `&`, `|`, `<`, `>`, `(`, `)`, `` ` ``, `$(`, a line break), so a
 * quoted `';'` makes an allow rule miss, never a chained `rm` slip through one.
 */

/** Characters after which sh may start another program, or send output somewhere a prefix does not show. */
const SHELL_SYNTAX = /[;&|<>()`\n\r]|\$\(/;
const SHELL_SYNTAX_GLOBAL = new RegExp(SHELL_SYNTAX.source, 'g');

/** The command as rules see it: trimmed, every run of spaces and tabs one space. */
export function normalizeCommand(command: string): string {
  return command.trim().replace(/[ \t]+/g, ' ');
}

/** The first shell control character in `command`, or undefined when it is one simple command. */
export function shellSyntaxIn(command: string): string | undefined {
  return SHELL_SYNTAX.exec(command)?.[0];
}

/**
 * Every piece `command` could run as a program on its own: the whole
 * command and the texts between any two control characters, normalized.
 * A deny rule matches if any piece matches, so `npm test && rm -rf build`
 * is caught by a rule for `rm`. Splitting inside quotes only adds pieces.
 */
export function commandPieces(command: string): string[] {
  const pieces = command.split(SHELL_SYNTAX_GLOBAL).map(normalizeCommand).filter(Boolean);
  return [...new Set([normalizeCommand(command), ...pieces])];
}
