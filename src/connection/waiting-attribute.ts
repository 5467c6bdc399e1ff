/**
 * The search attribute `TaoWaitingSteps` (see workflows/lib/waiting-attribute)
 * on the server side: whether a namespace has it, registering it through the
 * operator service (`tao setup --address`, `tao dev`), and the worker's
 * one-line warning when it is missing.
 */
import { temporal } from '@temporalio/proto';
import { WAITING_STEPS_ATTRIBUTE } from '../workflows/lib/waiting-attribute';

/** A client `Connection` or a worker's `NativeConnection`. */
export interface OperatorConnection {
  operatorService: temporal.api.operatorservice.v1.OperatorService;
}

/** The Temporal CLI line that registers the attribute, for a cluster where TAO may not do it itself. */
export const createWaitingAttributeCommand = (namespace: string) =>
  `temporal operator search-attribute create --name ${WAITING_STEPS_ATTRIBUTE} --type KeywordList --namespace ${namespace}`;

export async function hasWaitingAttribute(
  connection: OperatorConnection,
  namespace: string,
): Promise<boolean> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  return WAITING_STEPS_ATTRIBUTE in (customAttributes ?? {});
}

const ALREADY_EXISTS = 6;
const UNIMPLEMENTED = 12;

/**
 * Registers the attribute in `namespace` unless it is there already. The
 * time-skipping test server cannot list search attributes; there it is added.
 */
export async function registerWaitingAttribute(
  connection: OperatorConnection,
  namespace: string,
): Promise<'registered' | 'present'> {
  const present = await hasWaitingAttribute(connection, namespace).catch((error: unknown) => {
    if ((error as { code?: number }).code === UNIMPLEMENTED) return false;
    throw error;
  });
  if (present) return 'present';
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: {
        [WAITING_STEPS_ATTRIBUTE]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
      },
    });
  } catch (error) {
    // Another process registered it meanwhile.
    if ((error as { code?: number }).code === ALREADY_EXISTS) return 'present';
    throw new Error(
      `cannot register the search attribute ${WAITING_STEPS_ATTRIBUTE} in namespace ${namespace}: ${(error as Error).message}; ask an operator to run: ${createWaitingAttributeCommand(namespace)}`,
    );
  }
  return 'registered';
}

/**
 * One line for a worker's log when the namespace lacks the attribute (a run
 * then stops at its first wait for a decision until it is registered), or
 * when the worker may not check; undefined when it is there.
 */
export async function waitingAttributeWarning(
  connection: OperatorConnection,
  namespace: string,
): Promise<string | undefined> {
  const fix = `tao setup --address <host:port> --namespace ${namespace}, or ${createWaitingAttributeCommand(namespace)}`;
  try {
    if (await hasWaitingAttribute(connection, namespace)) return undefined;
    return `namespace ${namespace} has no search attribute ${WAITING_STEPS_ATTRIBUTE}: a run stops at its first step waiting for a decision until it is registered; register it with ${fix}`;
  } catch (error) {
    const why = (error as Error).message.split('\n')[0];
    return `cannot check namespace ${namespace} for the search attribute ${WAITING_STEPS_ATTRIBUTE} (${why}); if it is missing, a run stops at its first step waiting for a decision; register it with ${fix}`;
  }
}

/** For a worker's start: says so on stderr when the attribute is missing; never fails. */
export async function warnIfWaitingAttributeMissing(
  connection: OperatorConnection,
  namespace: string,
): Promise<void> {
  const warning = await waitingAttributeWarning(connection, namespace);
  if (warning) console.error(warning);
}
