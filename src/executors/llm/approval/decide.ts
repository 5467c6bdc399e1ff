/**
 * Whether one tool call may run: the first of the profile's rules that
 * matches it decides, else the default. A pure function of the call and the
 * rules, so the same call under the same rules is decided the same way on
 * every attempt and every worker.
 *
 * Matching leans the safe way on both sides:
 * - an allow rule with a command pattern matches only one simple command
 *   (./shell): `npm test && rm -rf build` is not `npm test:*`;
 * - a deny rule matches if any piece of a chained command does;
 * - a path that is absolute or has a `..` segment matches no path rule (the
 *   workspace refuses it anyway), and globs see the path as the model gave
 *   it, symbolic links not followed;
 * - a deny of a walking tool (`search_text`, `glob`) also matches a walk
 *   that starts above what it names, since the walk would read it.
 *
 * `ask` hands the call to a person (../llm-executor ends the attempt with
 * it). `runAllows` are the allow rules people granted for the run ("approve
 * for this run"): they turn an `ask` into an `allow`, and never override a
 * `deny`. An ask verdict carries the rule such a grant would add: the asking
 * rule's tool and pattern, or, where the default asked, the tool by name.
 */
import { posix } from 'node:path';
import picomatch from 'picomatch';
import type { ToolGrant } from '../../../contracts';
import type { ToolCall } from '../chat';
import { WALKING_TOOLS } from '../tool-names';
import { type Decision, type ToolApproval, type ToolRule, escapes, ruleText, toolKind } from './rules';
import { commandPieces, normalizeCommand, shellSyntaxIn } from './shell';

/** Which rule decided, as the model and the operator read it: `toolApproval.rules.2 (deny run_shell(rm:*))`. */
export interface RuleRef {
  where: string;
  text: string;
}

export type Verdict =
  | { decision: 'allow'; rule?: RuleRef }
  | { decision: 'deny'; rule: RuleRef; reason: string }
  | { decision: 'ask'; rule: RuleRef; grant: ToolGrant };

interface CompiledRule {
  ref: RuleRef;
  decision: Decision;
  reason?: string;
  /** An ask rule's tool and pattern, as an allow would take them. */
  grant?: ToolGrant;
  matches(call: Pick<ToolCall, 'name' | 'input'>): boolean;
}

/** A {@link ToolApproval} with its patterns compiled once, for every call of a step. */
export interface ApprovalPolicy {
  rules: readonly CompiledRule[];
  fallback: Omit<CompiledRule, 'matches'>;
}

export function compilePolicy(approval: ToolApproval, where = 'toolApproval'): ApprovalPolicy {
  return {
    rules: compileRules(approval.rules, `${where}.rules`),
    fallback: { ref: { where: `${where}.default`, text: approval.default }, decision: approval.default },
  };
}

/** Rules under `where` (their refs say `<where>.<index>`): a policy's, or a run's granted allows. */
export function compileRules(rules: readonly ToolRule[], where: string): CompiledRule[] {
  return rules.map(({ decision, reason, ...grant }, index) => ({
    ref: { where: `${where}.${index}`, text: ruleText({ decision, ...grant }) },
    decision,
    ...(reason !== undefined ? { reason } : {}),
    ...(decision === 'ask' ? { grant } : {}),
    matches: matcherFor({ decision, ...grant }),
  }));
}

/** The run's granted allows, compiled as `toolGrants.<index>`. */
export function compileGrants(grants: readonly ToolGrant[]): CompiledRule[] {
  return compileRules(
    grants.map((grant) => ({ ...grant, decision: 'allow' as const })),
    'toolGrants',
  );
}

export function decide(
  call: Pick<ToolCall, 'name' | 'input'>,
  policy: ApprovalPolicy,
  runAllows: readonly CompiledRule[] = [],
): Verdict {
  const { ref, decision, reason, grant } = policy.rules.find((rule) => rule.matches(call)) ?? policy.fallback;
  if (decision === 'deny') {
    return { decision, rule: ref, reason: reason ?? `no rule before it allows ${describeCall(call)}` };
  }
  if (decision === 'allow') return { decision, rule: ref };
  const granted = runAllows.find((rule) => rule.decision === 'allow' && rule.matches(call));
  if (granted) return { decision: 'allow', rule: granted.ref };
  return { decision, rule: ref, grant: grant ?? { tool: ruleToolName(call.name) } };
}

/** The error result the model reads for a call that may not run: which rule, and why. */
export function denialText(verdict: Extract<Verdict, { decision: 'deny' }>): string {
  return `error: denied by ${verdict.rule.where} (${verdict.rule.text}): ${verdict.reason}. The call did not run.`;
}

/** A called tool's name as a rule gives it: an MCP tool's `server__tool` as `server.tool`. */
function ruleToolName(called: string): string {
  const split = called.indexOf('__');
  return split > 0 && toolKind(called) === undefined
    ? `${called.slice(0, split)}.${called.slice(split + 2)}`
    : called;
}

const SHORT_ARGUMENT = 120;

function describeCall(call: Pick<ToolCall, 'name' | 'input'>): string {
  const kind = toolKind(call.name);
  const argument =
    kind === 'shell' ? shellCommand(call.input) : kind === 'file' ? filePath(call.input) : undefined;
  if (argument === undefined) return call.name;
  const shown = argument.length > SHORT_ARGUMENT ? `${argument.slice(0, SHORT_ARGUMENT)}…` : argument;
  return `${call.name}(${shown})`;
}

function matcherFor(rule: ToolRule): CompiledRule['matches'] {
  const named = toolNameMatcher(rule.tool);
  const kind = toolKind(rule.tool);
  if (kind === 'shell' && (rule.command ?? rule.prefix ?? rule.regex) !== undefined) {
    const piece = pieceMatcher(rule);
    // Allow: the command must be one simple command, unless the rule says to take it whole.
    const candidates =
      rule.decision === 'allow'
        ? (command: string) =>
            rule.shellOperators || shellSyntaxIn(command) === undefined ? [normalizeCommand(command)] : []
        : commandPieces;
    return (call) => {
      const command = named(call.name) ? shellCommand(call.input) : undefined;
      return command !== undefined && candidates(command).some(piece);
    };
  }
  if (kind === 'file' && rule.path !== undefined) {
    const glob = picomatch(rule.path, { dot: true });
    const reached =
      rule.decision !== 'allow' && (WALKING_TOOLS as readonly string[]).includes(rule.tool)
        ? walkReaches(rule.path)
        : () => false;
    return (call) => {
      const path = named(call.name) ? filePath(call.input) : undefined;
      if (path === undefined || escapes(path)) return false;
      const normalized = normalizePath(path);
      return glob(normalized) || reached(normalized);
    };
  }
  return (call) => named(call.name);
}

/**
 * For a deny of a walking tool: whether a walk from `root` could reach a
 * path the glob names, i.e. the glob's literal start lies at or below it
 * (`search_text` from `.` reads `secrets/key.pem`). A glob with no literal
 * start, one for every `.pem` file say, can match below any root.
 */
function walkReaches(pattern: string): (root: string) => boolean {
  const base = picomatch.scan(pattern).base;
  return (root) => base === '' || root === '.' || base === root || base.startsWith(`${root}/`);
}

/** How a call's name is checked: built-ins by name, MCP tools (`server__tool` to the model) as `server.tool` or `server.*`. */
function toolNameMatcher(tool: string): (name: string) => boolean {
  if (toolKind(tool) !== 'mcp') return (name) => name === tool;
  const [server, name] = tool.split('.') as [string, string];
  return name === '*'
    ? (called) => called.startsWith(`${server}__`)
    : (called) => called === `${server}__${name}`;
}

function pieceMatcher(rule: ToolRule): (piece: string) => boolean {
  if (rule.command !== undefined) {
    const command = normalizeCommand(rule.command);
    return (piece) => piece === command;
  }
  if (rule.prefix !== undefined) {
    const prefix = normalizeCommand(rule.prefix);
    return (piece) => piece === prefix || piece.startsWith(`${prefix} `);
  }
  const whole = new RegExp(`^(?:${rule.regex})$`);
  return (piece) => whole.test(piece);
}

function shellCommand(input: unknown): string | undefined {
  const command = (input as { command?: unknown } | null)?.command;
  return typeof command === 'string' ? command : undefined;
}

/** The path a file tool acts on; the listing tools' default, the root, when none is given. */
function filePath(input: unknown): string | undefined {
  const path = (input as { path?: unknown } | null)?.path;
  if (path === undefined) return typeof input === 'object' && input !== null ? '.' : undefined;
  return typeof path === 'string' ? path : undefined;
}

/** `./src//a.ts` → `src/a.ts`, as the workspace would resolve it. */
function normalizePath(path: string): string {
  return posix.normalize(path).replace(/\/+$/, '') || '.';
}
