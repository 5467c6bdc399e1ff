/**
 * The local stack's defaults, apart from the stack itself: commands show them
 * in their options, and a command that does not start the stack must not
 * load the worker to do so (see main.ts).
 */
export const DEFAULT_DB_FILE = '.tao/dev.db';
export const DEFAULT_UI_PORT = 8233;
