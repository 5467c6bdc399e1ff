// The closing line CI reads: `N passed, N failed` (and skipped), from jest's own counts.
// Also written to $TAO_TEST_SUMMARY_FILE so `.ci/run` can print it last, after jest's own summary.
const { writeFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    // Suites that failed to run count as failures even though they ran no test.
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed, ${skipped} skipped`;
    process.stdout.write(`\n${line}\n`);
    if (process.env.TAO_TEST_SUMMARY_FILE) writeFileSync(process.env.TAO_TEST_SUMMARY_FILE, `${line}\n`);
  }
}
module.exports = SummaryReporter;
