/**
 * One run's state, owned in one place and passed explicitly: its progress
 * board, controls (pause, concurrency, cancelStep), approvals, budget, the
 * outcomes a rerun reuses, and what the worker's executor said of itself.
 * Nothing in src/workflows keeps state at module level, so two combinators
 * called one after another in a user's workflow share nothing they were not
 * handed.
 *
 * Creating a context registers every query and Update of the run on the
 * current workflow, so a product workflow creates it first, before its input
 * is even parsed, and a query or Update always finds its handler. A
 * combinator called from a user's workflow without `context` creates its own;
 * a user who wants one progress query over several combinators creates one
 * with {@link createRunContext} and passes it to each.
 */
import {
  getExternalWorkflowHandle,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ExecutorInfo, TaoLocalActivities } from '../../activity-api';
import { type Budget, BudgetSchema, type Reuse, type ToolGrant, describeZodError } from '../../contracts';
import {
  Approvals,
  answerUpdate,
  approveUpdate,
  rejectUpdate,
  waitingPromptQuery,
  waitingToolCallQuery,
} from './approvals';
import { RunBudget, setBudgetUpdate } from './budget';
import {
  RunControls,
  cancelStepUpdate,
  pauseUpdate,
  resumeUpdate,
  setConcurrencyUpdate,
  steerPartitionSignal,
} from './controls';
import { StepMessages, messageUpdate, stepMessagesQuery } from './messages';
import { clampLimit } from './pool';
import { ProgressBoard, progressQuery } from './progress';
import { RunReuse } from './reuse';
import { ToolGrants, toolGrantSignal } from './tool-grants';

/** The kind in a split run's child ids (`<parent>/part<n>-<k>`, see {@link RunContext.childIdPrefix}). */
export const PARTITION = 'part';

const { executorInfo } = proxyLocalActivities<TaoLocalActivities>({ startToCloseTimeout: '10 seconds' });

export class RunContext {
  readonly board = new ProgressBoard();
  readonly controls = new RunControls();
  readonly approvals = new Approvals(this.board);
  readonly budget = new RunBudget();
  readonly messages = new StepMessages(this.board);
  reuse?: RunReuse;
  readonly toolGrants = new ToolGrants();
  private info?: Promise<ExecutorInfo>;
  /** What {@link executorInfo} resolved to, for Update validators, which cannot wait. */
  private known?: ExecutorInfo;
  private childGroups = 0;

  constructor() {
    this.board.steering = () => this.controls.state();
    this.board.budget = () => (this.budget.active ? this.budget.view() : undefined);
    registerHandlers(this);
  }

  /** Sets the outcomes a rerun may reuse; progress names the run they came from. */
  applyReuse(input: Reuse | undefined): void {
    if (!input) return;
    this.reuse = new RunReuse(input);
    this.board.rerunOf = input.fromWorkflowId;
  }

  /**
   * Adds an allow for the rest of the run (./tool-grants); one granted
   * already is not added twice. A partition child tells its parent of a new one.
   */
  grantTool(grant: unknown): void {
    if (!this.toolGrants.add(grant)) return;
    const { workflowId, parent } = workflowInfo();
    if (parent && workflowId.startsWith(`${parent.workflowId}/${PARTITION}`)) {
      void getExternalWorkflowHandle(parent.workflowId)
        .signal(toolGrantSignal, grant as ToolGrant)
        .catch(() => undefined);
    }
  }

  /** What a child workflow holding a slice of this run needs of it: what it may reuse, the tool calls allowed so far. */
  forChildren(): { reuse?: Reuse; toolGrants?: ToolGrant[] } {
    return {
      ...(this.reuse ? { reuse: this.reuse.input } : {}),
      ...(this.toolGrants.count > 0 ? { toolGrants: this.toolGrants.all() } : {}),
    };
  }

  /** The worker executor's self-description, read once per execution by a local activity so replay sees the recorded value. */
  executorInfo(): Promise<ExecutorInfo> {
    return (this.info ??= executorInfo().then((info) => (this.known = info)));
  }

  /** Whether the worker's steps read messages: undefined until {@link executorInfo} has answered. */
  get acceptsMessages(): boolean | undefined {
    return this.known && this.known.messages === true;
  }

  /** The explicit limit, else the executor's concurrency hint. */
  async limit(concurrency: number | undefined): Promise<number> {
    const info = await this.executorInfo();
    return clampLimit(concurrency ?? info.concurrencyHint);
  }

  /** A fresh child workflow id prefix under `workflowId`, so two big calls in one workflow never collide. */
  childIdPrefix(workflowId: string, kind: string): string {
    this.childGroups += 1;
    return `${workflowId}/${kind}${this.childGroups}`;
  }
}

export function createRunContext(): RunContext {
  return new RunContext();
}

/** Every query, Update and signal of a run, bound to `context`. */
function registerHandlers(context: RunContext): void {
  const { board, controls, approvals, budget } = context;
  setHandler(progressQuery, () => board.snapshot());
  setHandler(pauseUpdate, () => controls.set({ paused: true }));
  setHandler(resumeUpdate, () => controls.set({ paused: false }));
  setHandler(steerPartitionSignal, (state) => void controls.set(state));
  setHandler(setConcurrencyUpdate, ({ limit }) => controls.set({ concurrency: limit }), {
    validator: (arg) => {
      const limit = (arg as { limit?: unknown } | undefined)?.limit;
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
        throw new Error(`setConcurrency needs { "limit": <a whole number ≥ 1> }, got ${JSON.stringify(arg)}`);
      }
    },
  });
  setHandler(
    cancelStepUpdate,
    ({ taskId }) => {
      const was = board.latest(taskId)?.status === 'running' ? 'running' : 'pending';
      controls.cancel(taskId);
      return { taskId, was };
    },
    {
      validator: (arg) => {
        const taskId = (arg as { taskId?: unknown } | undefined)?.taskId;
        if (typeof taskId !== 'string' || taskId === '') {
          throw new Error(`cancelStep needs { "taskId": "<step>" }, got ${JSON.stringify(arg)}`);
        }
        const entry = board.latest(taskId);
        if (!entry) throw new Error(`no step "${taskId}" in this run`);
        if (entry.status !== 'pending' && entry.status !== 'running') {
          throw new Error(`step "${taskId}" is ${entry.status}, not pending or running; nothing to cancel`);
        }
        if (controls.cancelledBeforeStart(taskId)) throw new Error(`step "${taskId}" is already cancelled`);
      },
    },
  );
  for (const [update, approved] of [
    [approveUpdate, true],
    [rejectUpdate, false],
  ] as const) {
    setHandler(
      update,
      (decision) => {
        approvals.decide(decision, approved);
        return { taskId: decision.taskId, decided: approved ? 'approved' : 'rejected' };
      },
      {
        validator: (decision) => {
          const refusal = approvals.refusal(decision, approved);
          if (refusal) throw new Error(refusal);
        },
      },
    );
  }
  setHandler(waitingPromptQuery, (taskId) => approvals.promptOf(taskId));
  setHandler(waitingToolCallQuery, (taskId) => approvals.toolCallOf(taskId));
  setHandler(
    answerUpdate,
    ({ taskId, text }) => {
      approvals.answer(taskId, text);
      return { taskId, answered: true as const };
    },
    {
      validator: (input) => {
        const refusal = approvals.answerRefusal(input);
        if (refusal) throw new Error(refusal);
      },
    },
  );
  setHandler(messageUpdate, (input) => ({ taskId: input.taskId, seq: context.messages.add(input) }), {
    validator: (input) => {
      const refusal = context.messages.refusal(input, context.acceptsMessages);
      if (refusal) throw new Error(refusal);
    },
  });
  setHandler(toolGrantSignal, (grant) => context.grantTool(grant));
  setHandler(stepMessagesQuery, ({ taskId, after }) => context.messages.after(taskId, after));
  setHandler(
    setBudgetUpdate,
    (limits: Budget) => {
      budget.apply(BudgetSchema.parse(limits));
      return budget.view();
    },
    {
      validator: (limits) => {
        const parsed = BudgetSchema.safeParse(limits);
        if (!parsed.success) throw new Error(`setBudget: ${describeZodError(parsed.error)}`);
        if (Object.keys(parsed.data).length === 0) {
          throw new Error('setBudget needs at least one of maxTokens, maxSteps, maxCostUsd');
        }
      },
    },
  );
}
