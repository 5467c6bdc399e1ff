/**
 * The names of the workspace tools, apart from the tools themselves: agent
 * profiles (./profiles, read by ./config) name them without importing the
 * tool code and what it imports, so no llm module imports back into the
 * config. A leaf: it imports nothing.
 */
export const TOOL_NAMES = [
  'read_file',
  'list_directory',
  'search_text',
  'glob',
  'write_file',
  'run_shell',
] as const;
export type ToolName = (typeof TOOL_NAMES)[number];
export const READ_ONLY_TOOLS: readonly ToolName[] = ['read_file', 'list_directory', 'search_text', 'glob'];
/** The tools that read every file below their `path`, not only the one it names. */
export const WALKING_TOOLS: readonly ToolName[] = ['search_text', 'glob'];
