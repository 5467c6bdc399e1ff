/**
 * TAO's own workflows, bundled when the package is built rather than each
 * time a worker starts: a worker then never loads webpack, which takes it
 * seconds and leaves it holding some 150 MiB it no longer needs. Two bundles,
 * because the SDK's OpenTelemetry workflow interceptors must be inside the
 * bundle when tracing is on and cost a span per activity when it is off.
 * Run from sources (tests, ts-node), there are none, and workers bundle at start.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const fileName = (traced: boolean) => (traced ? 'workflow-bundle.traced.js' : 'workflow-bundle.js');

/** The prebuilt bundle beside this module, if the build made one. */
export function prebuiltWorkflowBundle(traced: boolean): string | undefined {
  const path = join(__dirname, fileName(traced));
  return existsSync(path) ? path : undefined;
}

/**
 * A short digest of the prebuilt workflow code, which changes whenever the
 * workflows or the SDK code bundled with them do; undefined without a build.
 * The untraced bundle stands for both: tracing adds interceptors, not
 * commands, so the two replay the same histories.
 */
export function workflowBundleDigest(): string | undefined {
  const path = prebuiltWorkflowBundle(false);
  return path && createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 12);
}

/**
 * Writes both bundles into `dir` (the build's output, where this module's
 * compiled form lives), made for what a worker holds: a worker keeps several
 * copies of a bundle's code and its inline source map (each thread's, and
 * the SDK's re-encoded one), so
 * - the source map leaves out the sources' text, which only the stack-trace
 *   query's `showStackTraceSources` reads (off in TAO's workers): stack
 *   traces still name the TypeScript file, line and column;
 * - the code is ASCII, so V8 keeps each copy as a one-byte string: one `…`
 *   in a comment makes it two bytes a character throughout;
 * - a module is named by its path in its package ({@link moduleName}), not
 *   by where the build ran, in the map and so in every stack trace (the SDK
 *   keeps one for each pending promise).
 * An idle script worker held 24 MiB less RSS for these (see docs/deploy.md).
 */
export async function buildWorkflowBundles(dir: string): Promise<void> {
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error };
  const workflowsPath = require.resolve('./workflows');
  for (const traced of [false, true]) {
    const { code } = await bundleWorkflowCode({
      workflowsPath,
      workflowInterceptorModules: traced
        ? [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')]
        : [],
      webpackConfigHook: (config) => ({
        ...config,
        devtool: 'inline-nosources-source-map',
        output: {
          ...config.output,
          devtoolModuleFilenameTemplate: ({ absoluteResourcePath }: { absoluteResourcePath: string }) =>
            moduleName(absoluteResourcePath, join(dir, '..')),
        },
      }),
      logger: quiet,
    });
    writeFileSync(join(dir, fileName(traced)), asciiCode(code));
  }
}

/**
 * `code` with each character past ASCII written as its `\uXXXX` escape,
 * which means the same in a string, a template (but for its raw text) and a
 * regular expression, and nothing in a comment, where most of them are. The
 * source map's columns after one on its line are off by five: a handful of
 * lines of the SDK's and TAO's text.
 */
function asciiCode(code: string): string {
  return code.replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * How stack traces name a bundled module: a dependency by its path from
 * `node_modules` (`@temporalio/workflow/src/internals.ts`, which the SDK's
 * trimming of its own frames matches), TAO's own by its path in the package
 * after `tao/` (`tao/dist/workflows/lib/steps.js`); webpack's own modules
 * keep theirs.
 */
function moduleName(absolutePath: string, packageRoot: string): string {
  const dependency = absolutePath.lastIndexOf('/node_modules/');
  if (dependency >= 0) return absolutePath.slice(dependency + '/node_modules/'.length);
  return isAbsolute(absolutePath) ? `tao/${relative(packageRoot, absolutePath)}` : absolutePath;
}
