/**
 * A profile's `toolApproval` as the config file gives it: an ordered list of
 * rules and a default, checked here so that every rule that loads can match
 * something. A rule is an object, or a compact string in the style of Claude
 * Code's permission rules, which loads as the same object:
 *
 *   allow run_shell(npm test:*)   → { decision: allow, tool: run_shell, prefix: npm test }
 *   allow run_shell(git status)   → { decision: allow, tool: run_shell, command: git status }
 *   deny write_file(secrets/**)   → { decision: deny, tool: write_file, path: secrets/** }
 *   deny github.create_issue      → { decision: deny, tool: github.create_issue }
 *   ask run_shell(rm:*)           → { decision: ask, tool: run_shell, prefix: rm }
 *
 * `ask` hands the call to a person: the step's attempt ends with its
 * conversation saved and the step waits, holding no slot, until the call is
 * approved or rejected (see ../llm-executor and workflows/lib/approvals).
 */
import { z } from 'zod';
import { ToolGrantSchema } from '../../../contracts';
import { MCP_SERVER_NAME } from '../mcp/config';
import { TOOL_NAMES } from '../tool-names';
import { shellSyntaxIn } from './shell';

export type Decision = 'allow' | 'deny' | 'ask';

const DecisionSchema = z.enum(['allow', 'deny', 'ask'], {
  errorMap: (_issue, ctx) => ({
    message:
      ctx.data === undefined
        ? 'required: allow, ask or deny'
        : `${JSON.stringify(ctx.data)} is not a decision; use allow, ask or deny`,
  }),
});

/** Argument matchers; a rule has at most one, and none matches every call of its tool. */
const MATCHERS = ['command', 'prefix', 'regex', 'path'] as const;

/** A grant's fields (what a rule matches), with the decision and why. */
const RuleObjectSchema = ToolGrantSchema.extend({
  decision: DecisionSchema,
  /** Why, for the model to read when the rule denies a call. */
  reason: z.string().min(1).optional(),
})
  .strict()
  .superRefine((rule, ctx) => {
    for (const [field, message] of ruleProblems(rule))
      ctx.addIssue({ code: 'custom', message, path: [field] });
  });

export type ToolRule = z.infer<typeof RuleObjectSchema>;

/** Either form; both load as the object. */
const ToolRuleSchema = z.unknown().transform((given, ctx): ToolRule => {
  const object = typeof given === 'string' ? fromCompact(given) : given;
  if (typeof object === 'string') {
    ctx.addIssue({ code: 'custom', message: object });
    return z.NEVER;
  }
  const parsed = RuleObjectSchema.safeParse(object);
  if (parsed.success) return parsed.data;
  for (const { message, path } of parsed.error.issues) ctx.addIssue({ code: 'custom', message, path });
  return z.NEVER;
});

export const ToolApprovalSchema = z
  .object({
    /** What a call no rule matches gets; default allow, as before rules existed. */
    default: DecisionSchema.optional(),
    /** Tried in order; the first that matches the call decides. */
    rules: z.array(ToolRuleSchema).optional(),
  })
  .strict();

/** A profile's rules and default, as the decision takes them. */
export interface ToolApproval {
  default: Decision;
  rules: readonly ToolRule[];
}

export type ToolApprovalConfig = z.infer<typeof ToolApprovalSchema>;

export function withApprovalDefaults(config: ToolApprovalConfig): ToolApproval {
  return { default: config.default ?? 'allow', rules: config.rules ?? [] };
}

export type ToolKind = 'shell' | 'file' | 'mcp';

/** A tool name as models are offered it (see ../mcp/servers), or `*` for all of a server's. */
const MCP_TOOL_OR_ALL = /^([A-Za-z0-9_-]+|\*)$/;

/** Which kind of tool a rule's `tool` names, or undefined when it names none. */
export function toolKind(tool: string): ToolKind | undefined {
  if (tool === 'run_shell') return 'shell';
  if ((TOOL_NAMES as readonly string[]).includes(tool)) return 'file';
  return mcpServerOf(tool) === undefined ? undefined : 'mcp';
}

/** The server a `<server>.<tool>` or `<server>.*` rule names, or undefined when `tool` is not one. */
export function mcpServerOf(tool: string): string | undefined {
  const dot = tool.indexOf('.');
  const [server, name] = [tool.slice(0, dot), tool.slice(dot + 1)];
  return dot > 0 && MCP_SERVER_NAME.test(server) && MCP_TOOL_OR_ALL.test(name) ? server : undefined;
}

/** The rule as one line, the compact form where it has one: `deny run_shell(rm:*)`. */
export function ruleText(rule: ToolRule): string {
  const pattern =
    rule.command ??
    (rule.prefix !== undefined ? `${rule.prefix}:*` : undefined) ??
    (rule.regex !== undefined ? `/${rule.regex}/` : undefined) ??
    rule.path;
  const flags = rule.shellOperators ? ' with shellOperators' : '';
  return `${rule.decision} ${rule.tool}${pattern === undefined ? '' : `(${pattern})`}${flags}`;
}

const COMPACT = /^(\S+)\s+([^\s(]+)(?:\(([\s\S]*)\))?$/;

/** The object a compact rule stands for, or the one-line reason it is not one. */
function fromCompact(text: string): Record<string, unknown> | string {
  const match = COMPACT.exec(text.trim());
  if (!match) {
    return `${JSON.stringify(text)} is not a rule; write "<allow|ask|deny> <tool>" or "<allow|ask|deny> <tool>(<pattern>)", e.g. "allow run_shell(npm test:*)"`;
  }
  const [, decision, tool, pattern] = match as unknown as [string, string, string, string | undefined];
  if (pattern === undefined) return { decision, tool };
  if (pattern.trim() === '') {
    return `${JSON.stringify(text)} has empty parentheses; leave them out to match every call of ${tool}`;
  }
  if (toolKind(tool) === 'mcp') {
    return `${JSON.stringify(text)}: MCP tools are matched by name only (<server>.<tool> or <server>.*), not by arguments`;
  }
  if (toolKind(tool) !== 'shell') return { decision, tool, path: pattern };
  return pattern.endsWith(':*')
    ? { decision, tool, prefix: pattern.slice(0, -2) }
    : { decision, tool, command: pattern };
}

/** Every mistake in a rule object, as [field, one line naming the fix]. */
function ruleProblems(rule: ToolRule): [string, string][] {
  const kind = toolKind(rule.tool);
  if (kind === undefined) {
    return [
      [
        'tool',
        `unknown tool ${JSON.stringify(rule.tool)}; use a built-in tool (${TOOL_NAMES.join(', ')}) or an MCP tool as <server>.<tool> or <server>.*`,
      ],
    ];
  }
  const given = MATCHERS.filter((field) => rule[field] !== undefined);
  if (given.length > 1)
    return [[given[1]!, `give at most one of ${MATCHERS.join(', ')}; this rule has ${given.join(' and ')}`]];
  const problems: [string, string][] = [];
  const matcher = given[0];
  if (matcher !== undefined && kind === 'mcp') {
    problems.push([
      matcher,
      'MCP tools are matched by name only (<server>.<tool> or <server>.*), not by arguments',
    ]);
  } else if (matcher === 'path' && kind === 'shell') {
    problems.push(['path', 'path matches the file tools; a run_shell rule takes command, prefix or regex']);
  } else if (matcher !== undefined && matcher !== 'path' && kind === 'file') {
    problems.push([matcher, `${matcher} matches run_shell commands; a ${rule.tool} rule takes path`]);
  }
  if (rule.regex !== undefined) {
    try {
      new RegExp(rule.regex);
    } catch (error) {
      problems.push(['regex', `invalid regular expression (${(error as Error).message}); fix it`]);
    }
  }
  if (rule.path !== undefined && escapes(rule.path)) {
    problems.push([
      'path',
      `${JSON.stringify(rule.path)} must be a glob relative to the workspace root, with no ".." (paths outside the workspace never match)`,
    ]);
  }
  problems.push(...shellOperatorProblems(rule));
  return problems;
}

function shellOperatorProblems(rule: ToolRule): [string, string][] {
  if (rule.shellOperators) {
    if (rule.decision !== 'allow') {
      return [
        [
          'shellOperators',
          'shellOperators is for allow rules; a deny rule already matches every piece of a chained command',
        ],
      ];
    }
    if (rule.command === undefined && rule.regex === undefined) {
      return [
        [
          'shellOperators',
          'shellOperators needs command or regex: a prefix would let anything follow it, "; rm -rf ~" too',
        ],
      ];
    }
    return [];
  }
  const literal = rule.command ?? rule.prefix;
  const syntax = literal === undefined || rule.decision !== 'allow' ? undefined : shellSyntaxIn(literal);
  if (syntax === undefined) return [];
  const field = rule.command !== undefined ? 'command' : 'prefix';
  return [
    [
      field,
      `${JSON.stringify(literal)} contains shell syntax ${JSON.stringify(syntax)}, so an allow rule never matches it; give the whole command as command or regex with shellOperators: true`,
    ],
  ];
}

/**
 * The first rule of an agent's that could never match, because it names a
 * tool the agent is not offered, as one line naming the fix; undefined when
 * every rule names one of its tools. Checked when the worker starts, with
 * the agent's `tools` and `mcpServers`.
 */
export function unofferedToolProblem(
  approval: ToolApprovalConfig,
  tools: readonly string[],
  mcpServers: readonly string[],
): string | undefined {
  for (const [index, rule] of (approval.rules ?? []).entries()) {
    const server = mcpServerOf(rule.tool);
    const where = `toolApproval.rules.${index} (${ruleText(rule)})`;
    if (server !== undefined && !mcpServers.includes(server)) {
      return `${where} names MCP server "${server}", which the agent's mcpServers do not list; add it there or drop the rule`;
    }
    if (server === undefined && !tools.includes(rule.tool)) {
      return `${where} names ${rule.tool}, which the agent's tools do not list; add it there or drop the rule`;
    }
  }
  return undefined;
}

/** Whether a path (a glob or a model's argument) points outside the workspace or is not relative. */
export function escapes(path: string): boolean {
  return (
    path.includes('\0') ||
    path.startsWith('/') ||
    path.startsWith('\\') ||
    /^[A-Za-z]:/.test(path) ||
    path.split(/[\\/]+/).includes('..')
  );
}
